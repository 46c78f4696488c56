"""A judge (real Caffe, the RKNN venv, ...) resolved once per test process.

`Judge(name, unavailable, resolve, describe).get()` calls `resolve()` the first time, then always returns
its result; when it raised `BackendUnavailableError`, every test that needs the judge is
skipped locally with the reason, and FAILS under CI=true, where every judge is required.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import pytest

from corpus import in_ci
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
            except BackendUnavailableError as unavailable:
                error = unavailable.one_line()
            self.resolution = (value, error, time.monotonic() - started)
            log.warning("%s: %s (%.1f s to get ready)", self.name,
                        self.describe(value) if value is not None else error, self.resolution[2])
        value, error, _ = self.resolution
        if value is None:
            message = f"{self.unavailable}: {error}"
            if in_ci():
                pytest.fail(message + " -- required under CI=true")
            pytest.skip(message)
        return value
