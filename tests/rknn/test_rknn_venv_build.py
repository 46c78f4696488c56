"""The RKNN venv's bookkeeping, with pip faked: cache place, stamp, temp dir + rename, killed builds."""
from __future__ import annotations

from pathlib import Path

import pytest

from purecaffe.errors import BackendUnavailableError, PurecaffeError
from purecaffe.rknn import venv as rknn_venv


class FakeInstall:
    """Stands in for `_install`: makes a tiny venv-looking tree, or fails, and counts calls."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.targets: list[Path] = []

    def __call__(self, work: Path, log_path: Path) -> None:
        self.targets.append(work)
        (work / "bin").mkdir(parents=True)
        (work / "bin" / "python").write_text("")
        if self.fail:
            raise BackendUnavailableError("building the RKNN venv failed (exit 1): ERROR: no network")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeInstall:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path / "cache"))
    install = FakeInstall()
    monkeypatch.setattr(rknn_venv, "_install", install)
    return install


def test_default_dir_is_in_the_user_cache_named_by_the_recipe(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path))
    expected = tmp_path / "rknn" / f"toolkit2-{rknn_venv.RKNN_VERSION}-{rknn_venv.recipe_digest()}"
    assert rknn_venv.default_venv_dir() == expected
    monkeypatch.setattr(rknn_venv, "TORCH_VERSION", "0.0.1")
    assert rknn_venv.default_venv_dir() != expected


def test_the_recipe_is_the_documented_one(tmp_path: Path) -> None:
    commands = rknn_venv.install_commands(tmp_path / "V")
    assert commands[1][-2:] == ["--no-deps", "rknn-toolkit2==2.5.0"]
    assert "numpy<=1.26.4" in commands[2] and "protobuf<=4.25.4,>=4.21.6" in commands[2]
    assert commands[3][-2:] == ["--no-deps", "torch==2.13.0"]
    assert all(c[0] == str(tmp_path / "V" / "bin" / "python") for c in commands[1:])  # never the venv's pip script


def test_build_once_then_reuse(fake: FakeInstall) -> None:
    venv = rknn_venv.build_venv()
    assert rknn_venv.venv_ready(venv)
    assert fake.targets[0].parent == venv.parent and fake.targets[0].name.startswith(f".{venv.name}.building-")
    assert not fake.targets[0].exists(), "built in a temp dir, then renamed"
    assert rknn_venv.read_stamp(venv)["recipe"] == rknn_venv.recipe()
    assert rknn_venv.build_venv() == venv
    assert len(fake.targets) == 1


def test_failed_build_leaves_nothing(fake: FakeInstall) -> None:
    fake.fail = True
    with pytest.raises(BackendUnavailableError, match="no network"):
        rknn_venv.build_venv()
    venv = rknn_venv.default_venv_dir()
    assert not venv.exists()
    assert not list(venv.parent.glob(f".{venv.name}.building-*"))


def test_a_killed_build_is_never_used_and_gets_rebuilt(fake: FakeInstall) -> None:
    """A build killed half-way leaves its temp dir (complete-looking, but without a stamp)."""
    venv = rknn_venv.default_venv_dir()
    leftover = venv.parent / f".{venv.name}.building-99999"
    (leftover / "bin").mkdir(parents=True)
    (leftover / "bin" / "python").write_text("")
    assert not rknn_venv.venv_ready(leftover)
    assert not rknn_venv.venv_ready(venv)
    built = rknn_venv.build_venv()
    assert built == venv and len(fake.targets) == 1
    assert not leftover.exists()
    assert rknn_venv.venv_ready(venv)


def test_a_venv_from_another_recipe_is_rebuilt(fake: FakeInstall, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = rknn_venv.build_venv()
    (venv / "marker").write_text("old")
    monkeypatch.setattr(rknn_venv, "PINNED_DEPENDENCIES", ("numpy<=1.26.4",))
    assert not rknn_venv.venv_ready(venv)
    assert rknn_venv.build_venv(venv) == venv
    assert len(fake.targets) == 2 and not (venv / "marker").exists()
    assert not list(venv.parent.glob(f".{venv.name}.old-*"))


def test_an_unstamped_directory_is_not_ready_and_not_deleted(fake: FakeInstall, tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    (foreign / "bin").mkdir(parents=True)
    (foreign / "bin" / "python").write_text("")
    assert not rknn_venv.venv_ready(foreign)
    with pytest.raises(PurecaffeError, match="not a purecaffe RKNN venv"):
        rknn_venv.build_venv(foreign)
    assert (foreign / "bin" / "python").exists()
