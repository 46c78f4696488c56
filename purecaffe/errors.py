"""Error types shared by every part of purecaffe.

Every error a user can cause by what they pass in (a file, a model, a flag) is a
`PurecaffeError`.  The CLI prints it as one line and exits with status 2; nothing
half-written is left behind.  An exception raised inside the converter's own
code (capture, a pass, a lowering, legalization) is a purecaffe bug: it becomes a
`ConverterBugError` naming the ATen op, module path and source line, printed as one
line (exit status 3) with a hint to rerun with `--debug` for the traceback.
"""
from __future__ import annotations

import os


class PurecaffeError(Exception):
    """A problem with the user's input, reported as one line (exit status 2)."""

    exit_status = 2

    def __init__(self, message: str, *, path: str | os.PathLike[str] | None = None,
                 place: str | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.place = place
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = self.path or ""
        if self.place:
            where = f"{where}:{self.place}" if where else self.place
        text = f"{where}: {self.message}" if where else self.message
        return " ".join(text.split("\n"))


def first_line(error: BaseException) -> str:
    """The first non-empty line of an exception's message (else its type name): for one-line reports."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


class FormatError(PurecaffeError):
    """A file is truncated, of another format, or does not parse."""


class SchemaError(PurecaffeError):
    """A caffe.proto cannot be compiled, or lacks what purecaffe needs."""


class ModelTooLargeError(PurecaffeError):
    """The output would exceed what Caffe can read (2 GB protobuf limit)."""


class ShapeError(PurecaffeError):
    """Blob or parameter shapes do not agree."""


class UnsupportedError(PurecaffeError):
    """Something cannot be expressed exactly in the target Caffe dialect."""


class BackendUnavailableError(PurecaffeError):
    """A verification backend (Docker, Debian rootfs, OpenCV) is not available here."""


class ConverterBugError(Exception):
    """A bug in purecaffe itself, found while converting: never the user's fault (exit status 3).

    Names the ATen op, the module path and the source line being converted, and
    keeps the original exception as `__cause__` (the CLI shows it with `--debug`).
    """

    exit_status = 3

    def __init__(self, message: str, *, op: str = "", module_path: str = "", source: str = "") -> None:
        self.message = message
        self.op = op
        self.module_path = module_path
        self.source = source
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = " ".join(part for part in (
            self.op, f"in {self.module_path or '<model>'}" if self.op else "",
            f"at {self.source}" if self.source else "") if part)
        text = f"purecaffe bug while converting {where}: {self.message}" if where else \
            f"purecaffe bug: {self.message}"
        return " ".join((text + " (please report it with the model that triggers it)").split("\n"))
