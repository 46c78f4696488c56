"""`purecaffe targets`: each target, what it emits and what proves it."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("targets", help="list the Caffe targets, their layer sets and judges",
                                   description="List each target toolchain: what it is, the layer types "
                                               "purecaffe writes for it, and the real consumer that proves it.")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from purecaffe.targets import TARGETS

    for target in TARGETS.values():
        rounding = "Pooling round_mode" if target.pooling_round_mode else "Pooling always ceil (floor made exact)"
        inputs = "Input layers" if target.declare_inputs == "layer" else "net input: + input_shape"
        print(f"{target.name}: {target.summary}")
        print(f"  judge: {target.judge}")
        print(f"  writes: {', '.join(sorted(target.layers))}")
        print(f"  {rounding}; {inputs}; schema {target.schema}")
    return 0
