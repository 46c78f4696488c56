"""Getting a model for `convert` and `verify`: a `package.module:factory` spec, then optionally its weights.

Checkpoints are read by the one reader, `purecaffe.io.checkpoint` (the same as
`purecaffe fill`): `.pth`/`.pt` (weights-only), `.npz`, `.npy` dict or
`.safetensors`; `state_dict`/`model`/`model_state_dict` wrappers unwrapped and
`module.`/`_orig_mod.` prefixes stripped.
"""
from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import Any

import torch

from purecaffe.errors import PurecaffeError, ShapeError, first_line
from purecaffe.io.checkpoint import load_checkpoint

PathLike = str | os.PathLike[str]


def load_factory(spec: str) -> torch.nn.Module:
    """Import `package.module:factory` and call it with no arguments; a module instance is used as is."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise PurecaffeError(f"model {spec!r}: expected 'package.module:factory'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise PurecaffeError(f"model {spec!r}: cannot import {module_name}: {error}") from error
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise PurecaffeError(f"model {spec!r}: {module_name} has no attribute {attribute}")
        target = getattr(target, part)
    model = target
    if not isinstance(target, torch.nn.Module) and callable(target):
        try:
            model = target()
        except Exception as error:  # noqa: BLE001 - the user's factory may raise anything
            raise PurecaffeError(f"model {spec!r}: {attribute}() raised {type(error).__name__}: "
                                 f"{first_line(error)}") from error
    if not isinstance(model, torch.nn.Module):
        raise PurecaffeError(f"model {spec!r}: {attribute} did not give a torch.nn.Module "
                             f"(got {type(model).__name__})")
    return model


def load_weights_into(model: torch.nn.Module, path: PathLike) -> torch.nn.Module:
    """Load a checkpoint into `model`, strictly: any missing, unexpected or mis-shaped tensor is an error."""
    checkpoint = load_checkpoint(path)
    state = checkpoint.tensors
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k} {list(state[k].shape)} vs {list(v.shape)}" for k, v in expected.items()
                  if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = []
    if missing:
        problems.append(f"missing {_few(missing)}")
    if unexpected:
        problems.append(f"unexpected {_few(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatch {_few(mismatched)}")
    if problems:
        raise ShapeError(f"checkpoint does not match the model: {'; '.join(problems)}", path=path)
    with torch.no_grad():
        for key, value in expected.items():
            value.copy_(torch.from_numpy(state[key]).to(value.dtype))
    return model


def _few(items: Sequence[str], limit: int = 5) -> str:
    return ", ".join(items[:limit]) + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
