"""`purecaffe mnn-venv` and `purecaffe verify --backend mnn` from the command line."""
from __future__ import annotations

from pathlib import Path

import pytest

from purecaffe.cli import main

pytestmark = pytest.mark.mnn

EXAMPLE = "purecaffe.examples.tiny_resnet:tiny_resnet"


def test_mnn_venv_prints_the_ready_venv(mnn_venv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mnn-venv"]) == 0
    assert capsys.readouterr().out.strip() == str(mnn_venv)


def test_verify_backend_mnn(mnn_venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "tiny"
    assert main(["convert", EXAMPLE, "--input-shape", "1,3,32,32", "-o", str(prefix)]) == 0
    capsys.readouterr()
    code = main(["verify", EXAMPLE, str(prefix), "--input-shape", "1,3,32,32", "--backend", "mnn"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "tiny: PARITY OK on mnn 3.6.1 (fp32)" in out and "0.001 x max|torch|" in out
