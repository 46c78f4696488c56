"""`purecaffe mnn-venv [--dir DIR] [--rebuild]`: build (or find) the MNN venv `verify --backend mnn` runs in."""
from __future__ import annotations

import argparse

from purecaffe.cli.venv_command import register_venv_command
from purecaffe.mnn.venv import MNN_VERSION, recipe


def register(subparsers: argparse._SubParsersAction) -> None:
    register_venv_command(subparsers, "mnn-venv", recipe, backend="mnn",
                          description=f"mnn=={MNN_VERSION} (its converter and CPU runtime) and its numpy.")
