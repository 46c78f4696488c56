"""The RKNN-Toolkit2 judge's own virtual environment, built once and cached (`purecaffe.judgevenv`).

RKNN-Toolkit2 pins numpy<=1.26.4, protobuf<=4.25.4 and a torch<=2.4 whose wheel is
a CUDA build, none of which may touch purecaffe's own environment.  So it lives in
a venv of its own, installed by this recipe (docs: judges.md, RKNN section):

    python3 -m venv V
    V/bin/python -m pip install --no-deps rknn-toolkit2==2.5.0
    V/bin/python -m pip install <PINNED_DEPENDENCIES>
    V/bin/python -m pip install --no-deps torch==2.13.0      # the CPU wheel; its Caffe path works with it

into `<cache>/rknn/toolkit2-2.5.0-<12 hex digits of the recipe>`.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from purecaffe import judgevenv
from purecaffe.judgevenv import VenvRecipe, pip_install, read_stamp, venv_python

RKNN_VERSION = "2.5.0"
TORCH_VERSION = "2.13.0"
PINNED_DEPENDENCIES: tuple[str, ...] = (
    "numpy<=1.26.4", "protobuf<=4.25.4,>=4.21.6", "onnx>=1.16.1,<1.19", "onnxruntime", "scipy", "psutil",
    "ruamel.yaml", "tqdm", "opencv-python-headless<4.11", "fast-histogram", "sympy", "networkx", "jinja2",
    "filelock", "fsspec", "typing-extensions",
)
"""rknn-toolkit2's run-time needs, minus its torch pin (installed without dependencies)."""


def install_commands(work: Path) -> list[list[str]]:
    """The exact commands of the recipe, in order."""
    python = venv_python(work)
    return [
        [sys.executable, "-m", "venv", str(work)],
        [*pip_install(python), "--no-deps", f"rknn-toolkit2=={RKNN_VERSION}"],
        [*pip_install(python), *PINNED_DEPENDENCIES],
        [*pip_install(python), "--no-deps", f"torch=={TORCH_VERSION}"],
        [str(python), "-c", "import rknn.api"],
    ]


def recipe() -> VenvRecipe:
    spec = {"rknn_toolkit2": RKNN_VERSION, "dependencies": list(PINNED_DEPENDENCIES), "torch": TORCH_VERSION,
            "python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    return VenvRecipe(f"RKNN-Toolkit2 {RKNN_VERSION}", f"rknn/toolkit2-{RKNN_VERSION}", spec, install_commands)


def default_venv_dir() -> Path:
    """`<cache>/rknn/toolkit2-<version>-<12 hex digits of the recipe>`."""
    return recipe().default_dir()


def venv_ready(venv: str | os.PathLike[str]) -> bool:
    return judgevenv.venv_ready(venv, recipe())


def build_venv(venv: str | os.PathLike[str] | None = None, *, rebuild: bool = False) -> Path:
    """Build (or find) the RKNN-Toolkit2 venv (a few minutes the first time: about 1.5 GB, torch included)."""
    return judgevenv.build_venv(recipe(), venv, rebuild=rebuild)


__all__ = ["PINNED_DEPENDENCIES", "RKNN_VERSION", "TORCH_VERSION", "build_venv", "default_venv_dir",
           "install_commands", "read_stamp", "recipe", "venv_python", "venv_ready"]
