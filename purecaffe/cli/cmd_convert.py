"""`purecaffe convert package.module:factory --input-shape 1,3,224,224 [--weights CKPT] -o OUT`.

`--outputs A,B` ends the net at those module paths (or value names); `--list-outputs` prints where
it can be cut and writes nothing."""
from __future__ import annotations

import argparse

from purecaffe.errors import PurecaffeError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert", help="convert a PyTorch model to a Caffe prototxt + caffemodel",
        description="Convert a PyTorch model to Caffe: writes OUT.prototxt, OUT.caffemodel and "
                    "OUT.purecaffe.json (which Caffe blob holds which PyTorch tensor).  Nothing is "
                    "written when any op cannot be converted exactly; all such ops are listed.")
    parser.add_argument("model", metavar="MODULE:FACTORY",
                        help="a callable returning the torch.nn.Module, e.g. purecaffe.examples.tiny_resnet:tiny_resnet")
    parser.add_argument("--input-shape", action="append", required=True, metavar="D,D,...",
                        help="shape of an example input, e.g. 1,3,224,224 (once per model input, in order)")
    parser.add_argument("--weights", metavar="CKPT", help="a checkpoint (state_dict, or a dict holding one under "
                                                          "'state_dict'/'model'), loaded with weights_only=True")
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

    import torch

    from purecaffe.converter import convert, list_outputs
    from purecaffe.converter.cut import format_module_outputs
    from purecaffe.cli.shapes_arg import parse_shape
    from purecaffe.cli.model_factory import load_factory, load_weights_into

    shapes = [parse_shape(text) for text in args.input_shape]
    model = load_factory(args.model)
    if args.weights:
        load_weights_into(model, args.weights)
    model.eval()
    generator = torch.Generator().manual_seed(args.seed)
    inputs = tuple(torch.randn(*shape, generator=generator) for shape in shapes)
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
