"""Constant tensors: folded, stored in a Parameter layer, or a Power fill (zeros_like & co).

All exact (rtol = atol = 0): constants are stored as float32 values and only copied or added.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Const, Fn, seeded

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "constants are stored exactly"}
X = (2, 6, 5, 7)


class Anchors(nn.Module):
    """A constant made in forward from torch factories (folded at conversion), concatenated."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = torch.arange(35, dtype=torch.float32).reshape(1, 1, 5, 7).expand(2, 1, 5, 7) / 7
        return torch.cat([x, grid], 1)


CASES = [
    Case("zeros_like-plus", Fn(lambda x: torch.zeros_like(x) + x * 2), [X], **EXACT),
    Case("ones_like", Fn(lambda x: torch.ones_like(x) - x), [X], **EXACT),
    Case("full_like", Fn(lambda x: torch.full_like(x, -2.5) * x), [X], **EXACT),
    Case("folded-factory-constant", Anchors(), [X], expect_layers=("Parameter", "Concat"), **EXACT),
    Case("buffer-cat-batch", Const(lambda x, c: torch.cat([x, c], 0) + 1, seeded(1, 6, 5, 7)), [X],
         expect_layers=("Parameter",), **EXACT),
    Case("buffer-transformed", Const(lambda x, c: x * c.t().reshape(1, 6, 1, 1), seeded(1, 6)), [X],
         expect_layers=("Scale",), **EXACT),
    Case("refuse-constant-output", Const(lambda x, c: (x + 1, c * 2), seeded(3)), [X], refused="constant"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_constants(case: Case, results) -> None:
    results[case.id].check()
