"""Atomic file output: write to a temporary file beside the target, then rename.

A failure (an exception, Ctrl-C, a refused model) leaves the target as it was
and no temporary file behind.  There is no fsync: like np.save and torch.save,
durability across power loss is left to the file system; what this guarantees
is that readers never see a half-written file.  A target that cannot be written
(a directory, a missing or read-only parent) is a `PurecaffeError` naming it.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from purecaffe.errors import PurecaffeError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a handle whose content replaces `path` only if the block succeeds."""
    target = Path(path)
    if target.is_dir():
        raise PurecaffeError("cannot write: it is a directory", path=target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as error:
        raise PurecaffeError(f"cannot write: {error.strerror or error}", path=target) from None
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
        os.chmod(tmp_name, 0o644)
        try:
            os.replace(tmp_name, target)
        except OSError as error:
            raise PurecaffeError(f"cannot write: {error.strerror or error}", path=target) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
