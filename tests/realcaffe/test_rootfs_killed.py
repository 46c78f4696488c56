"""A rootfs build killed half-way (SIGKILL, not an exception) is never used, and the next call rebuilds.

debootstrap is faked: the child process makes part of a tree, then kills itself
with SIGKILL, so no `finally` and no clean-up runs, as when the machine or the
user kills a real build.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from purecaffe.errors import BackendUnavailableError
from purecaffe.realcaffe import rootfs

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, signal, sys
from pathlib import Path
from purecaffe.realcaffe import rootfs

stage = sys.argv[1]

def dying_debootstrap(debootstrap, work, packages, mirror, log_path):
    (work / "usr" / "bin").mkdir(parents=True)
    (work / "tmp").mkdir()
    (work / "usr" / "bin" / "python3").write_text("")
    if stage == "debootstrap":
        os.kill(os.getpid(), signal.SIGKILL)
    return 0.1

def dying_move(work, root, remove=None):
    if root.exists():
        os.rename(root, root.parent / f".{root.name}.old-{os.getpid()}")  # the first of the two renames
    os.kill(os.getpid(), signal.SIGKILL)

rootfs.is_root = lambda: True
rootfs.find_debootstrap = lambda: "/usr/sbin/debootstrap"
rootfs._check_caffe = lambda work: None
rootfs._debootstrap = dying_debootstrap
if stage == "move":
    rootfs.move_into_place = dying_move
rootfs.build_rootfs(rebuild=stage == "move")
"""


def build_and_get_killed(stage: str, cache: Path) -> None:
    env = {**os.environ, "PURECAFFE_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", CHILD, stage], env=env, capture_output=True, timeout=120,
                          check=False)
    assert done.returncode == -9, done.stderr.decode()[-1000:]


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(rootfs, "is_root", lambda: True)
    monkeypatch.setattr(rootfs, "find_debootstrap", lambda: "/usr/sbin/debootstrap")
    monkeypatch.setattr(rootfs, "_check_caffe", lambda work: None)
    return tmp_path / "cache"


def fake_debootstrap(calls: list[Path]):  # noqa: ANN201
    def run(debootstrap: str, work: Path, packages: tuple[str, ...], mirror: str, log_path: Path) -> float:
        calls.append(work)
        (work / "usr" / "bin").mkdir(parents=True)
        (work / "tmp").mkdir()
        (work / "usr" / "bin" / "python3").write_text("")
        return 0.1
    return run


@pytest.mark.parametrize("stage", ["debootstrap", "move"])
def test_a_killed_build_is_never_used_and_the_next_call_rebuilds(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 stage: str) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(rootfs, "_debootstrap", fake_debootstrap(calls))
    root = rootfs.default_rootfs_dir()
    if stage == "move":  # a finished tree exists; the rebuild dies between its two renames
        rootfs.build_rootfs()
    build_and_get_killed(stage, cache)
    leftovers = sorted(p.name for p in root.parent.iterdir() if p.name.startswith(f".{root.name}.")
                       and not p.name.endswith(".lock"))
    assert leftovers, "the killed build left its half-made state behind"
    assert not rootfs.rootfs_ready(root)
    with pytest.raises(BackendUnavailableError, match="not a finished purecaffe rootfs"):
        rootfs.RootfsBackend(root)
    calls.clear()
    assert rootfs.build_rootfs() == root
    assert len(calls) == 1, "the next call rebuilt"
    assert rootfs.rootfs_ready(root)
    assert [p.name for p in root.parent.iterdir() if p.name.startswith(f".{root.name}.")
            and not p.name.endswith(".lock")] == [], "and removed what the killed build left"
