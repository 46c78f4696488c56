"""`purecaffe convert MODEL --input-shape 1,3,224,224 [--model-kwargs JSON] [--weights CKPT] -o OUT`.

MODEL is `package.module:factory`, `module:factory`, `path/to/file.py:factory` or `model.pt2`
(`purecaffe.converter.model_spec`).  `--outputs A,B` ends the net at those module paths (or value
names); `--list-outputs` prints where it can be cut and writes nothing."""
from __future__ import annotations

import argparse

from purecaffe.cli.model_factory import MODEL_HELP, add_model_arguments
from purecaffe.errors import PurecaffeError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert", help="convert a PyTorch model to a Caffe prototxt + caffemodel",
        description="Convert a PyTorch model to Caffe: writes OUT.prototxt, OUT.caffemodel and "
                    "OUT.purecaffe.json (which Caffe blob holds which PyTorch tensor).  Nothing is "
                    "written when any op cannot be converted exactly; all such ops are listed.")
    parser.add_argument("model", metavar="MODEL", help=f"{MODEL_HELP}; e.g. purecaffe.examples.tiny_resnet:tiny_resnet")
    parser.add_argument("--input-shape", action="append", metavar="D,D,...",
                        help="shape of an example input, e.g. 1,3,224,224 (once per model input, in order; a .pt2 "
                             "program defaults to the shapes it was exported for)")
    add_model_arguments(parser)
    parser.add_argument("-o", "--output", metavar="OUT", help="output path without suffix (required unless "
                                                              "--list-outputs)")
    parser.add_argument("--name", help="the net's name (default: the output file's name)")
    parser.add_argument("--input-name", action="append", metavar="NAME",
                        help="input blob name (once per input; default 'data' for a single input)")
    parser.add_argument("--output-name", action="append", metavar="NAME", help="output blob name (once per output)")
    parser.add_argument("--target", default="bvlc", metavar="NAME",
                        help="the toolchain that reads the files: bvlc (default), caffe1, nnie, rknn, opencv "
                             "(`purecaffe targets` lists them)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random example inputs (default 0)")
    parser.add_argument("--outputs", metavar="A,B,...",
                        help="end the net at these module paths (model.22.cv2.0; blocks.0#1 for the second call of "
                             "a module called twice) or captured value names, in this order; what only feeds later "
                             "computation is dropped and reported")
    parser.add_argument("--list-outputs", action="store_true",
                        help="print every module call with its output values and shapes (where --outputs can cut) "
                             "and write nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from purecaffe.cli.model_factory import model_from_args, random_inputs
    from purecaffe.converter import convert, list_outputs
    from purecaffe.converter.cut import format_module_outputs

    model = model_from_args(args)
    inputs = random_inputs(args, model)
    if inputs is None:
        raise PurecaffeError("give --input-shape (once per model input, in order)")
    if args.list_outputs:
        print(format_module_outputs(list_outputs(model, inputs)))
        return 0
    if not args.output:
        raise PurecaffeError("give -o OUT (the output path without suffix), or --list-outputs")
    outputs = None
    if args.outputs is not None:
        outputs = [spec.strip() for spec in args.outputs.split(",") if spec.strip()]
        if not outputs:
            raise PurecaffeError("--outputs: give module paths or value names, separated by commas")
    name = args.name or os.path.basename(args.output.rstrip("/")) or "net"
    net = convert(model, inputs, name=name, input_names=args.input_name, output_names=args.output_name,
                  target=args.target, outputs=outputs)
    files = net.save(args.output)
    if net.cut is not None:
        print(net.cut.describe())
    shapes_text = ", ".join(f"{n}{list(s)}" for n, s in net.input_shapes.items())
    outputs_text = ", ".join(f"{n}{list(s)}" for n, s in net.output_shapes.items())
    print(f"wrote {files.prototxt}, {files.caffemodel}, {files.sidecar}: {len(net.net.layer)} layers for {net.target.name}, "
          f"inputs {shapes_text}, outputs {outputs_text}")
    return 0
