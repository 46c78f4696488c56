"""GELU, exact (erf) and tanh: converted nets against PyTorch, and the erf construction against float64.

Tolerances:
* against PyTorch, rtol 1e-6 of max|tensor|: the construction is within 1.9 ulps of x of the exact GELU
  (measured below), PyTorch's own CPU GELU within 5.5 ulps of x; together < 7.4 * 2^-23 |x| < 1e-6 |x|.
* against float64 (`exact`): the measured worst errors stated in `lowerings/gelu.py` (`MEASURED_*`),
  checked on a strided sweep of float32 bit patterns in the runtime and on a dense grid in real Caffe
  (whose expf/powf round differently from the runtime's torch kernels by an ulp, hence the margin).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import purecaffe
from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn
from converter.lowerings._targets import TARGETS, on_target, rknn_judged
from gelu_error import exact, gelu_files, worst_errors
from purecaffe.converter.lowerings import gelu as construction

TIGHT = {"rtol": 1e-6, "atol": 1e-7, "reason": "<= 1.9 ulps of x (ours) + 5.5 (PyTorch's) of the exact GELU"}


def _scaled(approximate: str) -> nn.Module:
    """Inputs spread to about +-12: both tails, close to where exp(-x^2/2) leaves float32 (|x| 13.2)."""
    return Fn(lambda x: nn.functional.gelu(x * 4.0, approximate=approximate))


CASES = [
    Case("erf-4d-odd", _scaled("none"), [(1, 3, 7, 5)], expect_layers=("AbsVal", "Exp", "Eltwise"), **TIGHT),
    Case("erf-batch-1x1", _scaled("none"), [(2, 5, 1, 1)], **TIGHT),
    Case("erf-3d", _scaled("none"), [(1, 5, 6)], **TIGHT),
    Case("erf-2d", _scaled("none"), [(3, 11)], **TIGHT),
    Case("erf-module-after-linear", lambda: nn.Sequential(nn.Linear(7, 9), nn.GELU(), nn.Linear(9, 3)), [(2, 5, 7)],
         **TIGHT),
    Case("erf-caffe1", _scaled("none"), [(1, 3, 7, 5)], convert_kwargs={"target": "caffe1"}, **TIGHT),
    Case("tanh-odd", _scaled("tanh"), [(1, 3, 7, 5)], expect_layers=("TanH",)),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gelu(case: Case, results) -> None:
    results[case.id].check()


# ------------------------------------------------------------------------- error against float64


def _float32_sweep(limit: float, stride: int) -> np.ndarray:
    """Every `stride`-th float32 bit pattern in [0, limit], both signs."""
    top = int(np.array([limit], dtype=np.float32).view(np.int32)[0])
    positive = np.arange(0, top + 1, stride, dtype=np.int32).view(np.float32)
    return np.concatenate([positive, -positive])


def test_erf_construction_error_over_float32_sweep(tmp_path: Path) -> None:
    """Every 509th float32 in [-16, 16] (4.3 million values, a prime stride so no exponent's mantissa
    pattern is skipped systematically) through the runtime: within the bounds `scripts/measure_gelu_error.py`
    measured on every float32 of the peak binades and every 61st one in [-16, 16] (gelu.py's docstring)."""
    net, prototxt, caffemodel = gelu_files(tmp_path)
    x = _float32_sweep(16.0, 509)
    result = purecaffe.run(str(prototxt), str(caffemodel), {net.input_names[0]: x.reshape(1, 1, 1, -1)},
                           keep_steps=False)
    y = result.blobs[net.output_names[0]].reshape(-1)
    assert np.all(np.isfinite(y))
    worst = worst_errors(x, y)
    assert worst["x"] <= construction.MEASURED_ULPS_OF_X, worst
    assert worst["positive"] <= construction.MEASURED_ULPS_POSITIVE, worst
    assert worst["negative"] <= construction.MEASURED_ULPS_NEGATIVE, worst
    # PyTorch's own GELU, judged the same way, is worse in ulps of x: the construction is no further from it
    # than the two errors together.
    theirs = worst_errors(x, nn.functional.gelu(torch.from_numpy(x)).numpy())
    assert theirs["x"] > worst["x"], (theirs, worst)


def test_erf_construction_far_out_and_tiny(tmp_path: Path) -> None:
    """Beyond the fit (exp underflows: relu(x) exactly, and -0/0 for x < -14), huge and denormal inputs."""
    net, prototxt, caffemodel = gelu_files(tmp_path)
    x = np.array([20.0, 1e5, 3e38, -20.0, -1e5, -3e38, 1e-40, -1e-40, 1e-20, -1e-20, 0.0], dtype=np.float32)
    y = purecaffe.run(str(prototxt), str(caffemodel), {net.input_names[0]: x.reshape(1, 1, 1, -1)}).blobs[
        net.output_names[0]].reshape(-1)
    np.testing.assert_array_equal(y[:6], np.maximum(x[:6], 0))
    np.testing.assert_allclose(y[6:], exact(x[6:]), rtol=2 ** -22, atol=0)


# ------------------------------------------------------------------------------------- targets

# rknn has neither AbsVal nor Exp (its Caffe front end, catalog.RKNN_LAYERS), sophgo and mnn no Exp: the
# rules write |x| as max(x, -x) and the GELU's e^y as sigmoid(y) / sigmoid(-y) (`targets.rules_powers`).
REFUSED: dict[str, str] = {}


@pytest.mark.parametrize("target", TARGETS)
def test_erf_gelu_on_targets(target: str, tmp_path: Path) -> None:
    on_target(lambda: nn.Sequential(nn.Conv2d(3, 5, 3), nn.GELU()), [(1, 3, 9, 7)], target, REFUSED, tmp_path)


@pytest.mark.parametrize("target", TARGETS)
def test_tanh_gelu_on_targets(target: str, tmp_path: Path) -> None:
    on_target(lambda: nn.Sequential(nn.Conv2d(3, 5, 3), nn.GELU(approximate="tanh")), [(1, 3, 9, 7)], target, {},
              tmp_path)


@pytest.mark.rknn
@pytest.mark.slow
def test_erf_gelu_in_rknn(rknn_venv, tmp_path: Path) -> None:
    rknn_judged(lambda: nn.Sequential(nn.Conv2d(3, 5, 3), nn.GELU()), [(1, 3, 9, 7)], tmp_path)


@pytest.mark.rknn
@pytest.mark.slow
def test_tanh_gelu_in_rknn(rknn_venv, tmp_path: Path) -> None:
    rknn_judged(lambda: nn.Sequential(nn.Conv2d(3, 5, 3), nn.GELU(approximate="tanh")), [(1, 3, 9, 7)], tmp_path)
