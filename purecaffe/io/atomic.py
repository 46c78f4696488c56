"""Atomic file output: write to a temporary file beside the target, then rename.

A failure (an exception, Ctrl-C, a full disk, a refused model) leaves the target
as it was and no temporary file behind.  A process killed outright (SIGKILL,
power loss) cannot remove its temporary file: it is hidden
(`.<name>.<pid>.<random>.part`) and the next write of the same target removes
it once its process is gone.  There is no fsync: like np.save and torch.save,
durability across power loss is left to the file system; what this guarantees
is that readers never see a half-written file.  A target that cannot be written
(a directory, a missing or read-only parent, a full disk) is a one-line
`PurecaffeError` naming it.

Several files that belong together (prototxt + caffemodel + sidecar) are
committed as one set by `purecaffe.io.fileset.atomic_files`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from purecaffe.errors import PurecaffeError

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Yield a handle whose content replaces `path` only if the block succeeds."""
    target = Path(path)
    if target.is_dir():
        raise PurecaffeError("cannot write: it is a directory", path=target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target, TEMP_SUFFIX)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.",
                                        suffix=TEMP_SUFFIX)
    except OSError as error:
        raise PurecaffeError(f"cannot write: {error.strerror or error}", path=target) from None
    try:
        encoding = None if "b" in mode else "utf-8"
        try:
            with os.fdopen(fd, mode, encoding=encoding) as handle:
                yield handle
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, target)
        except OSError as error:  # ENOSPC, EFBIG, EDQUOT, EIO, EROFS while writing, closing or renaming
            raise PurecaffeError(f"cannot write: {error.strerror or error}", path=target) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def remove_stale_temporaries(target: Path, suffix: str) -> None:
    """Remove `.<target name>.<pid>.*<suffix>` files whose process no longer exists (killed writers).

    Also `..<target name>.<pid>.*`: the temporaries of a staged file (`purecaffe.io.fileset`).
    """
    pattern = re.compile(rf"\.+{re.escape(target.name)}\.(\d+)\..*{re.escape(suffix)}")
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if found and not process_alive(int(found.group(1))):
            log.info("removing %s, left by a writer that was killed", entry.path)
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
