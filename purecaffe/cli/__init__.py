"""The `purecaffe` command line: a thin layer over the public Python API.

Each subcommand lives in its own module `purecaffe.cli.cmd_<name>` exposing
`register(subparsers) -> None` (adds its parser and sets `func`) and a
`run(args) -> int`.  `COMMANDS` lists them in the order `--help` shows.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from purecaffe.errors import ConverterBugError, PurecaffeError

COMMANDS: tuple[str, ...] = (
    "inspect",
    "convert",
    "targets",
    "lint",
    "verify",
    "verify-caffe",
    "caffe-rootfs",
    "rknn-venv",
    "tpu-mlir-venv",
    "mnn-venv",
    "caffe-image",
    "init", "fill",
)

log = logging.getLogger("purecaffe")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="purecaffe",
        description="Convert PyTorch models to Caffe and prove the result is the same network.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of a purecaffe bug")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"purecaffe.cli.cmd_{name.replace('-', '_')}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # torch.export's own pytree code trips this deprecation inside torch; it says nothing about the user's model.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
    try:
        return int(args.func(args) or 0)
    except PurecaffeError as error:
        print(f"purecaffe {args.command}: error: {error.one_line()}", file=sys.stderr)
        return error.exit_status
    except ConverterBugError as bug:
        print(f"purecaffe {args.command}: {bug.one_line()}", file=sys.stderr)
        if args.debug:
            traceback.print_exception(bug)
        else:
            print("purecaffe: rerun with --debug for the full traceback", file=sys.stderr)
        return bug.exit_status
    except BrokenPipeError:
        # The reader closed the pipe (`purecaffe convert --list-outputs ... | head`): stop quietly, and
        # point stdout at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("purecaffe: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
