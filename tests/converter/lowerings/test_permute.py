"""permute / transpose and channel shuffle.

Exact (rtol = atol = 0): a permutation that moves only size-1 axes is a Reshape, and a channel
shuffle is a 1x1 Convolution with a permutation matrix (each output = 1.0 * x + 0.0 * others,
exact for finite inputs).  Other permutations are a canonical Permute: native on opencv/rknn,
Slice + Reshape + Concat on bvlc/caffe1 (copies only, so exact too).
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "values are only copied"}


def shuffle_view(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


def shuffle_permute(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)


CASES: list[Case] = []
for groups, channels in ((2, 6), (3, 12), (4, 8), (2, 2)):
    # g == C is the identity permutation: no layer at all.
    layers = ("Convolution",) if groups != channels else ()
    CASES.append(Case(f"shuffle-view-g{groups}-c{channels}", Fn(lambda x, g=groups: shuffle_view(x, g) + 1),
                      [(2, channels, 5, 7)], expect_layers=layers, **EXACT))
CASES += [
    Case("shuffle-permute-g3", Fn(lambda x: shuffle_permute(x, 3) + 1), [(1, 9, 4, 6)],
         expect_layers=("Convolution",), **EXACT),
    Case("shuffle-flatten-merge", Fn(lambda x: x.view(1, 2, 4, 3, 3).transpose(1, 2).flatten(1, 2) + 1),
         [(1, 8, 3, 3)], expect_layers=("Convolution",), **EXACT),
    Case("nn-channel-shuffle", nn.Sequential(nn.ChannelShuffle(4), nn.ReLU()), [(2, 12, 3, 5)],
         expect_layers=("Convolution",), **EXACT),
    Case("permute-size1-axes", Fn(lambda x: x.mean((2, 3), keepdim=True).permute(0, 2, 3, 1) * 2), [(2, 6, 5, 7)],
         rtol=1e-6, reason="the mean sums in another order"),
    Case("transpose-size1", Fn(lambda x: x.transpose(1, 2) * 2), [(2, 1, 6, 5)], **EXACT),
    Case("nhwc-slices", Fn(lambda x: x.permute(0, 2, 3, 1) * 2), [(2, 6, 5, 7)],
         expect_layers=("Slice", "Concat"), **EXACT),
    Case("transpose-hw-slices", Fn(lambda x: x.transpose(2, 3) * 2), [(2, 6, 5, 7)], **EXACT),
    Case("t-slices", Fn(lambda x: x.t() * 2), [(3, 4)], **EXACT),
    Case("retinaface-head", Fn(lambda x: x.permute(0, 2, 3, 1).contiguous().view(x.shape[0], -1, 4)),
         [(2, 8, 5, 3)], **EXACT),
    Case("crnn-ncw-to-wnc", Fn(lambda x: x.permute(2, 0, 1) + 1), [(2, 5, 7)], **EXACT),
    Case("caffe1-nhwc", Fn(lambda x: x.permute(0, 2, 3, 1) * 2), [(2, 6, 5, 7)], convert_kwargs={"target": "caffe1"},
         expect_layers=("Slice", "Concat"), **EXACT),
    Case("huge-swap-convolutions", Fn(lambda x: x.transpose(1, 2) * 2), [(1, 600, 600, 2)],
         expect_layers=("Convolution",), rtol=0.0, atol=0.0,  # past 512 Slice tops: 24- and 25-tap convolutions
         reason="one-hot convolutions: each output is 1 x one input plus exact zeros"),
    Case("refuse-prime-swap", Fn(lambda x: x.transpose(1, 2) * 2), [(1, 3, 4099)],
         refused="would need 4099 Slice tops (more than 512) or folded one-hot Convolutions: 16801801 weights"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_permute(case: Case, results) -> None:
    results[case.id].check()
