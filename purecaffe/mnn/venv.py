"""The MNN judge's own virtual environment, built once and cached (`purecaffe.judgevenv`).

    python3 -m venv V
    V/bin/python -m pip install mnn==3.6.1       # its converter (`_tools`) and runtime (`_mnncengine`); numpy

Kept apart from purecaffe's environment like the other judges (it brings its own numpy; nothing of
it may change what purecaffe runs on).  The runner calls the converter's function, never the
`mnnconvert` console script, whose logger runs `pip install -U aliyun-log-python-sdk` and tries to
send usage data when imported.  About 15 s and 160 MB.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from purecaffe import judgevenv
from purecaffe.judgevenv import VenvRecipe, pip_install, venv_python

MNN_VERSION = "3.6.1"


def install_commands(work: Path) -> list[list[str]]:
    python = venv_python(work)
    return [
        [sys.executable, "-m", "venv", str(work)],
        [*pip_install(python), f"mnn=={MNN_VERSION}"],
    ]


def check_commands(work: Path) -> list[list[str]]:
    return [[str(venv_python(work)), "-c", "import MNN, _tools"]]


def recipe() -> VenvRecipe:
    spec = {"mnn": MNN_VERSION, "python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    return VenvRecipe(f"MNN {MNN_VERSION}", f"mnn/mnn-{MNN_VERSION}", spec, install_commands,
                      check=check_commands)


def default_venv_dir() -> Path:
    """`<cache>/mnn/mnn-<version>-<12 hex digits of the recipe>`."""
    return recipe().default_dir()


def venv_ready(venv: str | os.PathLike[str]) -> bool:
    return judgevenv.venv_ready(venv, recipe())


def build_venv(venv: str | os.PathLike[str] | None = None, *, rebuild: bool = False) -> Path:
    """Build (or find) the MNN venv (about 15 s the first time)."""
    return judgevenv.build_venv(recipe(), venv, rebuild=rebuild)


__all__ = ["MNN_VERSION", "build_venv", "default_venv_dir", "install_commands", "recipe", "venv_ready"]
