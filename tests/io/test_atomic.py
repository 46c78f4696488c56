"""atomic_write: a target that cannot be written is a one-line PurecaffeError; nothing is left behind."""
from __future__ import annotations

from pathlib import Path

import pytest

from purecaffe.cli import main
from purecaffe.errors import PurecaffeError
from purecaffe.io.atomic import atomic_write

NET = 'input: "data"\ninput_shape { dim: 1 dim: 2 dim: 4 dim: 4 }\n'


def test_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    with atomic_write(target, "w") as handle:
        handle.write("one")
    assert target.read_text() == "one"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_directory_target_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(PurecaffeError, match="is a directory") as caught:
        with atomic_write(tmp_path, "wb") as handle:
            handle.write(b"x")
    assert caught.value.path == str(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_parent_that_is_a_file_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("keep")
    with pytest.raises(PurecaffeError, match="cannot write"):
        with atomic_write(blocker / "out.caffemodel") as handle:
            handle.write(b"x")
    assert blocker.read_text() == "keep" and [p.name for p in tmp_path.iterdir()] == ["file"]


def test_cli_init_into_a_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text(NET)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(["init", str(prototxt), "-o", str(out_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("purecaffe init: error:") and "is a directory" in err and len(err.splitlines()) == 1
    assert list(out_dir.iterdir()) == []
