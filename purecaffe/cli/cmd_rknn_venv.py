"""`purecaffe rknn-venv [--dir DIR] [--rebuild]`: build (or find) the RKNN-Toolkit2 venv `verify --backend rknn` runs in."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from purecaffe.rknn.venv import PINNED_DEPENDENCIES, RKNN_VERSION, TORCH_VERSION, build_venv, default_venv_dir, \
    read_stamp, venv_ready


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rknn-venv", help=f"build the cached venv with RKNN-Toolkit2 {RKNN_VERSION} (the rknn judge)",
        description=f"Build (once, cached) a virtual environment with rknn-toolkit2=={RKNN_VERSION} (no deps), its "
                    f"pinned run-time needs ({', '.join(PINNED_DEPENDENCIES)}) and the CPU torch=={TORCH_VERSION}, "
                    "for `verify --backend rknn`. Kept apart from purecaffe's own environment because RKNN pins "
                    "old numpy and protobuf. Prints the directory.")
    parser.add_argument("--dir", metavar="DIR", help=f"where (default: {default_venv_dir()})")
    parser.add_argument("--rebuild", action="store_true", help="build again even if a finished venv exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    venv = default_venv_dir() if args.dir is None else Path(args.dir)
    if not args.rebuild and venv_ready(venv):
        print(venv)
        return 0
    print(f"building the RKNN-Toolkit2 {RKNN_VERSION} venv in {venv} (pip, a few minutes) ...", file=sys.stderr)
    started = time.monotonic()
    built = build_venv(venv, rebuild=args.rebuild)
    stamp = read_stamp(built) or {}
    print(f"done in {time.monotonic() - started:.0f} s (pip: {stamp.get('seconds', '?')} s)", file=sys.stderr)
    print(built)
    return 0
