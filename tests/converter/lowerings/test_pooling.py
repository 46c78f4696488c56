"""Pooling in real Caffe: floor/ceil, padding, count_include_pad, odd sizes, adaptive.

Tolerance: run_compare_torch's default 1e-4 x max|tensor|; max pooling is exact,
average pooling differs in summation order (and, for count_include_pad=False,
by one extra float32 multiplication).
"""
from __future__ import annotations

import pytest
import torch.nn as nn

from batched_compare import Case, compare_cases
from torch_compare import run_compare_torch

from converter.lowerings._deploy import on_target

pytestmark = pytest.mark.real_caffe

# (kernel, stride, padding, input H, input W)
WINDOWS = [
    (2, 2, 0, 7, 7),
    (3, 2, 0, 8, 9),
    (3, 2, 1, 7, 10),
    (3, 1, 1, 5, 5),
    ((3, 2), (2, 1), (1, 0), 9, 6),
    (2, 3, 0, 8, 5),    # kernel < stride: Caffe CEIL has one window too many -> sliced off
    (1, 3, 0, 5, 7),
    (5, 3, 2, 11, 13),
    (4, 4, 2, 9, 9),
]


@pytest.mark.parametrize("ceil_mode", [False, True], ids=["floor", "ceil"])
@pytest.mark.parametrize("window", WINDOWS, ids=str)
def test_max_pool2d(window, ceil_mode: bool) -> None:
    kernel, stride, padding, h, w = window
    run_compare_torch(nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode), (1, 3, h, w),
                      expect_layers=["Pooling"])


@pytest.mark.parametrize("count_include_pad", [True, False], ids=["include_pad", "exclude_pad"])
@pytest.mark.parametrize("ceil_mode", [False, True], ids=["floor", "ceil"])
@pytest.mark.parametrize("window", WINDOWS, ids=str)
def test_avg_pool2d(window, ceil_mode: bool, count_include_pad: bool) -> None:
    kernel, stride, padding, h, w = window
    run_compare_torch(nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode,
                                   count_include_pad=count_include_pad), (2, 3, h, w), expect_layers=["Pooling"])


def test_avg_pool2d_divisor_override() -> None:
    run_compare_torch(nn.AvgPool2d(3, 2, 1, divisor_override=4), (1, 2, 7, 7))


@pytest.mark.parametrize("size,output", [((7, 7), 1), ((8, 6), (4, 3)), ((9, 5), (3, 1)), ((6, 6), (6, 6))], ids=str)
@pytest.mark.parametrize("kind", ["avg", "max"])
def test_adaptive_pool2d(size, output, kind: str) -> None:
    module = nn.AdaptiveAvgPool2d(output) if kind == "avg" else nn.AdaptiveMaxPool2d(output)
    run_compare_torch(module, (1, 3, *size), expect_layers=["Pooling"])


# Adaptive pooling where the sizes do not divide (Fast-SCNN's and ICNet's pyramid pooling: 8x16 to
# 3x3 and 6x6): per-window Pooling along H, then W.  Max is exact; average pools each row's mean
# over columns, which differs from PyTorch's one sum only in float32 rounding (default 1e-4 bound).
ADAPTIVE_CASES = [
    Case(f"adaptive-{kind}-{h}x{w}-to-{oh}x{ow}",
         nn.AdaptiveAvgPool2d((oh, ow)) if kind == "avg" else nn.AdaptiveMaxPool2d((oh, ow)),
         [(n, 3, h, w)], expect_layers=("Slice", "Pooling", "Concat"))
    for kind in ("avg", "max")
    for n, h, w, oh, ow in [(1, 8, 16, 3, 3), (2, 8, 16, 6, 6), (1, 7, 8, 3, 3), (1, 5, 5, 2, 3),
                            (1, 2, 3, 3, 5), (2, 9, 6, 4, 3), (1, 13, 11, 1, 4), (1, 7, 1, 3, 1)]
]


@pytest.fixture(scope="module")
def adaptive_results():
    return compare_cases(ADAPTIVE_CASES)


@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=lambda c: c.id)
def test_adaptive_pool2d_not_dividing(case: Case, adaptive_results) -> None:
    adaptive_results[case.id].check()


def test_adaptive_max_pool2d_not_dividing_is_exact() -> None:
    """Max pooling only copies values: the construction must give PyTorch's maxima bit for bit."""
    comparison = run_compare_torch(nn.AdaptiveMaxPool2d((3, 5)), (1, 4, 8, 13), backend="runtime")
    assert comparison.worst is not None and comparison.worst.max_abs_error == 0.0


@pytest.mark.parametrize("target", ["opencv", "nnie", "caffe1", "rknn"])
@pytest.mark.parametrize("kind", ["avg", "max"])
def test_adaptive_pool2d_not_dividing_on_targets(kind: str, target: str, tmp_path, request) -> None:
    """One Slice of disjoint parts, every part read (rknn cannot end an unused top), on each consumer."""
    if target == "rknn":
        request.getfixturevalue("rknn_venv")
    module = nn.AdaptiveAvgPool2d((3, 6)) if kind == "avg" else nn.AdaptiveMaxPool2d((3, 6))
    on_target(module, (1, 3, 8, 16), target, tmp_path)


@pytest.mark.parametrize("module,shape,reason", [
    (nn.MaxPool2d(3, 1, 1, dilation=2), (1, 2, 9, 9), "dilation"),
], ids=["dilated_max"])
def test_refused_with_reason(module: nn.Module, shape, reason: str) -> None:
    import torch

    import purecaffe
    from purecaffe.converter import UnsupportedOpsError

    with pytest.raises(UnsupportedOpsError, match=reason):
        purecaffe.convert(module.eval(), (torch.randn(*shape),))


class ChannelPool(nn.Module):
    """LPRNet: nn.MaxPool3d((1, k, k), stride=(s, ...)) on a 4-D (N, C, H, W) tensor, which PyTorch
    takes as an unbatched (C, D, H, W) volume: the depth stride picks every s-th channel."""

    def __init__(self, kernel, stride, as_5d: bool = False) -> None:
        super().__init__()
        self.pool = nn.MaxPool3d(kernel, stride)
        self.as_5d = as_5d

    def forward(self, x):
        x = x * 2.0
        if self.as_5d:
            return self.pool(x.unsqueeze(1)).squeeze(1) + 1.0
        return self.pool(x) + 1.0


# 1-D and 3-D (one deep) pooling, all in one real-Caffe run.
POOL_CASES = [
    Case("max1d-3-2", nn.MaxPool1d(3, 2), [(1, 4, 11)], expect_layers=("Reshape", "Pooling")),
    Case("max1d-ceil", nn.MaxPool1d(3, 2, 1, ceil_mode=True), [(2, 3, 10)]),
    Case("max1d-kernel-lt-stride", nn.MaxPool1d(2, 3), [(1, 3, 8)]),
    Case("avg1d-3-2", nn.AvgPool1d(3, 2), [(1, 4, 11)]),
    Case("avg1d-pad-exclude", nn.AvgPool1d(3, 2, 1, count_include_pad=False), [(2, 3, 9)]),
    Case("avg1d-pad-include-ceil", nn.AvgPool1d(4, 3, 2, ceil_mode=True), [(1, 2, 13)]),
    Case("lprnet-channel-pool", ChannelPool((1, 3, 3), (2, 1, 2)), [(2, 8, 7, 9)],
         expect_layers=("Pooling", "Convolution")),
    Case("lprnet-channel-pool-odd", ChannelPool((1, 3, 3), (4, 1, 2)), [(1, 13, 6, 11)]),
    Case("lprnet-pool-no-depth-stride", ChannelPool((1, 3, 3), (1, 1, 1)), [(1, 5, 6, 7)]),
    Case("max3d-5d-view", ChannelPool((1, 3, 3), (2, 1, 2), as_5d=True), [(2, 7, 7, 9)]),
    Case("refuse-max3d-deep", ChannelPool((2, 3, 3), (2, 1, 2)), [(1, 8, 7, 9)], refused="window 2 deep"),
]


@pytest.fixture(scope="module")
def pool_results():
    return compare_cases(POOL_CASES)


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: c.id)
def test_pool_1d_3d(case: Case, pool_results) -> None:
    pool_results[case.id].check()
