"""`purecaffe rknn-venv` and `purecaffe verify --backend rknn` from the command line."""
from __future__ import annotations

from pathlib import Path

import pytest

from purecaffe.cli import main

pytestmark = pytest.mark.rknn

EXAMPLE = "purecaffe.examples.tiny_resnet:tiny_resnet"


def test_rknn_venv_prints_the_ready_venv(rknn_venv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rknn-venv"]) == 0
    assert capsys.readouterr().out.strip() == str(rknn_venv)


def test_verify_backend_rknn(rknn_venv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "tiny"
    assert main(["convert", EXAMPLE, "--input-shape", "1,3,32,32", "-o", str(prefix)]) == 0
    capsys.readouterr()
    code = main(["verify", EXAMPLE, str(prefix), "--input-shape", "1,3,32,32", "--backend", "rknn"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "tiny: PARITY OK on rknn 2.5.0 (fp16 simulator)" in out and "within the runtime in fp16 storage" in out
    assert "fp16 cost at the outputs" in out
