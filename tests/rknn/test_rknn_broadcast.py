"""Broadcast products and sums on RKNN-Toolkit2's simulator, outputs read by position as board code does.

Before the rknn rules (`purecaffe.targets.rules_broadcast`), measured here: LEDNet's and PAN's
spatial gates failed RKNN's build ("Node (mul) Op (Mul) [ShapeInferenceError] Incompatible
dimensions"), an (H,) gate on an 8 x 8 map came back multiplied along W (cosine 0.994, 19 % off),
and every broadcast sum was refused (no Bias).  Tolerances: RKNN computes in fp16
(purecaffe.targets.judges: cosine >= 0.9999, max error <= 5e-2 of max|torch|).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from broadcast_nets import GATES, SIZE, AttentionPyramid, Gate, PanGates
from judge_nets import randomized, save_converted
from purecaffe.targets.judges import FP16
from purecaffe.rknn import run_rknn

pytestmark = pytest.mark.rknn


def _positional(model: nn.Module, x: torch.Tensor, prefix: Path, venv: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RKNN's i-th output, torch's i-th output) pairs of the net converted for rknn."""
    files, expected = save_converted(model, x, prefix, target="rknn")
    run = run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=venv, dump_layers=False)
    assert run.ok, run.error
    assert not run.dropped, run.dropped
    got = list(run.outputs.values())
    assert len(got) == len(expected)
    return list(zip(got, expected))


def _assert_fp16_close(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    cosine = float(np.dot(got.ravel(), expected.ravel()) / (np.linalg.norm(got) * np.linalg.norm(expected)))
    rel = float(np.abs(got - expected).max() / np.abs(expected).max())
    assert cosine >= FP16.min_cosine and rel <= FP16.rtol, (cosine, rel)


@pytest.mark.parametrize("gate, op", [(gate, "mul") for gate in sorted(GATES)] +
                         [("channel", "add"), ("spatial", "add"), ("height", "add")])
def test_gate_on_rknn(gate: str, op: str, rknn_venv: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    for got, expected in _positional(Gate(GATES[gate], op).eval(), x, tmp_path / "gate", rknn_venv):
        _assert_fp16_close(got, expected)


@pytest.mark.parametrize("factory", [AttentionPyramid, PanGates], ids=["lednet_apn", "pan_fpa_gau"])
def test_attention_net_on_rknn(factory: type[nn.Module], rknn_venv: Path, tmp_path: Path) -> None:
    model = randomized(factory())
    x = torch.randn(1, 8, 16, 24, generator=torch.Generator().manual_seed(2))
    for got, expected in _positional(model, x, tmp_path / "net", rknn_venv):
        _assert_fp16_close(got, expected)


def test_flatten_from_axis_two_on_rknn(rknn_venv: Path, tmp_path: Path) -> None:
    """Written as Flatten, RKNN built a 2-D (8, 60) and refused the Softmax over its axis 2."""
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Flatten(2), nn.Softmax(-1)).eval()
    x = torch.randn(1, 3, 6, 10, generator=torch.Generator().manual_seed(3))
    ((got, expected),) = _positional(model, x, tmp_path / "flat", rknn_venv)
    _assert_fp16_close(got, expected)
