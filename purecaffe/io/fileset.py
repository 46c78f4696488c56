"""Committing several files as one set: all of them from this run, or all of them as they were.

`ConvertedNet.save` writes a prototxt, a caffemodel and a sidecar that only make
sense together.  Renaming three files is three steps, so each set of targets
gets a lock and a journal beside it:

1. take an exclusive `flock` on `.<first target>.lock` (a second process saving
   the same set waits; the kernel releases the lock of a killed process);
2. finish a commit a killed process left half-done (step 5), then remove the
   staged files of killed writers;
3. the caller writes every file to its staged path (`.<name>.<pid>.<random>.staged`);
4. only when all are written: the journal `.<first target>.commit` (staged -> target
   pairs) is written atomically: this is the commit point;
5. every staged file is renamed onto its target, then the journal is removed.

A failure or kill before step 4 leaves the earlier set untouched (staged files are
removed now, or by the next commit once their process is gone).  A kill during
step 5 (microseconds for three renames) is rolled forward by the next commit of
the same set, or by `recover_files`.  Readers never see a partial file.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from purecaffe.errors import PurecaffeError
from purecaffe.io.atomic import TEMP_SUFFIX, atomic_write, remove_stale_temporaries

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
STAGED_SUFFIX = ".staged"


@contextlib.contextmanager
def atomic_files(*targets: PathLike) -> Iterator[tuple[Path, ...]]:
    """Yield one staged path per target; when the block succeeds, all targets are replaced as one set.

    The targets must share a directory.  Write each staged path completely (any
    writer, e.g. `save_weights`, `write_net`); a target whose staged file was not
    written is an error.  An error raised for a staged path is re-raised naming
    its target.
    """
    paths = _check_targets(targets)
    first = paths[0]
    with _set_lock(first):
        _roll_forward(first)
        for path in paths:
            remove_stale_temporaries(path, STAGED_SUFFIX)
            remove_stale_temporaries(path, TEMP_SUFFIX)
        token = secrets.token_hex(4)
        staged = tuple(path.parent / f".{path.name}.{os.getpid()}.{token}{STAGED_SUFFIX}" for path in paths)
        committed = False
        try:
            try:
                yield staged
            except PurecaffeError as error:
                _rename_in_error(error, staged, targets)
                raise
            unwritten = [str(path) for path, stage in zip(paths, staged) if not stage.is_file()]
            if unwritten:
                raise RuntimeError(f"atomic_files: nothing was written for {', '.join(unwritten)}")
            journal = _journal(first)
            with atomic_write(journal, "w") as handle:
                json.dump([[str(stage), str(path)] for stage, path in zip(staged, paths)], handle)
            committed = True
            _apply(journal, staged, paths)
        except BaseException:
            if not committed:  # after the commit point the journal needs them: the next commit rolls forward
                for stage in staged:
                    stage.unlink(missing_ok=True)
            raise
    log.debug("committed %s", ", ".join(map(str, paths)))


def recover_files(*targets: PathLike) -> bool:
    """Finish a commit of this set that a killed process left half-done; True if there was one."""
    paths = _check_targets(targets)
    with _set_lock(paths[0]):
        return _roll_forward(paths[0])


def _check_targets(targets: tuple[PathLike, ...]) -> tuple[Path, ...]:
    paths = tuple(Path(target).absolute() for target in targets)
    if not paths or len({path.parent for path in paths}) != 1 or len(set(paths)) != len(paths):
        raise ValueError(f"atomic_files needs distinct targets in one directory, got {targets}")
    for path in paths:
        if path.is_dir():
            raise PurecaffeError("cannot write: it is a directory", path=path)
    return paths


def _journal(first: Path) -> Path:
    return first.parent / f".{first.name}.commit"


@contextlib.contextmanager
def _set_lock(first: Path) -> Iterator[None]:
    lock_path = first.parent / f".{first.name}.lock"
    try:
        first.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a+b")
    except OSError as error:
        raise PurecaffeError(f"cannot write: {error.strerror or error}", path=first) from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel if this process is killed
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _roll_forward(first: Path) -> bool:
    journal = _journal(first)
    try:
        pairs = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as error:
        raise PurecaffeError(f"cannot finish an interrupted save: unreadable journal: {error}", path=journal) from None
    log.warning("finishing the save of %s that an earlier process left half-done", first)
    _apply(journal, tuple(Path(stage) for stage, _ in pairs), tuple(Path(path) for _, path in pairs))
    return True


def _apply(journal: Path, staged: tuple[Path, ...], paths: tuple[Path, ...]) -> None:
    try:
        for stage, path in zip(staged, paths):
            if stage.exists():  # already renamed by the process that was killed
                os.replace(stage, path)
        journal.unlink()
    except OSError as error:
        raise PurecaffeError(f"cannot write: {error.strerror or error}", path=paths[0]) from None


def _rename_in_error(error: PurecaffeError, staged: tuple[Path, ...], targets: tuple[PathLike, ...]) -> None:
    """Errors name the file the user asked for, not its hidden staged twin."""
    for stage, path in zip(staged, targets):
        if error.path is not None and Path(error.path).absolute() == stage:
            error.path = str(path)
            error.args = (error.one_line(),)
