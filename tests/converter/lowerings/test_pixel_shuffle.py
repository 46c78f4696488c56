"""pixel_shuffle / pixel_unshuffle: grouped (de)convolutions with 0/1 weights.

Tolerance 0: every output is 1 * one input plus zeros, which float32 computes exactly.
"""
from __future__ import annotations

import pytest
import torch.nn.functional as F
from torch import nn

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "a 0/1 selection is exact"}


def _around(module: nn.Module) -> nn.Module:
    """A computed input and a consumer (so the shuffled blob is neither a net input nor only an output)."""
    return Fn(lambda x: module(x * 2.0) - 1.0)


CASES = [
    Case("shuffle-2", _around(nn.PixelShuffle(2)), [(1, 8, 5, 7)], expect_layers=("Deconvolution",), **EXACT),
    Case("shuffle-3-batch", _around(nn.PixelShuffle(3)), [(2, 18, 3, 4)], **EXACT),
    Case("shuffle-2-one-channel", _around(nn.PixelShuffle(2)), [(1, 4, 1, 5)], **EXACT),
    Case("shuffle-4", _around(nn.PixelShuffle(4)), [(1, 32, 3, 3)], **EXACT),
    Case("shuffle-1", _around(nn.PixelShuffle(1)), [(1, 3, 3, 5)], **EXACT),
    Case("unshuffle-2", _around(nn.PixelUnshuffle(2)), [(1, 3, 6, 10)], expect_layers=("Convolution",), **EXACT),
    Case("unshuffle-3-batch", _around(nn.PixelUnshuffle(3)), [(2, 2, 9, 6)], **EXACT),
    Case("roundtrip", Fn(lambda x: F.pixel_unshuffle(F.pixel_shuffle(x * 2.0, 2), 2) - x), [(1, 12, 5, 3)],
         **EXACT),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_pixel_shuffle(case: Case, results) -> None:
    results[case.id].check()
