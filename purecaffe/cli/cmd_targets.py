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
        inputs = "Input layers" if target.declare_inputs == "layer" else "net input: + input_shape"
        schema = target.schema or "not public"
        tolerance = target.judge.tolerance
        print(f"{target.name}: {target.summary}")
        print(f"  judge: --backend {target.judge.backend}, {target.judge.summary} ({tolerance.name}: "
              f"{tolerance.rtol:g} x max|torch|" + (f", cosine >= {tolerance.min_cosine:g}" if tolerance.min_cosine
                                                    else "") + ")")
        print(f"  writes: {', '.join(sorted(target.layers))}")
        for limit in target.limits:
            print(f"  limit {limit.rule} ({', '.join(sorted(limit.layer_types))}): {limit.source}")
        print(f"  {inputs}; schema {schema}")
    return 0
