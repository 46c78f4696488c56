"""The small classifier the int8 tests build on every toolchain, and the preprocessing of its photos.

Calibration photos: scikit-image's bundled samples (`purecaffe.calibration.sample_images`, no download).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import purecaffe
from purecaffe.calibration import Preprocess, fit_batchnorm_statistics, read_calibration, sample_images
from purecaffe.cli import main
from purecaffe.int8.routes import INT8_MIN_COSINE, ONNX_MARGIN

IMAGENET = Preprocess(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375))
IMAGENET_ARGS = ["--mean", "123.675,116.28,103.53", "--std", "58.395,57.12,57.375"]
SHAPE = (1, 3, 32, 32)


def small_classifier() -> nn.Module:
    """Convolutions with BatchNorm and a max pool, global pooling, 10 classes; seeded."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))


def small_classifier_fitted() -> nn.Module:
    """The classifier with BatchNorm statistics from the bundled photos (the CLI's factory)."""
    model = small_classifier()
    with tempfile.TemporaryDirectory() as folder:
        sample_images(folder, count=6)
        samples = read_calibration(folder, {"data": SHAPE}, IMAGENET)
    fit_batchnorm_statistics(model, [torch.cat([torch.from_numpy(s["data"]) for s in samples])])
    return model


def verify_int8_from_the_cli(target: str, backend: str, photos: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    """`purecaffe convert` the fitted small classifier for `target`, then `purecaffe verify --backend
    <backend> --quantize int8 --calibration <photos> --json --report`, as a user runs them; (the JSON, the
    HTML report).  Checks what holds on every toolchain: both commands succeed, both int8 routes ran, the
    Caffe route's cosines clear INT8_MIN_COSINE and the ONNX route's minus ONNX_MARGIN, it is scored as a
    classifier, and its output row (layer "9") against PyTorch clears INT8_MIN_COSINE."""
    factory = f"{__file__}:small_classifier_fitted"
    prefix = tmp_path / "small"
    assert main(["convert", factory, "--input-shape", ",".join(map(str, SHAPE)), "--target", target,
                 "-o", str(prefix)]) == 0
    capsys.readouterr()
    report = tmp_path / "int8.html"
    code = main(["verify", factory, str(prefix), "--backend", backend, "--quantize", "int8", "--calibration",
                 str(photos), *IMAGENET_ARGS, "--json", "--report", str(report)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0, data["summary"]
    int8 = data["int8"]
    caffe, onnx = int8["caffe"], int8["onnx"]
    assert caffe["error"] is None and onnx["error"] is None
    assert min(caffe["eval_cosine"].values()) >= INT8_MIN_COSINE
    assert int8["gap"] >= -ONNX_MARGIN
    assert caffe["top1"] is not None and caffe["topk"] is not None  # a 10-class output: scored as a classifier
    rows = {row["layer"]: row for row in data["comparisons"]}
    assert rows["9"]["cosine"] >= INT8_MIN_COSINE  # the classifier's output against PyTorch, on the probe photo
    return data, report.read_text()


def avg_pool_edited(photos: Path, tmp_path: Path, target: str) -> tuple[nn.Module, tuple[torch.Tensor], list, Path]:
    """The fitted small classifier converted for `target`, its one max pool then edited to an average pool in
    the prototxt (a wrongly read layer): (model, probe input, calibration samples, the files' prefix)."""
    model = small_classifier_fitted()
    samples = read_calibration(photos, {"data": SHAPE}, IMAGENET)
    probe = (torch.from_numpy(samples[0]["data"]),)
    prefix = tmp_path / "small"
    purecaffe.convert(model, probe, target=target, name="small").save(prefix)
    prototxt = prefix.with_suffix(".prototxt")
    text = prototxt.read_text()
    assert text.count("pool: MAX") == 1
    prototxt.write_text(text.replace("pool: MAX", "pool: AVE"))
    return model, probe, samples, prefix
