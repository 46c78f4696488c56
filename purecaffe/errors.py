"""Error types shared by every part of purecaffe.

Every error a user can cause by what they pass in (a file, a model, a flag) is a
`PurecaffeError`.  The CLI prints it as one line and exits with status 2; nothing
half-written is left behind.  Anything else escaping is a bug and keeps its
traceback.
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
