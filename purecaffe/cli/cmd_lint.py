"""`purecaffe lint NET.prototxt --target T`: what the target cannot take, with line numbers."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lint", help="list the layers and fields of a prototxt that a target cannot take",
        description="Check a (hand-written) prototxt against a target's rules: every layer type, field and "
                    "limit the toolchain would reject or read differently, with the line, the rule and its "
                    "source.  Exit status 1 when anything is found, 2 for a file that cannot be read.")
    parser.add_argument("prototxt", metavar="NET.prototxt")
    parser.add_argument("--target", required=True, metavar="NAME", help="bvlc, caffe1, nnie, rknn or opencv")
    parser.add_argument("--input-shape", action="append", metavar="NAME=D,D,...",
                        help="shape of a net input whose prototxt declares none (repeatable)")
    parser.add_argument("--proto", metavar="CAFFE.proto",
                        help="the toolchain's own caffe.proto (`purecaffe targets` names it): also report every "
                             "field it does not spell")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from purecaffe.cli.shapes_arg import parse_input_shapes
    from purecaffe.targets import get_target
    from purecaffe.targets.lint import lint_file

    target = get_target(args.target)
    shapes = parse_input_shapes(args.input_shape) if args.input_shape else None
    found = lint_file(args.prototxt, target, input_shapes=shapes, proto=args.proto)
    for item in found:
        print(item.describe(args.prototxt))
    print(f"{args.prototxt}: {len(found)} finding{'s' if len(found) != 1 else ''} for {target.name}")
    return 1 if found else 0
