"""The user cache directory (compiled schemas, the Debian rootfs, the RKNN venv) and how trees are built into it."""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """`$PURECAFFE_CACHE_DIR`, else `$XDG_CACHE_HOME/purecaffe`, else `~/.cache/purecaffe`."""
    explicit = os.environ.get("PURECAFFE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "purecaffe"


# -- building a cached tree (the Caffe rootfs, the RKNN venv) so that a killed build is never used --
#
# A build goes into `.<name>.building-<pid>` beside its final place, under an exclusive lock
# `.<name>.lock`; only a finished tree is renamed into place (an existing one first moves to
# `.<name>.old-<pid>`).  The next build, holding the lock, removes whatever an interrupted one
# left behind.

Remove = Callable[[Path], None]


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def build_lock(target: Path) -> Iterator[None]:
    """Hold the exclusive build lock of `target` (waits for another process building it)."""
    lock_path = target.parent / f".{target.name}.lock"
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for another process building %s", target)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def building_path(target: Path) -> Path:
    return target.parent / f".{target.name}.building-{os.getpid()}"


def remove_leftovers(target: Path, remove: Remove = _remove_tree) -> None:
    """Half-built or half-replaced trees of interrupted builds of `target` (call with the lock held)."""
    for pattern in (f".{target.name}.building-*", f".{target.name}.old-*"):
        for leftover in target.parent.glob(pattern):
            log.info("removing leftover %s", leftover)
            remove(leftover)


def move_into_place(work: Path, target: Path, remove: Remove = _remove_tree) -> None:
    """Rename the finished `work` tree to `target`, replacing an older one."""
    if not target.exists():
        os.rename(work, target)
        return
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    os.rename(target, old)
    os.rename(work, target)
    remove(old)
