"""Convolution and transposed convolution in real Caffe: groups, dilation, stride, padding.

Tolerance: run_compare_torch's default 1e-4 x max|tensor| (float32 sums in another order).
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from batched_compare import Case, compare_cases
from torch_compare import run_compare_torch

pytestmark = pytest.mark.real_caffe

# (in, out, kernel, stride, padding, dilation, groups, bias, H, W)
CONVS = [
    (3, 8, 3, 1, 1, 1, 1, True, 7, 9),
    (3, 8, 3, 2, 0, 1, 1, False, 11, 8),
    (4, 8, (3, 5), (2, 1), (1, 2), 1, 2, True, 9, 10),
    (6, 6, 3, 1, 1, 1, 6, True, 5, 5),         # depthwise
    (4, 4, 3, 1, 2, 2, 1, True, 9, 7),         # dilated
    (4, 6, 1, 1, 0, 1, 2, False, 3, 3),
    (2, 4, 7, 3, 3, 1, 1, True, 15, 13),
    (3, 5, 3, 1, "same", 1, 1, True, 6, 7),
    (3, 5, 4, 1, "same", 1, 1, True, 6, 7),    # even kernel: asymmetric padding
    (3, 5, 2, 1, "same", 3, 1, True, 8, 5),    # asymmetric with dilation
    (3, 5, (2, 3), 1, "valid", 1, 1, True, 6, 7),
]


@pytest.mark.parametrize("spec", CONVS, ids=str)
def test_conv2d(spec) -> None:
    cin, cout, kernel, stride, padding, dilation, groups, bias, h, w = spec
    module = nn.Conv2d(cin, cout, kernel, stride, padding, dilation, groups, bias)
    run_compare_torch(module, (2, cin, h, w), expect_layers=["Convolution"])


# (in, out, kernel, stride, padding, output_padding, dilation, groups, bias, H, W)
DECONVS = [
    (4, 3, 3, 2, 1, 1, 1, 1, True, 5, 6),
    (4, 6, 4, 2, 1, 0, 1, 2, False, 4, 7),
    (3, 3, 2, 2, 0, 0, 1, 3, True, 5, 5),
    (2, 4, 3, 1, 0, 0, 2, 1, True, 6, 4),
    (2, 4, (3, 5), (2, 3), (1, 2), (1, 2), 1, 1, True, 4, 5),
    (4, 4, 5, 3, 2, (2, 0), 1, 4, True, 3, 4),
]


@pytest.mark.parametrize("spec", DECONVS, ids=str)
def test_conv_transpose2d(spec) -> None:
    cin, cout, kernel, stride, padding, output_padding, dilation, groups, bias, h, w = spec
    module = nn.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding, groups, bias, dilation)
    run_compare_torch(module, (1, cin, h, w), expect_layers=["Deconvolution"])


def test_conv_transpose2d_output_padding_beyond_padding_is_refused() -> None:
    import purecaffe
    from purecaffe.converter import UnsupportedOpsError

    module = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=0, output_padding=1).eval()
    with pytest.raises(UnsupportedOpsError, match="output_padding 1 > padding 0"):
        purecaffe.convert(module, (torch.randn(1, 2, 4, 4),))


class FunctionalConv(nn.Module):
    """Weights used through F.conv2d (a constant read from a buffer)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("kernel", torch.randn(4, 3, 3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel, stride=2, padding=1)


def test_functional_conv2d() -> None:
    run_compare_torch(FunctionalConv(), (1, 3, 9, 9), expect_layers=["Convolution"])


class PaddedConv(nn.Module):
    """TF-style 'same' padding: an explicit asymmetric zero F.pad before a strided conv."""

    def __init__(self, pad: tuple[int, ...], stride: int, kernel: int) -> None:
        super().__init__()
        self.pad = pad
        self.conv = nn.Conv2d(3, 4, kernel, stride=stride, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.pad))


@pytest.mark.parametrize("pad,stride,kernel", [((0, 1, 0, 1), 2, 3), ((1, 2, 0, 1), 2, 3), ((2, 0), 1, 3),
                                               ((1, 2, 2, 1), 3, 4)], ids=str)
def test_zero_pad_folded_into_conv(pad, stride: int, kernel: int) -> None:
    comparison = run_compare_torch(PaddedConv(pad, stride, kernel), (1, 3, 9, 10), expect_layers=["Convolution"])
    assert "Slice" in {layer.type for layer in comparison.net.net.layer} or pad[0] == pad[1]


class CoreConvolution(nn.Module):
    """The core-ATen form `aten.convolution`, plain and transposed."""

    def __init__(self, transposed: bool) -> None:
        super().__init__()
        self.transposed = transposed
        self.weight = nn.Parameter(torch.randn(4, 2, 3, 3) * 0.3)
        self.bias = nn.Parameter(torch.randn(4 if not transposed else 4) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.transposed:
            return torch.convolution(x, self.weight, self.bias, [2, 2], [1, 1], [1, 1], True, [1, 1], 2)
        return torch.convolution(x, self.weight, self.bias, [2, 1], [1, 2], [1, 1], False, [0, 0], 2)


@pytest.mark.parametrize("transposed", [False, True])
def test_core_aten_convolution(transposed: bool) -> None:
    run_compare_torch(CoreConvolution(transposed), (1, 4, 6, 7),
                      expect_layers=["Deconvolution" if transposed else "Convolution"])


class UnderscoreConvolution(CoreConvolution):
    """`aten._convolution`: `convolution`'s arguments plus backend flags (benchmark, deterministic,
    cudnn_enabled, allow_tf32) that do not change the result; torch.export keeps it as it is."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.transposed:
            return torch._convolution(x, self.weight, self.bias, [2, 2], [1, 1], [1, 1], True, [1, 1], 2,
                                      False, False, True, True)
        return torch._convolution(x, self.weight, self.bias, [2, 1], [1, 2], [1, 1], False, [0, 0], 2,
                                  False, False, True, True)


@pytest.mark.parametrize("transposed", [False, True])
def test_underscore_convolution_plain_and_transposed(transposed: bool) -> None:
    comparison = run_compare_torch(UnderscoreConvolution(transposed), (1, 4, 6, 7),
                                   expect_layers=["Deconvolution" if transposed else "Convolution"])
    assert {node.op for node in comparison.net.graph.nodes} == {"aten._convolution"}


# conv1d: (in, out, kernel, stride, padding, dilation, groups, bias, L), all in one real-Caffe run.
CONV1DS = [
    (3, 4, 3, 1, 0, 1, 1, True, 10),
    (3, 6, 5, 2, 2, 1, 3, False, 17),
    (4, 4, 3, 1, 2, 2, 4, True, 9),         # depthwise, dilated
    (2, 5, 1, 3, 0, 1, 1, True, 11),
    (3, 5, 4, 1, "same", 1, 1, True, 9),    # even kernel: asymmetric padding, sliced
    (3, 5, 3, 1, "same", 2, 1, True, 8),
    (3, 5, 3, 1, "valid", 1, 1, False, 7),
]
CONV1D_CASES = [
    Case(f"conv1d-{'-'.join(map(str, c))}", nn.Conv1d(*c[:7], bias=c[7]), [(2, c[0], c[8])],
         expect_layers=("Reshape", "Convolution"), seed=k)
    for k, c in enumerate(CONV1DS)
]


@pytest.fixture(scope="module")
def conv1d_results():
    return compare_cases(CONV1D_CASES)


@pytest.mark.parametrize("case", CONV1D_CASES, ids=lambda c: c.id)
def test_conv1d(case: Case, conv1d_results) -> None:
    conv1d_results[case.id].check()
