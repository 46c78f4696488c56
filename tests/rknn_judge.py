"""The RKNN-Toolkit2 judge for any test: the session fixture `rknn_venv` (defined in tests/conftest.py).


    @pytest.mark.rknn
    def test_my_net_on_rknn(rknn_venv, tmp_path):
        run = run_rknn(prototxt, caffemodel, {"data": x}, venv=rknn_venv)

The venv is built (or found) once per process, in purecaffe's cache dir (under
CI, `.ci/run` points it into the clone, so CI proves the install: ~1.5-3 min).
When it cannot be built here the test is skipped with the reason -- or FAILS
under CI=true, where the RKNN judge is required.  Each model then takes a few seconds.
"""
from __future__ import annotations

import logging
from pathlib import Path


from judges import Judge
from purecaffe.rknn import build_venv

log = logging.getLogger(__name__)


RKNN_VENV: Judge[Path] = Judge("RKNN venv", "the RKNN-Toolkit2 venv cannot be built here", lambda: build_venv())


def get_rknn_venv() -> Path:
    """The ready venv (cached per process); skips, or fails under CI=true, when it cannot be built."""
    return RKNN_VENV.get()
