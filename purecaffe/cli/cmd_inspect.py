"""`purecaffe inspect FILE...`: a table (or JSON) of a prototxt and/or caffemodel."""
from __future__ import annotations

import argparse

from purecaffe.inspect import inspect_files


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect", help="show the layers, shapes and parameters of Caffe files",
                                   description="Show a prototxt and/or caffemodel: layer, type, "
                                               "bottoms -> tops, parameter shapes and counts.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="a .prototxt, a .caffemodel, or one of each")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--proto", metavar="FILE", help="parse with this caffe.proto (a vendor's) instead of "
                                                        "the bundled BVLC + fork-extensions one")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = inspect_files(args.files, proto=args.proto)
    print(report.to_json() if args.json else report.to_table())
    return 0
