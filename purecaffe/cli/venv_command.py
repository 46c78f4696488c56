"""What the judge-venv commands share: `purecaffe <judge>-venv [--dir DIR] [--rebuild]` prints the ready venv."""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from purecaffe import judgevenv
from purecaffe.judgevenv import VenvRecipe


def register_venv_command(subparsers: argparse._SubParsersAction, name: str, recipe: Callable[[], VenvRecipe], *,
                          backend: str, description: str) -> None:
    made = recipe()
    parser = subparsers.add_parser(
        name, help=f"build the cached venv with {made.title} (the {backend} judge)",
        description=f"Build (once, cached) a virtual environment with {made.title} for `verify --backend {backend}`. "
                    f"{description} Prints the directory.")
    parser.add_argument("--dir", metavar="DIR", help=f"where (default: {made.default_dir()})")
    parser.add_argument("--rebuild", action="store_true", help="build again even if a finished venv exists")
    parser.set_defaults(func=lambda args: run(args, recipe()))


def run(args: argparse.Namespace, recipe: VenvRecipe) -> int:
    venv = recipe.default_dir() if args.dir is None else Path(args.dir)
    if not args.rebuild and judgevenv.venv_ready(venv, recipe):
        print(venv)
        return 0
    print(f"building the {recipe.title} venv in {venv} (pip, a few minutes) ...", file=sys.stderr)
    started = time.monotonic()
    built = judgevenv.build_venv(recipe, venv, rebuild=args.rebuild)
    stamp = judgevenv.read_stamp(built) or {}
    print(f"done in {time.monotonic() - started:.0f} s (install: {stamp.get('seconds', '?')} s)", file=sys.stderr)
    print(built)
    return 0
