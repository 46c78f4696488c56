"""`purecaffe tpu-mlir-venv [--dir DIR] [--rebuild]`: build (or find) the tpu-mlir venv `verify --backend tpu-mlir` runs in."""
from __future__ import annotations

import argparse

from purecaffe.cli.venv_command import register_venv_command
from purecaffe.tpumlir.venv import PYTHON_VARIABLE, TPU_MLIR_VERSION, UNDECLARED, recipe


def register(subparsers: argparse._SubParsersAction) -> None:
    register_venv_command(
        subparsers, "tpu-mlir-venv", recipe, backend="tpu-mlir",
        description=f"A Python 3.10 venv (the interpreter from ${PYTHON_VARIABLE}, pyenv or PATH) with "
                    f"tpu_mlir=={TPU_MLIR_VERSION} and its pins, plus {', '.join(UNDECLARED)} (imported, not "
                    "declared), its bundled glibc moved aside; about 2 GB.")
