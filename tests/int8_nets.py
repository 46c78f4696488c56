"""The small classifier the int8 tests build on every toolchain, and the preprocessing of its photos.

Calibration photos: scikit-image's bundled samples (`purecaffe.calibration.sample_images`, no download).
"""
from __future__ import annotations

import tempfile

import torch
from torch import nn

from purecaffe.calibration import Preprocess, fit_batchnorm_statistics, read_calibration, sample_images

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
