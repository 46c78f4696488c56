"""torch.where with a constant condition: Scale by the 0/1 mask (+ bias for a scalar branch) and Eltwise SUM.

Each product is by exactly 0 or 1 and one summand is a signed zero: the selected values exactly (equality).
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from batched_compare import Case, compare_cases
from converter.lowerings._deploy import on_target

pytestmark = pytest.mark.real_caffe

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "products by exactly 0 or 1"}


class Where(nn.Module):
    """torch.where(mask, f(x), g(x)) with a constant boolean buffer `mask` (e.g. a fixed attention mask)."""

    def __init__(self, mask_shape, self_fn, other_fn) -> None:
        super().__init__()
        self.register_buffer("mask", torch.rand(*mask_shape, generator=torch.Generator().manual_seed(1)) > 0.5)
        self.self_fn, self.other_fn = self_fn, other_fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(self.mask, self.self_fn(x), self.other_fn(x)) + 1.0


class ComputedCondition(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.where(x > 0, x, x * 0.1)


def _double(x):
    return x * 2.0


def _neg(x):
    return -x


CASES = [
    Case("two-tensors", Where((1, 3, 5, 7), _double, _neg), [(1, 3, 5, 7)], expect_layers=("Scale", "Eltwise"), **EXACT),
    Case("scalar-other", Where((1, 3, 5, 7), _double, lambda x: -0.75), [(1, 3, 5, 7)], **EXACT),
    Case("scalar-self", Where((1, 3, 5, 7), lambda x: 4.0, _neg), [(1, 3, 5, 7)], **EXACT),
    Case("broadcast-mask", Where((5, 7), _double, _neg), [(2, 3, 5, 7)], **EXACT),
    Case("3d-sequence", Where((1, 6, 1), _double, lambda x: 0.0), [(2, 6, 4)], **EXACT),
    Case("refuse-computed-condition", lambda: ComputedCondition(), [(1, 3, 4, 5)], refused="condition computed"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_where(case: Case, results) -> None:
    results[case.id].check()


@pytest.mark.parametrize("target,refused", [
    ("opencv", None), ("caffe1", None), ("nnie", None),
    ("rknn", None),  # the per-position mask as a Scale over channels of a reshaped blob (rules_broadcast)
])
def test_where_on_targets(target: str, refused: str | None, tmp_path) -> None:
    on_target(Where((1, 3, 5, 7), _double, lambda x: -0.75), (1, 3, 5, 7), target, tmp_path, refused=refused)
