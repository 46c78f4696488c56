"""`purecaffe fill NET.prototxt CHECKPOINT -o net.caffemodel`: a PyTorch checkpoint into your prototxt."""
from __future__ import annotations

import argparse
import sys

from purecaffe.cli.shapes_arg import parse_input_shapes
from purecaffe.errors import PurecaffeError
from purecaffe.manual import fill


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fill", help="put a PyTorch checkpoint's tensors into a hand-written prototxt's blobs",
        description="Match Caffe layers to checkpoint tensors (by mapping file, by name, then by order and "
                    "shape), write the caffemodel and report every blob's source.  Any shape mismatch, "
                    "missing blob or unused tensor is an error unless allowed; then nothing is written.")
    parser.add_argument("prototxt", help="the network definition")
    parser.add_argument("checkpoint", help=".pth/.pt state_dict, .npz, .npy (dict) or .safetensors")
    parser.add_argument("-o", "--output", required=True, metavar="CAFFEMODEL", help="where to write the weights")
    parser.add_argument("--map", dest="mapping", metavar="YAML",
                        help="YAML: 'LAYER: PREFIX' (the layer type picks the suffixes), or 'LAYER: [KEY, "
                             "{key: K, transform: T}, {keys: [K1, K2], transform: sum}, null, ...]' per Caffe blob "
                             "(null keeps the prototxt filler); transforms: transpose, lstm_gates, sum, "
                             "sum_lstm_gates")
    parser.add_argument("--allow-unused", action="append", default=[], metavar="PATTERN",
                        help="checkpoint keys (fnmatch pattern) that may stay unused (repeatable)")
    parser.add_argument("--allow-missing", action="append", default=[], metavar="LAYER",
                        help="Caffe layers (fnmatch pattern) that may keep their prototxt filler (repeatable)")
    parser.add_argument("--no-order", action="store_true", help="match by mapping and name only, never by order")
    parser.add_argument("--seed", type=int, default=0, help="seed for blobs left to their filler (default 0)")
    parser.add_argument("--input-shape", action="append", default=[], metavar="NAME=D,D,...",
                        help="override a declared input shape (repeatable)")
    parser.add_argument("--target", metavar="NAME",
                        help="check the prototxt against this target first (`purecaffe lint`) and write nothing "
                             "if it cannot take it; default: the target in the sidecar beside the prototxt, if any")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        result = fill(args.prototxt, args.checkpoint, args.output, args.mapping,
                      allow_unused=args.allow_unused, allow_missing=args.allow_missing,
                      by_order=not args.no_order, seed=args.seed,
                      input_shapes=parse_input_shapes(args.input_shape) or None, target=args.target)
    except PurecaffeError as error:
        report = getattr(error, "report", None)
        if report is not None:  # the full picture on stdout; the one-line error follows on stderr
            print(report.to_json() if args.json else report.to_table())
            sys.stdout.flush()
        raise
    print(result.to_json() if args.json else result.to_table())
    return 0
