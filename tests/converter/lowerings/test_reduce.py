"""mean / sum / amax over axes.

Tolerance 1e-6 of max|tensor| for sums and means: Caffe adds in another order than PyTorch's
vectorised kernels and Reduction MEAN multiplies by fl(1/n); for these sizes the difference is
a few ulps of the largest partial sum.  amax is a global MAX pooling: exact.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn
from converter.lowerings._targets import TARGETS, on_target, rknn_judged

SUM = {"rtol": 1e-6, "atol": 1e-7, "reason": "summation order"}
EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "a maximum is one of the values"}
X = (2, 6, 5, 7)

CASES = [
    Case("mean-hw-keepdim", Fn(lambda x: x.mean((2, 3), keepdim=True) * 2), [X], expect_layers=("Pooling",), **SUM),
    Case("mean-hw", Fn(lambda x: x.mean((2, 3)) * 2), [X], expect_layers=("Pooling", "Flatten"), **SUM),
    Case("mean-hw-negative", Fn(lambda x: x.mean((-1, -2)) * 2), [X], **SUM),
    Case("mean-w", Fn(lambda x: x.mean(3) * 2), [X], expect_layers=("Reduction",), **SUM),
    Case("mean-w-keepdim", Fn(lambda x: x.mean(-1, keepdim=True) * 2), [X], **SUM),
    Case("mean-chw", Fn(lambda x: x.mean((1, 2, 3)) * 2), [X], expect_layers=("Reduction",), **SUM),
    Case("mean-2d", Fn(lambda x: x.mean(1) * 2), [(3, 11)], **SUM),
    Case("sum-hw", Fn(lambda x: x.sum((2, 3)) * 2), [X], expect_layers=("Reduction",), **SUM),
    Case("sum-hw-keepdim", Fn(lambda x: x.sum((2, 3), keepdim=True) * 2), [X], **SUM),
    Case("sum-channels-keepdim", Fn(lambda x: x.sum(1, keepdim=True) * 2), [X], expect_layers=("Convolution",),
         **SUM),
    Case("sum-channels", Fn(lambda x: x.sum(1) * 2), [X], **SUM),
    Case("mean-channels-keepdim", Fn(lambda x: x.mean(1, keepdim=True) * 2), [X], **SUM),
    Case("mean-channels", Fn(lambda x: x.mean(1) * 2), [X], **SUM),
    Case("mean-h", Fn(lambda x: x.mean(2) * 2), [X], expect_layers=("Pooling",), **SUM),
    Case("mean-h-keepdim", Fn(lambda x: x.mean(-2, keepdim=True) * 2), [X], **SUM),
    Case("amax-h", Fn(lambda x: x.amax(2) * 2), [X], expect_layers=("Pooling",), **EXACT),
    Case("amax-w-keepdim", Fn(lambda x: x.amax(3, keepdim=True) * 2), [X], expect_layers=("Pooling",), **EXACT),
    Case("amax-hw", Fn(lambda x: x.amax((2, 3)) * 2), [X], expect_layers=("Pooling",), **EXACT),
    Case("amax-hw-keepdim", Fn(lambda x: x.amax((2, 3), keepdim=True) * 2), [X], **EXACT),
    # Per-sample normalisation by the mean over every non-batch axis: Reduction (N,), a Reshape to
    # (N, 1, 1, 1) for keepdim, then Power(-1) + Scale with the (N,) factor as second bottom (axis 0).
    Case("div-mean-chw", Fn(lambda x: x / x.mean(dim=(1, 2, 3), keepdim=True)), [X],
         expect_layers=("Reduction", "Power", "Scale")),
    Case("div-abs-mean-chw", Fn(lambda x: x / x.abs().mean(dim=(1, 2, 3), keepdim=True)), [(3, 4, 5, 3)]),
    Case("div-abs-sum-chw", Fn(lambda x: x / x.abs().sum(dim=(1, 2, 3), keepdim=True)), [X]),
    Case("div-mean-view", Fn(lambda x: x / x.abs().mean(dim=(1, 2, 3)).view(-1, 1, 1, 1)), [X]),
    Case("sub-mean-chw", Fn(lambda x: x - x.mean(dim=(1, 2, 3), keepdim=True)), [X], expect_layers=("Bias",)),
    Case("div-mean-3d", Fn(lambda x: x / x.abs().mean(dim=(1, 2), keepdim=True)), [(2, 5, 7)]),
    Case("mul-mean-chw-negative-dims", Fn(lambda x: x * x.mean(dim=(-3, -2, -1), keepdim=True)), [(1, 3, 5, 7)]),
    Case("refuse-mean-batch", Fn(lambda x: x.mean(0) * 2), [X], refused="Reduction reduces only trailing axes"),
    Case("refuse-mean-all", Fn(lambda x: x.mean() * x), [X], refused="Reduction reduces only trailing axes"),
    Case("amax-channels", Fn(lambda x: x.amax(1) * 2), [X], expect_layers=("Pooling",), **EXACT),
    # A whole-tensor reduction of a batch-1 net (LPRNet's global context: x / mean(x^2)).
    Case("mean-all-batch1", Fn(lambda x: x / torch.mean(x * x)), [(1, 6, 5, 7)], expect_layers=("Reduction",), **SUM),
    Case("sum-all-batch1", Fn(lambda x: x - x.sum()), [(1, 3, 4, 5)], **SUM),
    Case("mean-all-batch1-2d", Fn(lambda x: x * x.mean()), [(1, 9)], **SUM),
    # One middle axis: Slice into its parts + one Eltwise SUM (ResNeSt's radix axis).
    Case("sum-middle-axis-5d", Fn(lambda x: x.view(2, 3, 2, 5, 7).sum(dim=1) * 2), [(2, 6, 5, 7)],
         expect_layers=("Slice", "Eltwise")),
    Case("mean-middle-axis-keepdim", Fn(lambda x: x.mean(dim=2, keepdim=True) + 1), [(2, 3, 4, 5, 3)]),
    Case("sum-middle-axis-3d", Fn(lambda x: x.sum(dim=1) * 2), [(2, 9, 4)]),
    Case("resnest-split-attention", lambda: SplitAttention(), [(2, 8, 5, 7)]),
    # Another run of axes after the batch: AVE Pooling over an (N, M, L, R) view (a sum as L x the mean).
    Case("sum-wide-middle-axis", Fn(lambda x: x.sum(dim=1) * 2), [(1, 70, 3)], expect_layers=("Pooling", "Power"),
         **SUM),
    Case("mean-nhwc-hw", Fn(lambda x: x.permute(0, 2, 3, 1).mean((1, 2)) * 2), [X], expect_layers=("Pooling",),
         **SUM),  # timm Swin's head
    Case("sum-nhwc-hw-keepdim", Fn(lambda x: x.permute(0, 2, 3, 1).sum((1, 2), keepdim=True) + 1), [(1, 5, 9, 3)],
         **SUM),
    Case("mean-middle-run-5d", Fn(lambda x: x.view(2, 3, 2, 5, 7).mean((2, 3)) + 1), [X], **SUM),
    # Separate axes: a Permute gathers them at the end, then the trailing Reduction.
    Case("mean-separate-axes", Fn(lambda x: x.mean((1, 3)) * 2), [X], expect_layers=("Reduction",), **SUM),
    Case("sum-separate-axes-keepdim", Fn(lambda x: x.sum((1, 3), keepdim=True) + 1), [(1, 3, 5, 7)], **SUM),
    Case("mean-separate-axes-5d", Fn(lambda x: x.view(2, 3, 2, 5, 7).mean((1, 3)) + 1), [X], **SUM),
    Case("refuse-amax-separate-axes", Fn(lambda x: x.amax((1, 3)) * 2), [X], refused="one run of axes"),
]


class SplitAttention(torch.nn.Module):
    """ResNeSt's split attention (radix 2, cardinality 1): sum over the radix axis of a 5-D view, global
    pooling, two 1x1 convs, rSoftMax (view, transpose, softmax over the radix axis), weighted radix sum."""

    def __init__(self, channels: int = 4, radix: int = 2) -> None:
        super().__init__()
        self.radix, self.channels = radix, channels
        self.conv = torch.nn.Conv2d(channels * radix, channels * radix, 3, padding=1, groups=radix)
        self.fc1 = torch.nn.Conv2d(channels, 8, 1)
        self.fc2 = torch.nn.Conv2d(8, channels * radix, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        x = torch.relu(self.conv(x))
        splits = x.view(n, self.radix, self.channels, *x.shape[2:])
        gap = torch.relu(self.fc1(splits.sum(dim=1).mean((2, 3), keepdim=True)))
        attention = self.fc2(gap).view(n, 1, self.radix, -1).transpose(1, 2)
        attention = torch.softmax(attention, dim=1).reshape(n, -1, 1, 1)
        weighted = attention.view(n, self.radix, self.channels, 1, 1) * splits
        return weighted.sum(dim=1)


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reduce(case: Case, results) -> None:
    results[case.id].check()


TARGET_CASES = {
    "mean-nhwc-hw": (lambda: Fn(lambda x: x.permute(0, 2, 3, 1).mean((1, 2)) * 2), [(1, 6, 5, 7)]),
    "sum-wide-middle-axis": (lambda: Fn(lambda x: x.sum(dim=1) * 2), [(1, 70, 3)]),
    "mean-separate-axes": (lambda: Fn(lambda x: x.mean((1, 3), keepdim=True) + 1), [(1, 3, 5, 7)]),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_reduce_on_targets(name: str, target: str, tmp_path: Path) -> None:
    make, inputs = TARGET_CASES[name]
    on_target(make, inputs, target, {}, tmp_path, rtol=1e-5)


@pytest.mark.rknn
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_reduce_in_rknn(name: str, rknn_venv, tmp_path: Path) -> None:  # noqa: ANN001
    make, inputs = TARGET_CASES[name]
    rknn_judged(make, inputs, tmp_path)
