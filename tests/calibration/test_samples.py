"""scikit-image's bundled photos as calibration images, read back through the calibration reader."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from purecaffe.calibration import Preprocess, read_calibration, sample_images

pytest.importorskip("skimage")


def test_bundled_samples_calibrate(tmp_path: Path) -> None:
    written = sample_images(tmp_path, count=3)
    assert [p.name for p in written] == ["00_astronaut.png", "01_coffee.png", "02_chelsea.png"]
    samples = read_calibration(tmp_path, {"data": (1, 3, 16, 16)},
                               Preprocess(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)))
    assert len(samples) == 3
    values = np.concatenate([s["data"].ravel() for s in samples])
    assert -2.2 < values.min() < -1.0 and 1.5 < values.max() < 2.7  # ImageNet-normalized photos
    assert len({float(s["data"].std()) for s in samples}) == 3  # three different photos
