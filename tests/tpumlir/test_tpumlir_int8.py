"""int8 on tpu-mlir end to end: a small classifier calibrated on scikit-image's bundled photos, built int8 by
both routes (model_transform from the Caffe files, and from torch.onnx.export's file), run_calibration.py,
model_deploy --quantize INT8, simulated by the int8 tpu-level MLIR's interpreter, judged against PyTorch.

Kept short for CI: one 32x32 net, four int8 builds (~10-20 s each here, the bmodel ~20 s more).  The
bounds are the verdict's (INT8_MIN_COSINE, ONNX_MARGIN: purecaffe.int8.routes says why).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import int8_nets
import purecaffe
from int8_nets import (IMAGENET, SHAPE, avg_pool_edited, small_classifier, small_classifier_fitted,
                       verify_int8_from_the_cli)
from purecaffe.calibration import read_calibration, sample_images
from purecaffe.cli import main
from purecaffe.errors import PurecaffeError
from purecaffe.int8 import cosine, tpumlir_int8
from purecaffe.int8.routes import INT8_MIN_COSINE
from purecaffe.parity import verify
from purecaffe.tpumlir.int8 import TpuMlirQuantization, run_tpumlir_int8

pytestmark = pytest.mark.tpu_mlir
pytest.importorskip("skimage")
pytest.importorskip("onnx")

SAME_ARITHMETIC = 1e-6
"""The bmodel runs the tpu-level MLIR's int8 arithmetic on the chip's simulator: the same integers, so
outputs equal up to float rounding of the dequantization (measured: equal cosines, 0.99718 both, on ResNet-18)."""


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    sample_images(folder, count=6)
    return folder


def test_verify_int8_both_routes_from_the_cli(tpumlir_venv: Path, photos: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data, page = verify_int8_from_the_cli("sophgo", "tpu-mlir", photos, tmp_path, capsys)
    int8 = data["int8"]
    caffe = int8["caffe"]
    assert int8["toolchain"] == "tpu-mlir" and "bm1684x kl" in int8["quantization"]
    # each kept tensor, int8 against the fp32 top-level MLIR: conv+relu (twice), both pools, the classifier
    assert len(caffe["layers"]) >= 5 and all(0.9 < layer["cosine"] <= 1.0 + 1e-6 for layer in caffe["layers"])
    rows = {row["layer"]: row for row in data["comparisons"]}
    assert {"2", "3", "6", "7", "9"} <= set(rows)  # the int8 tensors by Caffe layer, against PyTorch
    assert "<svg" in page and "INT8 OK" in page and "onnx (torch.onnx.export -&gt; model_transform)" in page


def test_a_wrongly_read_layer_fails_the_int8_verdict(tpumlir_venv: Path, photos: Path, tmp_path: Path) -> None:
    """The max pool edited to an average pool: int8 noise cannot hide a wrong layer."""
    model, probe, samples, prefix = avg_pool_edited(photos, tmp_path, "sophgo")
    result = tpumlir_int8(model, probe, prefix, TpuMlirQuantization(samples[:4]), evaluate=samples, onnx=False,
                          venv=tpumlir_venv)
    assert result.caffe.ok and result.onnx is None
    assert result.caffe.min_output_cosine < INT8_MIN_COSINE and not result.passed
    assert result.summary().startswith("INT8 FAILED") and "int8 on tpu-mlir" in result.summary()


def test_the_tpu_level_mlir_computes_what_the_bmodel_does(tpumlir_venv: Path, photos: Path, tmp_path: Path) -> None:
    """The int8 routes run the deploy's tpu-level MLIR (fast); the compiled bmodel in the chip's simulator agrees."""
    model = small_classifier_fitted()
    samples = read_calibration(photos, {"data": SHAPE}, IMAGENET)
    prefix = tmp_path / "small"
    files = purecaffe.convert(model, (torch.from_numpy(samples[0]["data"]),), target="sophgo", name="small").save(prefix)
    run = run_tpumlir_int8(samples[0], TpuMlirQuantization(samples[:4]), prototxt=files.prototxt,
                           caffemodel=files.caffemodel, bmodel=True, venv=tpumlir_venv)
    assert run.ok, run.error
    (name, value), = run.outputs.items()
    assert name == "9" and list(run.bmodel_outputs) == ["9"]
    assert cosine(run.bmodel_outputs[name], value) >= 1 - SAME_ARITHMETIC
    np.testing.assert_allclose(run.bmodel_outputs[name], value, atol=SAME_ARITHMETIC * float(np.abs(value).max()))
    assert {"transform", "calibration", "deploy", "int8", "bmodel"} <= set(run.stages)


def test_refusals_name_what_is_wrong(photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before anything is built: the options that go together, by message and exit status."""
    samples = read_calibration(photos, {"data": SHAPE}, IMAGENET)
    with pytest.raises(PurecaffeError, match="unknown tpu-mlir --cali_method 'entropy'"):
        TpuMlirQuantization(samples, method="entropy")
    with pytest.raises(PurecaffeError, match="unknown tpu-mlir processor 'bm9999'"):
        TpuMlirQuantization(samples, processor="bm9999")
    with pytest.raises(PurecaffeError, match="a TpuMlirQuantization is built and judged on backend tpu-mlir, not rknn"):
        verify(small_classifier(), torch.zeros(SHAPE), tmp_path / "none", backend="rknn",
               quantize=TpuMlirQuantization(samples))
    prefix = tmp_path / "small"
    factory = f"{int8_nets.__file__}:small_classifier"
    assert main(["convert", factory, "--input-shape", ",".join(map(str, SHAPE)), "-o", str(prefix)]) == 0
    capsys.readouterr()
    cases = [
        (["--backend", "rknn", "--processor", "bm1688", "--quantize", "INT8", "--calibration", str(photos)],
         "--processor is tpu-mlir's"),
        (["--backend", "tpu-mlir", "--quantize", "INT8", "--disable-layer-group", "--calibration", str(photos)],
         "--disable-layer-group is for a compiled tpu-mlir model"),
        (["--backend", "mnn", "--quantize", "INT8", "--calibration", str(photos)],
         "judged on --backend rknn or tpu-mlir, not mnn"),
    ]
    for extra, message in cases:
        assert main(["verify", factory, str(prefix), *extra]) == 2
        assert message in capsys.readouterr().err
