"""`verify`'s progress: each stage logged at INFO as it starts and when it ends, with the elapsed time.

A verify on a real consumer takes from seconds (RKNN's simulator) to many minutes (a compiled
tpu-mlir model); these lines say what it is doing meanwhile.  The `verify` command shows this
logger's INFO lines without `-v` (`shown`).

    progress = Progress("out/resnet18", layers=161)
    with progress.stage("running the net on rknn"):
        ...
    # INFO purecaffe.parity.progress: out/resnet18 (161 layers): running the net on rknn ...
    # INFO purecaffe.parity.progress: out/resnet18 (161 layers): running the net on rknn: 12.3 s (14.0 s in all)
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

log = logging.getLogger(__name__)


class Progress:
    """The stages of one verify, timed from its start."""

    def __init__(self, net: str, *, layers: int | None = None) -> None:
        self.net = net
        self.layers = layers
        self.started = time.monotonic()

    def label(self) -> str:
        return self.net if self.layers is None else f"{self.net} ({self.layers} layers)"

    @contextlib.contextmanager
    def stage(self, what: str) -> Iterator[None]:
        log.info("%s: %s ...", self.label(), what)
        begun = time.monotonic()
        yield
        now = time.monotonic()
        log.info("%s: %s: %.1f s (%.1f s in all)", self.label(), what, now - begun, now - self.started)


@contextlib.contextmanager
def shown() -> Iterator[None]:
    """Within the block this logger's INFO lines pass whatever the root level (the `verify` command)."""
    previous = log.level
    log.setLevel(logging.INFO if previous == logging.NOTSET or previous > logging.INFO else previous)
    try:
        yield
    finally:
        log.setLevel(previous)
