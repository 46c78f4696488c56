"""The judges that live in venvs of their own, for any test: session fixtures `rknn_venv`, `tpumlir_venv`, `mnn_venv`
(defined in tests/conftest.py).

For the whole session every judge that runs in a venv goes through `judge_children()`: one persistent
child per venv (`purecaffe.judgejob.persistent_runners`), so a session imports RKNN-Toolkit2, tpu-mlir
and MNN once each, not once a net.

    @pytest.mark.mnn
    def test_my_net_on_mnn(mnn_venv, tmp_path):
        run = run_mnn(prototxt, caffemodel, {"data": x}, venv=mnn_venv)

Each venv is built (or found) once per process, in purecaffe's cache dir (under CI, `.ci/run`
points it into the clone, so CI proves the install: RKNN ~1.5-3 min, tpu-mlir ~2-4 min, MNN
~20 s).  When it cannot be built here the test is skipped with the reason -- or FAILS under
CI=true, where every judge is required.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from judges import Judge
from purecaffe.judgejob import RunnerChildren, persistent_runners
from purecaffe.mnn import build_venv as build_mnn_venv
from purecaffe.rknn import build_venv as build_rknn_venv
from purecaffe.tpumlir import build_venv as build_tpumlir_venv

RKNN_VENV: Judge[Path] = Judge("RKNN venv", "the RKNN-Toolkit2 venv cannot be built here", lambda: build_rknn_venv())
TPUMLIR_VENV: Judge[Path] = Judge("tpu-mlir venv", "the tpu-mlir venv cannot be built here",
                                  lambda: build_tpumlir_venv())
MNN_VENV: Judge[Path] = Judge("MNN venv", "the MNN venv cannot be built here", lambda: build_mnn_venv())


def get_rknn_venv() -> Path:
    """The ready venv (cached per process); skips, or fails under CI=true, when it cannot be built."""
    return RKNN_VENV.get()


def get_tpumlir_venv() -> Path:
    return TPUMLIR_VENV.get()


def get_mnn_venv() -> Path:
    return MNN_VENV.get()


@contextmanager
def judge_children() -> Iterator[RunnerChildren | None]:
    """The session's persistent judge children (conftest's autouse session fixture enters it)."""
    with persistent_runners() as children:
        yield children
