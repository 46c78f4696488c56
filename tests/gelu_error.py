"""The exact GELU in float64 and the worst error of a GELU's values in ulps (a helper module for the GELU
tests in tests/converter/lowerings/test_gelu.py and tests/realcaffe/test_gelu_in_real_caffe.py)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

import purecaffe


def exact(x: np.ndarray) -> np.ndarray:
    xd = torch.from_numpy(x).double()
    return (xd * 0.5 * torch.special.erfc(-xd / math.sqrt(2.0))).numpy()


def worst_errors(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Worst error of y = GELU(x): in ulps of x (x != 0), of the result for x > 0 and for -4 <= x < 0."""
    truth = exact(x)
    err = np.abs(y.astype(np.float64) - truth)

    def ulps(mask: np.ndarray, of: np.ndarray) -> float:
        return float(np.max(err[mask] / np.spacing(np.abs(of[mask]).astype(np.float32)).astype(np.float64)))

    return {"x": ulps(x != 0, x), "positive": ulps(x > 0, truth), "negative": ulps((x < 0) & (x >= -4), truth)}


def gelu_files(tmp: Path) -> tuple[purecaffe.ConvertedNet, Path, Path]:
    net = purecaffe.convert(nn.GELU().eval(), (torch.randn(1, 1, 1, 8),))
    files = net.save(tmp / "gelu")
    return net, files.prototxt, files.caffemodel
