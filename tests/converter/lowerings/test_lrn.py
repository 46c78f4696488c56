"""nn.LocalResponseNorm: one LRN layer (odd size, or an even window reaching every channel), else
Pooling + Power; real Caffe and the runtime over odd sizes, then the deploy targets.

Tolerance: the default 1e-4 x max|tensor|: Caffe multiplies by d ** -beta where PyTorch divides by
d ** beta, and sums the window in another order (LRN: a running sum), float32 rounding apart.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

import purecaffe
from batched_compare import Case, compare_cases
from converter.lowerings._deploy import on_target

pytestmark = pytest.mark.real_caffe


class Scaled(nn.Module):
    """LocalResponseNorm of 3 * x: squares well away from k, so a wrong alpha or window shows."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x * 3.0)


def _lrn(size: int, alpha: float = 1e-2, beta: float = 0.75, k: float = 1.0) -> nn.Module:
    return Scaled(nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k))


CASES = [
    Case("odd-3", _lrn(3), [(1, 7, 5, 9)], expect_layers=("LRN",)),
    Case("odd-5-alexnet", _lrn(5, alpha=1e-4, beta=0.75, k=2.0), [(2, 9, 6, 7)], expect_layers=("LRN",)),
    Case("odd-5-k0", _lrn(5, alpha=1.0, beta=0.5, k=0.0), [(1, 6, 3, 5)], expect_layers=("LRN",)),
    Case("odd-wider-than-channels", _lrn(9, alpha=0.5, beta=1.0, k=1.5), [(1, 4, 5, 3)], expect_layers=("LRN",)),
    Case("odd-1", _lrn(1, alpha=0.3, beta=0.6, k=1.0), [(1, 3, 4, 5)], expect_layers=("LRN",)),
    Case("even-2", _lrn(2, alpha=0.2), [(1, 7, 5, 9)], expect_layers=("Pooling", "Power")),
    Case("even-4-k0", _lrn(4, alpha=1.0, beta=0.5, k=0.0), [(2, 9, 3, 5)], expect_layers=("Pooling", "Power")),
    Case("even-6-beta1", _lrn(6, alpha=0.1, beta=1.0, k=0.5), [(1, 5, 7, 1)], expect_layers=("Pooling",)),
    Case("even-covering", _lrn(16, alpha=16.0, beta=0.5, k=0.0), [(1, 8, 3, 5)], expect_layers=("LRN",)),
    Case("sosnet-l2", _lrn(256, alpha=256.0, beta=0.5, k=0.0), [(2, 128, 1, 1)], expect_layers=("LRN",)),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_local_response_norm(case: Case, results) -> None:
    results[case.id].check()


def test_the_whole_pattern_becomes_one_layer() -> None:
    """No avg_pool3d, 5-D view or depth padding of F.local_response_norm is left for a lowering."""
    net = purecaffe.convert(nn.LocalResponseNorm(5).eval(), (torch.randn(1, 6, 4, 4),))
    assert [layer.type for layer in net.net.layer if layer.type != "Input"] == ["LRN"]


@pytest.mark.parametrize("size,target,refused", [
    (5, "opencv", None), (5, "rknn", None), (5, "nnie", None), (5, "caffe1", None),
    (4, "opencv", None), (4, "rknn", None), (4, "caffe1", None),
    (4, "nnie", "Power exponent -0.75"),  # NNIE's Power takes only a few exponents: its check refuses
], ids=str)
def test_local_response_norm_on_targets(size: int, target: str, refused: str | None, tmp_path, request) -> None:
    if target == "rknn":
        request.getfixturevalue("rknn_venv")
    on_target(_lrn(size, alpha=0.1, beta=0.75, k=1.0), (1, 7, 5, 9), target, tmp_path, refused=refused)
