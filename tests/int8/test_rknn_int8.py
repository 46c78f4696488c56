"""int8 on RKNN-Toolkit2 end to end: a small classifier calibrated on scikit-image's bundled photos,
built int8 by both routes (load_caffe and torch.onnx.export -> load_onnx), judged against PyTorch.

Kept short for CI: one 32x32 net, three RKNN builds (~10 s each here).  The bounds are the verdict's
(INT8_MIN_COSINE, ONNX_MARGIN: purecaffe.int8.routes says why).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import int8_nets
from int8_nets import SHAPE, avg_pool_edited, verify_int8_from_the_cli
from purecaffe.calibration import sample_images
from purecaffe.cli import main
from purecaffe.int8 import rknn_int8
from purecaffe.int8.routes import INT8_MIN_COSINE
from purecaffe.rknn import RknnQuantization

pytestmark = pytest.mark.rknn
pytest.importorskip("skimage")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    sample_images(folder, count=6)
    return folder


def test_verify_int8_both_routes_from_the_cli(rknn_venv: Path, photos: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    data, page = verify_int8_from_the_cli("rknn", "rknn", photos, tmp_path, capsys)
    caffe = data["int8"]["caffe"]
    assert len(caffe["layers"]) >= 4 and all(0.9 < layer["cosine"] <= 1.0 + 1e-6 for layer in caffe["layers"])
    assert "<svg" in page and "INT8 OK" in page and "onnx (torch.onnx.export -&gt; load_onnx)" in page


def test_a_wrongly_read_layer_fails_the_int8_verdict(rknn_venv: Path, photos: Path, tmp_path: Path) -> None:
    """The max pool edited to an average pool: int8 noise cannot hide a wrong layer."""
    model, probe, samples, prefix = avg_pool_edited(photos, tmp_path, "rknn")
    result = rknn_int8(model, probe, prefix, RknnQuantization(samples[:4]), evaluate=samples, onnx=False)
    assert result.caffe.ok and result.onnx is None
    assert result.caffe.min_output_cosine < INT8_MIN_COSINE and not result.passed
    assert result.summary().startswith("INT8 FAILED")


def test_calibration_arrays_and_cli_errors(photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Refusals before anything is built: the options that go together, by message and exit status."""
    prefix = tmp_path / "small"
    factory = f"{int8_nets.__file__}:small_classifier"
    assert main(["convert", factory, "--input-shape", ",".join(map(str, SHAPE)), "-o", str(prefix)]) == 0
    np.save(tmp_path / "wrong.npy", np.zeros((2, 3, 8, 8), np.float32))
    capsys.readouterr()
    cases = [
        (["--backend", "runtime", "--quantize", "INT8", "--calibration", str(photos)], "judged on --backend rknn"),
        (["--backend", "rknn", "--quantize", "INT8"], "--quantize INT8 needs --calibration CALIB"),
        (["--backend", "rknn", "--calibration", str(photos)], "--calibration goes with --quantize INT8"),
        (["--backend", "rknn", "--quantize", "INT8", "--calibration", str(tmp_path / "wrong.npy")],
         "has shape (2, 3, 8, 8); the input is (1, 3, 32, 32)"),
    ]
    for extra, message in cases:
        assert main(["verify", factory, str(prefix), *extra]) == 2
        assert message in capsys.readouterr().err
