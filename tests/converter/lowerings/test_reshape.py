"""view / reshape / flatten / squeeze / unsqueeze, expand / repeat.

Pure copies or renames of memory (Flatten, Reshape, Tile): compared exactly, rtol = atol = 0.
"""
from __future__ import annotations

import pytest
import torch

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "values are only copied"}
X = (2, 6, 5, 7)

CASES = [
    Case("flatten-1", Fn(lambda x: torch.flatten(x, 1) * 2), [X], expect_layers=("Flatten",), **EXACT),
    Case("flatten-2", Fn(lambda x: torch.flatten(x, 2) * 2), [X], expect_layers=("Flatten",), **EXACT),
    Case("flatten-1-2", Fn(lambda x: torch.flatten(x, 1, 2) * 2), [X], expect_layers=("Flatten",), **EXACT),
    Case("flatten-0", Fn(lambda x: torch.flatten(x) * 2), [X], **EXACT),
    Case("view-batch-minus1", Fn(lambda x: x.view(x.size(0), -1) * 2), [X], expect_layers=("Flatten",), **EXACT),
    Case("view-split-channels", Fn(lambda x: x.view(2, 3, 2, 35) * 2), [X], expect_layers=("Reshape",), **EXACT),
    Case("reshape-3d", Fn(lambda x: x.reshape(2, 30, 7) * 2), [X], **EXACT),
    Case("reshape-merge-batch", Fn(lambda x: x.reshape(12, 35) * 2), [X], **EXACT),
    Case("reshape-same-is-alias", Fn(lambda x: x.reshape(2, 6, 5, 7) * 2), [X], **EXACT),
    Case("squeeze-all", Fn(lambda x: x.mean((2, 3), keepdim=True).squeeze() * 2), [X], rtol=1e-6,
         reason="the mean sums in another order"),
    Case("squeeze-dim", Fn(lambda x: x.squeeze(2) * 2), [(2, 6, 1, 7)], **EXACT),
    Case("unsqueeze", Fn(lambda x: x.unsqueeze(1) * 2), [(2, 6, 7)], **EXACT),
    Case("unsqueeze-last", Fn(lambda x: x[..., None] * 2), [(2, 6)], **EXACT),
    Case("expand-hw", Fn(lambda x, y: x.expand(-1, -1, 5, 7) + y), [(2, 6, 1, 1), X], expect_layers=("Tile",),
         **EXACT),
    Case("expand-new-axis", Fn(lambda x: x.expand(3, 6, 7) * 2), [(6, 7)], expect_layers=("Tile",), **EXACT),
    Case("repeat-channels", Fn(lambda x: x.repeat(1, 3, 1, 1) * 2), [X], expect_layers=("Tile",), **EXACT),
    Case("repeat-two-axes", Fn(lambda x: x.repeat(2, 1, 2, 1) * 2), [X], **EXACT),
    # Regression: an in-place layer on a Flatten's top wrote through to the blob behind it (Caffe
    # shares their memory), corrupting a later reader of the input.
    Case("inplace-after-flatten", Fn(lambda x: (torch.relu(x.flatten(1)), x * 2 + 1)), [X], **EXACT),
    Case("inplace-after-view", Fn(lambda x: (-(x.view(2, 3, 70)), x + 1)), [X], **EXACT),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reshape(case: Case, results) -> None:
    results[case.id].check()
