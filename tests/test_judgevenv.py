"""The judges' venv bookkeeping, with pip faked: cache place, stamp, temp dir + rename, killed builds; and each
judge's recipe (RKNN-Toolkit2, tpu-mlir, MNN) is the documented one."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from purecaffe import judgevenv
from purecaffe.errors import BackendUnavailableError, PurecaffeError
from purecaffe.judgevenv import VenvRecipe
from purecaffe.mnn import venv as mnn_venv
from purecaffe.rknn import venv as rknn_venv
from purecaffe.tpumlir import venv as tpumlir_venv

RECIPES: dict[str, Callable[[], VenvRecipe]] = {"rknn": rknn_venv.recipe, "tpu-mlir": tpumlir_venv.recipe,
                                                "mnn": mnn_venv.recipe}


class FakeCommands:
    """Stands in for `judgevenv.run_commands`: the venv command makes a tiny venv-looking tree; fails on demand."""

    def __init__(self) -> None:
        self.fail = False
        self.targets: list[Path] = []
        self.calls: list[list[list[str]]] = []

    def __call__(self, commands: Sequence[Sequence[str]], log_path: Path, *, title: str, append: bool = False) -> None:
        self.calls.append([list(c) for c in commands])
        if commands and commands[0][1:3] == ["-m", "venv"]:
            work = Path(commands[0][-1])
            self.targets.append(work)
            (work / "bin").mkdir(parents=True)
            (work / "bin" / "python").write_text("")
        if self.fail:
            raise BackendUnavailableError(f"building the {title} venv failed (exit 1): ERROR: no network")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeCommands:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tpumlir_venv, "find_python", lambda version, variable: Path("/opt/python3.10"))
    commands = FakeCommands()
    monkeypatch.setattr(judgevenv, "run_commands", commands)
    return commands


@pytest.mark.parametrize("judge", sorted(RECIPES))
def test_default_dir_is_in_the_user_cache_named_by_the_recipe(judge: str, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path))
    recipe = RECIPES[judge]()
    assert recipe.default_dir() == tmp_path / f"{recipe.directory}-{recipe.digest}"
    changed = VenvRecipe(recipe.title, recipe.directory, {**recipe.spec, "extra": 1}, recipe.commands)
    assert changed.default_dir() != recipe.default_dir()


def test_the_rknn_venv_keeps_its_directory() -> None:
    """The recipe moved onto judgevenv without changing what decides the venv: venvs built before stay valid."""
    assert sorted(rknn_venv.recipe().spec) == ["dependencies", "python", "rknn_toolkit2", "torch"]
    assert rknn_venv.recipe().directory == "rknn/toolkit2-2.5.0"


def test_the_rknn_recipe_is_the_documented_one(tmp_path: Path) -> None:
    commands = rknn_venv.install_commands(tmp_path / "V")
    assert commands[1][-2:] == ["--no-deps", "rknn-toolkit2==2.5.0"]
    assert "numpy<=1.26.4" in commands[2] and "protobuf<=4.25.4,>=4.21.6" in commands[2]
    assert commands[3][-2:] == ["--no-deps", "torch==2.13.0"]
    assert all(c[0] == str(tmp_path / "V" / "bin" / "python") for c in commands[1:])  # never the venv's pip script


def test_the_tpumlir_recipe_is_the_documented_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tpumlir_venv, "find_python", lambda version, variable: Path(f"/py{version[0]}.{version[1]}"))
    commands = tpumlir_venv.install_commands(tmp_path / "V")
    assert commands[0] == ["/py3.10", "-m", "venv", str(tmp_path / "V")]
    assert commands[1][-1] == "tpu_mlir==1.30.2"
    assert commands[2][-4:] == ["six==1.16.0", "onnx==1.14.1", "onnxruntime==1.16.3", "psutil"]
    assert not any("torch" in part for command in commands for part in command)  # the runner stands in for it
    assert tpumlir_venv.check_commands(tmp_path / "V")[0][-1] == "import tpu_mlir, pymlir, caffe"


def test_the_tpumlir_fixup_moves_its_glibc_aside(tmp_path: Path) -> None:
    third_party = tpumlir_venv.package_dir(tmp_path) / "lib" / "third_party"
    third_party.mkdir(parents=True)
    for name in ("libc.so.6", "libm.so.6", "libpthread.so.0", "libglog.so.0"):
        (third_party / name).write_text(name)
    tpumlir_venv.move_glibc_aside(tmp_path)
    assert sorted(p.name for p in third_party.iterdir()) == ["libglog.so.0"]
    assert sorted(p.name for p in (tmp_path / tpumlir_venv.MOVED_ASIDE).iterdir()) == \
        ["libc.so.6", "libm.so.6", "libpthread.so.0"]


def test_the_mnn_recipe_is_the_documented_one(tmp_path: Path) -> None:
    commands = mnn_venv.install_commands(tmp_path / "V")
    assert commands[1][-1] == "mnn==3.6.1"
    assert mnn_venv.check_commands(tmp_path / "V")[0][-1] == "import MNN, _tools"


@pytest.mark.parametrize("judge", sorted(RECIPES))
def test_build_once_then_reuse(judge: str, fake: FakeCommands) -> None:
    recipe = RECIPES[judge]()
    venv = judgevenv.build_venv(recipe)
    assert venv == recipe.default_dir() and judgevenv.venv_ready(venv, recipe)
    assert fake.targets[0].parent == venv.parent and fake.targets[0].name.startswith(f".{venv.name}.building-")
    assert not fake.targets[0].exists(), "built in a temp dir, then renamed"
    assert judgevenv.read_stamp(venv)["recipe"] == dict(recipe.spec)
    assert judgevenv.build_venv(recipe) == venv
    assert len(fake.targets) == 1
    assert len(fake.calls) == (2 if recipe.check else 1)  # the install, then the check on the finished tree


def test_failed_build_leaves_nothing(fake: FakeCommands) -> None:
    fake.fail = True
    recipe = mnn_venv.recipe()
    with pytest.raises(BackendUnavailableError, match="building the MNN 3.6.1 venv failed .* no network"):
        judgevenv.build_venv(recipe)
    venv = recipe.default_dir()
    assert not venv.exists()
    assert not list(venv.parent.glob(f".{venv.name}.building-*"))


def test_a_killed_build_is_never_used_and_gets_rebuilt(fake: FakeCommands) -> None:
    """A build killed half-way leaves its temp dir (complete-looking, but without a stamp)."""
    recipe = tpumlir_venv.recipe()
    venv = recipe.default_dir()
    leftover = venv.parent / f".{venv.name}.building-99999"
    (leftover / "bin").mkdir(parents=True)
    (leftover / "bin" / "python").write_text("")
    assert not judgevenv.venv_ready(leftover, recipe)
    assert not judgevenv.venv_ready(venv, recipe)
    assert judgevenv.build_venv(recipe) == venv and len(fake.targets) == 1
    assert not leftover.exists()
    assert judgevenv.venv_ready(venv, recipe)


def test_a_venv_from_another_recipe_is_rebuilt(fake: FakeCommands, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = rknn_venv.build_venv()
    (venv / "marker").write_text("old")
    monkeypatch.setattr(rknn_venv, "PINNED_DEPENDENCIES", ("numpy<=1.26.4",))
    assert not rknn_venv.venv_ready(venv)
    assert rknn_venv.build_venv(venv) == venv
    assert len(fake.targets) == 2 and not (venv / "marker").exists()
    assert not list(venv.parent.glob(f".{venv.name}.old-*"))


def test_an_unstamped_directory_is_not_ready_and_not_deleted(fake: FakeCommands, tmp_path: Path) -> None:
    foreign = tmp_path / "mine"
    (foreign / "bin").mkdir(parents=True)
    (foreign / "bin" / "python").write_text("")
    assert not mnn_venv.venv_ready(foreign)
    with pytest.raises(PurecaffeError, match="not a purecaffe MNN 3.6.1 venv"):
        mnn_venv.build_venv(foreign)
    assert (foreign / "bin" / "python").exists()


def test_python310_is_found_or_the_error_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PURECAFFE_PYTHON310", raising=False)
    with pytest.raises(BackendUnavailableError, match=r"no Python 3\.10 found .* set \$PURECAFFE_PYTHON310 .*"
                                                      r"pyenv install 3\.10"):
        judgevenv.find_python((3, 10), variable="PURECAFFE_PYTHON310")
    monkeypatch.setenv("PURECAFFE_PYTHON310", str(tmp_path / "python3.10"))
    with pytest.raises(BackendUnavailableError, match="is not a working Python 3.10"):
        judgevenv.find_python((3, 10), variable="PURECAFFE_PYTHON310")


def test_a_pyenv_shim_that_does_not_run_310_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyenv's `python3.10` shim on PATH exists even when 3.10 is not active: each candidate is run."""
    shim = tmp_path / "bin" / "python3.10"
    shim.parent.mkdir()
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.10: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}/usr/bin:/bin")
    monkeypatch.delenv("PURECAFFE_PYTHON310", raising=False)
    with pytest.raises(BackendUnavailableError, match="no Python 3.10 found"):
        judgevenv.find_python((3, 10), variable="PURECAFFE_PYTHON310")
