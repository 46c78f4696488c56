"""`purecaffe tpu-mlir-venv` and `purecaffe verify --backend tpu-mlir [--processor P --quantize Q]` from the command line."""
from __future__ import annotations

from pathlib import Path

import pytest

from purecaffe.cli import main

pytestmark = pytest.mark.tpu_mlir

EXAMPLE = "purecaffe.examples.tiny_resnet:tiny_resnet"


def test_tpumlir_venv_prints_the_ready_venv(tpumlir_venv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tpu-mlir-venv"]) == 0
    assert capsys.readouterr().out.strip() == str(tpumlir_venv)


@pytest.mark.parametrize("options, expected", [
    ([], "PARITY OK on tpu-mlir 1.30.2 (top-level fp32 interpreter)"),
    (["--processor", "bm1684x", "--quantize", "f16"], "PARITY OK on tpu-mlir 1.30.2 (bm1684x F16, model_runner)"),
], ids=["interpreter", "bm1684x-f16"])
def test_verify_backend_tpumlir(options: list[str], expected: str, tpumlir_venv: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "tiny"
    assert main(["convert", EXAMPLE, "--input-shape", "1,3,32,32", "-o", str(prefix)]) == 0
    capsys.readouterr()
    code = main(["verify", EXAMPLE, str(prefix), "--input-shape", "1,3,32,32", "--backend", "tpu-mlir", *options])
    out = capsys.readouterr().out
    assert code == 0, out
    assert expected in out


def test_quantize_is_for_tpumlir_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "tiny"
    assert main(["convert", EXAMPLE, "--input-shape", "1,3,32,32", "-o", str(prefix)]) == 0
    code = main(["verify", EXAMPLE, str(prefix), "--input-shape", "1,3,32,32", "--backend", "mnn", "--quantize", "F16"])
    assert code == 2
    assert "--quantize is for --backend tpu-mlir, not mnn" in capsys.readouterr().err
