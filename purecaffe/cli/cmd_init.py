"""`purecaffe init NET.prototxt -o random.caffemodel [--seed N]`: Caffe-shaped, filler-filled weights."""
from __future__ import annotations

import argparse

from purecaffe.cli.shapes_arg import parse_input_shapes
from purecaffe.manual import init_weights


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "init", help="make a random-init caffemodel from a prototxt (no Caffe needed)",
        description="Write a caffemodel with every parameter blob shaped as Caffe allocates it and filled "
                    "by the layer's declared filler (or Caffe's default for the layer type).")
    parser.add_argument("prototxt", help="the network definition")
    parser.add_argument("-o", "--output", required=True, metavar="CAFFEMODEL", help="where to write the weights")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0); same seed, same file")
    parser.add_argument("--input-shape", action="append", default=[], metavar="NAME=D,D,...",
                        help="override a declared input shape (repeatable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    weights = init_weights(args.prototxt, args.output, seed=args.seed,
                           input_shapes=parse_input_shapes(args.input_shape) or None)
    count = sum(blob.size for blobs in weights.values() for blob in blobs)
    print(f"wrote {args.output}: {len(weights)} layers, {count:,} parameters (seed {args.seed})")
    return 0
