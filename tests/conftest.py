"""Shared pytest set-up: helpers beside the tests import by name, and the judges' session fixtures.

`real_caffe_backend` (tests/caffe_backend.py), `rknn_venv`, `tpumlir_venv` and `mnn_venv`
(tests/venv_judges.py) build or find their judge once per session; each skips locally with the
reason when its judge cannot be had, and fails under CI=true.  Under CI=true no test is skipped at
all (tests/ci_no_skip.py).
"""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from caffe_backend import Backend, get_real_caffe_backend  # noqa: E402
from ci_no_skip import pytest_make_collect_report, pytest_runtest_makereport  # noqa: E402,F401 - hooks
from venv_judges import get_mnn_venv, get_rknn_venv, get_tpumlir_venv, judge_children  # noqa: E402
from purecaffe.judgejob import RunnerChildren  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def venv_judge_children() -> Iterator[RunnerChildren | None]:
    """One persistent child per judge venv for the session (tests/venv_judges.py)."""
    with judge_children() as children:
        yield children


@pytest.fixture(scope="session")
def real_caffe_backend() -> Backend:
    """A working real-Caffe backend (container or Debian rootfs)."""
    return get_real_caffe_backend()


@pytest.fixture(scope="session")
def rknn_venv() -> Path:
    """A ready RKNN-Toolkit2 venv for `run_rknn(..., venv=rknn_venv)` and `verify(..., backend="rknn")`."""
    return get_rknn_venv()


@pytest.fixture(scope="session")
def tpumlir_venv() -> Path:
    """A ready tpu-mlir venv for `run_tpumlir(..., venv=tpumlir_venv)` and `verify(..., backend="tpu-mlir")`."""
    return get_tpumlir_venv()


@pytest.fixture(scope="session")
def mnn_venv() -> Path:
    """A ready MNN venv for `run_mnn(..., venv=mnn_venv)` and `verify(..., backend="mnn")`."""
    return get_mnn_venv()
