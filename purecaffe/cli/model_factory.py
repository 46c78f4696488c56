"""The model arguments `convert` and `verify` share: MODEL, `--model-kwargs`, `--weights`, `--input-shape`.

The model itself is loaded by `purecaffe.converter.model_spec` (`purecaffe.load_model`), so the
Python API takes the same specs.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from purecaffe.errors import PurecaffeError

MODEL_HELP = ("package.module:factory, module:factory (a module.py in the working directory), "
              "path/to/file.py:factory, or a saved torch.export program model.pt2")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-kwargs", metavar="JSON",
                        help="arguments for the factory, a JSON object: '{\"num_classes\": 10}'")
    parser.add_argument("--weights", metavar="CKPT",
                        help="a checkpoint (state_dict, or a dict holding one under 'state_dict'/'model'), loaded "
                             "with weights_only=True (.pth/.pt, .npz, .npy, .safetensors)")


def parse_model_kwargs(text: str | None) -> dict[str, Any] | None:
    """`--model-kwargs`: a JSON object; anything else is one line naming what is wrong."""
    if text is None:
        return None
    example = "'{\"num_classes\": 10}'"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise PurecaffeError(f"--model-kwargs {text!r}: not JSON ({error}); give an object such as {example}") \
            from None
    if not isinstance(value, dict):
        raise PurecaffeError(f"--model-kwargs {text!r}: expected a JSON object such as {example}, got a "
                             f"{type(value).__name__}")
    return value


def model_from_args(args: argparse.Namespace) -> Any:
    from purecaffe.converter.model_spec import load_model

    return load_model(args.model, kwargs=parse_model_kwargs(args.model_kwargs), weights=args.weights)


def random_inputs(args: argparse.Namespace, model: Any) -> tuple[Any, ...] | None:
    """Seeded standard-normal inputs of the `--input-shape`s; for a saved program without them, of the
    shapes it was exported for.  None when neither says."""
    import torch

    from purecaffe.cli.shapes_arg import parse_shape
    from purecaffe.converter.model_spec import program_input_shapes

    if args.input_shape:
        shapes = [parse_shape(text) for text in args.input_shape]
    elif isinstance(model, torch.export.ExportedProgram):
        shapes = program_input_shapes(model)
        if shapes is None:
            raise PurecaffeError(f"{args.model}: the program has dynamic or non-tensor inputs; give --input-shape")
    else:
        return None
    generator = torch.Generator().manual_seed(args.seed)
    return tuple(torch.randn(*shape, generator=generator) for shape in shapes)
