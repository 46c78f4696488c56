"""`purecaffe rknn-venv [--dir DIR] [--rebuild]`: build (or find) the RKNN-Toolkit2 venv `verify --backend rknn` runs in."""
from __future__ import annotations

import argparse

from purecaffe.cli.venv_command import register_venv_command
from purecaffe.rknn.venv import PINNED_DEPENDENCIES, RKNN_VERSION, TORCH_VERSION, recipe


def register(subparsers: argparse._SubParsersAction) -> None:
    register_venv_command(
        subparsers, "rknn-venv", recipe, backend="rknn",
        description=f"rknn-toolkit2=={RKNN_VERSION} (no deps), its pinned run-time needs "
                    f"({', '.join(PINNED_DEPENDENCIES)}) and the CPU torch=={TORCH_VERSION}; kept apart from "
                    "purecaffe's own environment because RKNN pins old numpy and protobuf.")
