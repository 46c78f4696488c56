"""A judge (real Caffe, the RKNN venv, ...) resolved once per test process.

`Judge(name, unavailable, resolve, describe).get()` calls `resolve()` the first time, then always returns
its result; when it raised `BackendUnavailableError`, every test that needs the judge is
skipped locally with the reason, and FAILS under CI=true, where every judge is required.
`opencv()` gives OpenCV (4.x, with its Caffe importer) the same way.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Generic, TypeVar

from corpus import unavailable
from purecaffe.errors import BackendUnavailableError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Judge(Generic[T]):
    name: str                                  # "real Caffe backend", for the log
    unavailable: str                           # "real Caffe is not available", before the reason
    resolve: Callable[[], T]
    describe: Callable[[T], str] = str
    resolution: tuple[T | None, str | None, float] | None = field(default=None, repr=False)

    def get(self) -> T:
        if self.resolution is None:
            started = time.monotonic()
            value: T | None = None
            error: str | None = None
            try:
                value = self.resolve()
            except BackendUnavailableError as why:
                error = why.one_line()
            self.resolution = (value, error, time.monotonic() - started)
            log.warning("%s: %s (%.1f s to get ready)", self.name,
                        self.describe(value) if value is not None else error, self.resolution[2])
            _log_stage(f"judge ready: {self.name}{'' if value is not None else ' (unavailable)'}",
                       self.resolution[2])
        value, error, _ = self.resolution
        if value is None:
            unavailable(f"{self.unavailable}: {error}")
        return value


def _log_stage(name: str, seconds: float) -> None:
    """A line for CI's seconds per stage (scripts/test.sh sets PURECAFFE_STAGES_LOG), when it is set."""
    path = os.environ.get("PURECAFFE_STAGES_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(f"stage {name}: {seconds:.0f} s\n")


def opencv() -> ModuleType:
    """`cv2` with its Caffe importer (OpenCV 4.x, installed by the `test` extra); locally a skip without
    it, under CI=true a failure."""
    try:
        import cv2
    except ImportError as error:
        unavailable(f"opencv-python-headless<5 is not installed ({error}; pip install '.[test]')")
    if int(cv2.__version__.split(".")[0]) >= 5:
        unavailable(f"OpenCV {cv2.__version__} has no Caffe importer (5.0 removed it); install opencv-python-headless<5")
    return cv2
