"""The tpu-mlir judge's own virtual environment (Python 3.10), built once and cached (`purecaffe.judgevenv`).

tpu-mlir 1.30.2's wheel wants Python >= 3.10, < 3.11 and pins numpy 1.24, protobuf 3.20 and
opencv 4.8, so it gets a 3.10 venv of its own (docs: judges.md, tpu-mlir section):

    python3.10 -m venv V                                  # found by `find_python` (pyenv, PATH, $PURECAFFE_PYTHON310)
    V/bin/python -m pip install tpu_mlir==1.30.2          # with the dependencies it pins
    V/bin/python -m pip install six==1.16.0 onnx==1.14.1 onnxruntime==1.16.3 psutil   # imported, not declared
    move tpu_mlir/lib/third_party/{libc.so.6,libm.so.6,libpthread.so.0} to V/glibc-moved-aside/

The last step: tpu-mlir puts `lib/third_party` on LD_LIBRARY_PATH for its tools, and its bundled
Ubuntu glibc there breaks the host's own libraries (`GLIBC_2.36 not found` from libexpat).  No torch:
its Caffe front end imports torch only to permute Deconvolution weights, and PyPI's torch for 3.10
is a CUDA build that does not import here (measured: `libcudnn.so.9: cannot open shared object
file`); the runner stands a numpy transpose in for that one call.  About 2 min and 2 GB.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from purecaffe import judgevenv
from purecaffe.judgevenv import VenvRecipe, find_python, pip_install, venv_python

TPU_MLIR_VERSION = "1.30.2"
PYTHON_VERSION = (3, 10)
PYTHON_VARIABLE = "PURECAFFE_PYTHON310"
UNDECLARED: tuple[str, ...] = ("six==1.16.0", "onnx==1.14.1", "onnxruntime==1.16.3", "psutil")
"""Imported by tpu-mlir's tools but not in its wheel's requirements."""
BUNDLED_GLIBC: tuple[str, ...] = ("libc.so.6", "libm.so.6", "libpthread.so.0")
MOVED_ASIDE = "glibc-moved-aside"


def package_dir(venv: str | os.PathLike[str]) -> Path:
    """`<venv>/lib/python3.10/site-packages/tpu_mlir`."""
    return Path(venv, "lib", f"python{PYTHON_VERSION[0]}.{PYTHON_VERSION[1]}", "site-packages", "tpu_mlir")


def install_commands(work: Path) -> list[list[str]]:
    python = venv_python(work)
    base = find_python(PYTHON_VERSION, variable=PYTHON_VARIABLE)
    return [
        [str(base), "-m", "venv", str(work)],
        [*pip_install(python), f"tpu_mlir=={TPU_MLIR_VERSION}"],
        [*pip_install(python), *UNDECLARED],
    ]


def move_glibc_aside(work: Path) -> None:
    aside = work / MOVED_ASIDE
    aside.mkdir(exist_ok=True)
    third_party = package_dir(work) / "lib" / "third_party"
    for name in BUNDLED_GLIBC:
        if (third_party / name).exists():
            shutil.move(str(third_party / name), str(aside / name))


def check_commands(work: Path) -> list[list[str]]:
    """tpu-mlir's package set-up and its MLIR bindings import (the runner's first steps)."""
    return [[str(venv_python(work)), "-c", "import tpu_mlir, pymlir, caffe"]]


def recipe() -> VenvRecipe:
    spec = {"tpu_mlir": TPU_MLIR_VERSION, "undeclared": list(UNDECLARED), "moved_aside": list(BUNDLED_GLIBC),
            "python": f"{PYTHON_VERSION[0]}.{PYTHON_VERSION[1]}"}
    return VenvRecipe(f"tpu-mlir {TPU_MLIR_VERSION}", f"tpumlir/tpu-mlir-{TPU_MLIR_VERSION}", spec,
                      install_commands, fixup=move_glibc_aside, check=check_commands)


def default_venv_dir() -> Path:
    """`<cache>/tpumlir/tpu-mlir-<version>-<12 hex digits of the recipe>`."""
    return recipe().default_dir()


def venv_ready(venv: str | os.PathLike[str]) -> bool:
    return judgevenv.venv_ready(venv, recipe())


def build_venv(venv: str | os.PathLike[str] | None = None, *, rebuild: bool = False) -> Path:
    """Build (or find) the tpu-mlir venv (about 2 minutes and 2 GB the first time)."""
    return judgevenv.build_venv(recipe(), venv, rebuild=rebuild)


__all__ = ["TPU_MLIR_VERSION", "build_venv", "default_venv_dir", "install_commands", "package_dir", "recipe",
           "venv_ready"]
