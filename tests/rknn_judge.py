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
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from corpus import in_ci
from purecaffe.errors import BackendUnavailableError
from purecaffe.rknn import build_venv

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VenvResolution:
    venv: Path | None
    error: str | None
    seconds: float


_resolved: list[VenvResolution] = []  # one resolution per test process (a test-only cache)


def get_rknn_venv() -> Path:
    """The ready venv (cached per process); skips, or fails under CI=true, when it cannot be built."""
    if not _resolved:
        started = time.monotonic()
        venv: Path | None = None
        error: str | None = None
        try:
            venv = build_venv()
        except BackendUnavailableError as unavailable:
            error = unavailable.one_line()
        _resolved.append(VenvResolution(venv, error, time.monotonic() - started))
        log.warning("RKNN venv: %s (%.1f s to get ready)", venv or error, _resolved[0].seconds)
    resolution = _resolved[0]
    if resolution.venv is None:
        message = f"the RKNN-Toolkit2 venv cannot be built here: {resolution.error}"
        if in_ci():
            pytest.fail(message + " -- required under CI=true")
        pytest.skip(message)
    return resolution.venv

