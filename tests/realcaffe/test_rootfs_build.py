"""The rootfs build's bookkeeping, with debootstrap faked: cache place, stamp, temp dir + rename, refusals."""
from __future__ import annotations

from pathlib import Path

import pytest

from purecaffe.errors import BackendUnavailableError, PurecaffeError
from purecaffe.realcaffe import rootfs
from purecaffe.realcaffe.assets import DEBIAN_SUITE, caffe_packages, packages_digest


class FakeDebootstrap:
    """Stands in for `_debootstrap`: makes a tiny tree, or fails, and counts calls."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.targets: list[Path] = []

    def __call__(self, debootstrap: str, work: Path, packages: tuple[str, ...], mirror: str, log_path: Path) -> float:
        self.targets.append(work)
        (work / "usr" / "bin").mkdir(parents=True)
        (work / "tmp").mkdir()
        (work / "usr" / "bin" / "python3").write_text("")
        if self.fail:
            raise BackendUnavailableError("debootstrap failed (exit 1): E: boom")
        return 0.1


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeDebootstrap:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(rootfs, "is_root", lambda: True)
    monkeypatch.setattr(rootfs, "find_debootstrap", lambda: "/usr/sbin/debootstrap")
    monkeypatch.setattr(rootfs, "_check_caffe", lambda work: None)
    debootstrap = FakeDebootstrap()
    monkeypatch.setattr(rootfs, "_debootstrap", debootstrap)
    return debootstrap


def test_default_dir_is_in_the_user_cache_named_by_the_package_list(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path))
    expected = tmp_path / "rootfs" / f"{DEBIAN_SUITE}-{packages_digest(caffe_packages())}"
    assert rootfs.default_rootfs_dir() == expected
    assert rootfs.default_rootfs_dir(("python3-caffe",)) != expected


def test_build_once_then_reuse(fake: FakeDebootstrap) -> None:
    root = rootfs.build_rootfs()
    assert rootfs.rootfs_ready(root)
    assert fake.targets[0].parent == root.parent and fake.targets[0].name.startswith(f".{root.name}.building-")
    assert not fake.targets[0].exists(), "built in a temp dir, then renamed"
    stamp = rootfs.read_stamp(root)
    assert stamp["packages"] == list(caffe_packages()) and stamp["suite"] == DEBIAN_SUITE
    assert rootfs.build_rootfs() == root
    assert len(fake.targets) == 1


def test_failed_build_leaves_nothing(fake: FakeDebootstrap) -> None:
    fake.fail = True
    with pytest.raises(BackendUnavailableError, match="debootstrap failed"):
        rootfs.build_rootfs()
    root = rootfs.default_rootfs_dir()
    assert not root.exists()
    assert not list(root.parent.glob(f".{root.name}.building-*"))


def test_half_built_leftovers_are_never_used_and_get_removed(fake: FakeDebootstrap) -> None:
    root = rootfs.default_rootfs_dir()
    leftover = root.parent / f".{root.name}.building-99999"
    (leftover / "usr" / "bin").mkdir(parents=True)
    (leftover / "usr" / "bin" / "python3").write_text("")
    assert not rootfs.rootfs_ready(leftover)
    rootfs.build_rootfs()
    assert not leftover.exists()
    assert rootfs.rootfs_ready(root)


def test_an_unstamped_directory_is_not_ready_and_not_deleted(fake: FakeDebootstrap, tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    (foreign / "usr" / "bin").mkdir(parents=True)
    (foreign / "usr" / "bin" / "python3").write_text("")
    assert not rootfs.rootfs_ready(foreign)
    with pytest.raises(PurecaffeError, match="not a purecaffe rootfs"):
        rootfs.build_rootfs(foreign)
    assert (foreign / "usr" / "bin" / "python3").exists()
    with pytest.raises(BackendUnavailableError, match="not a finished purecaffe rootfs"):
        rootfs.RootfsBackend(foreign)


def test_rebuild_replaces_a_finished_tree(fake: FakeDebootstrap) -> None:
    root = rootfs.build_rootfs()
    (root / "marker").write_text("old")
    assert rootfs.build_rootfs(rebuild=True) == root
    assert len(fake.targets) == 2
    assert not (root / "marker").exists()
    assert not list(root.parent.glob(f".{root.name}.old-*"))


def test_a_tree_of_another_package_list_is_not_ready(fake: FakeDebootstrap) -> None:
    root = rootfs.build_rootfs()
    assert not rootfs.rootfs_ready(root, ("python3-caffe", "python3-scipy"))


def test_not_root_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 1000)
    with pytest.raises(BackendUnavailableError) as error:
        rootfs.build_rootfs()
    text = error.value.one_line()
    assert "needs root" in text and "docker build -t caffe-verify docker/" in text and "\n" not in text


def test_missing_debootstrap_says_apt_get_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(rootfs, "is_root", lambda: True)
    monkeypatch.setattr(rootfs, "find_tool", lambda name: None)
    with pytest.raises(BackendUnavailableError, match="apt-get install debootstrap"):
        rootfs.build_rootfs()


def test_mounts_under_reads_escaped_mount_points(tmp_path: Path) -> None:
    base = tmp_path / "root fs"
    mounts = tmp_path / "mounts"
    escaped = str(base).replace(" ", "\\040")
    mounts.write_text(f"proc {escaped}/proc proc rw 0 0\n"
                      f"sysfs {escaped}/sys sysfs rw 0 0\n"
                      f"devpts {escaped}/dev/pts devpts rw 0 0\n"
                      f"proc /proc proc rw 0 0\n"
                      f"tmpfs {escaped}-other/tmp tmpfs rw 0 0\n")
    found = rootfs.mounts_under(base, mounts)
    assert found[0] == base / "dev" / "pts"
    assert set(found) == {base / "proc", base / "sys", base / "dev" / "pts"}


def test_remove_tree_refuses_to_delete_through_a_mount(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "proc").mkdir(parents=True)
    monkeypatch.setattr(rootfs, "mounts_under", lambda path: [tree / "proc"])
    monkeypatch.setattr(rootfs.subprocess, "run", lambda *a, **k: type("Done", (), {"returncode": 1})())
    with pytest.raises(PurecaffeError, match="still mounted"):
        rootfs.remove_tree(tree)
    assert tree.exists()
