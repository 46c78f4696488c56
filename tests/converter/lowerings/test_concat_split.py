"""cat, split / chunk / split_with_sizes / unbind, slicing, narrow, select.

Every case is a pure copy of values (Concat, Slice, Reshape, 1x1 MAX Pooling), so all are
compared exactly: rtol = atol = 0.
"""
from __future__ import annotations

import pytest
import torch

from converter.lowerings._modules import Const, Fn, seeded
from batched_compare import Case, compare_cases

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "values are only copied"}
X = (2, 6, 7, 9)

CASES: list[Case] = []
for axis in (1, 2, 3, -1, 0):
    CASES.append(Case(f"cat-axis{axis}", Fn(lambda a, b, d=axis: torch.cat([a, b, a], d)), [X, X],
                      expect_layers=("Concat",), **EXACT))
CASES += [
    Case("cat-uneven", Fn(lambda a, b: torch.cat([a, b], 1)), [(2, 3, 7, 9), (2, 5, 7, 9)], **EXACT),
    Case("cat-2d", Fn(lambda a, b: torch.cat([a, b], 1)), [(3, 4), (3, 5)], **EXACT),
    Case("cat-constant", Const(lambda x, c: torch.cat([x, c], 1), seeded(2, 2, 7, 9)), [X],
         expect_layers=("Parameter", "Concat"), **EXACT),
    Case("cat-single", Fn(lambda a: torch.cat([a], 1) * 2), [X], **EXACT),
]
for chunks in (2, 3, 4):
    CASES.append(Case(f"chunk{chunks}-channels", Fn(lambda x, n=chunks: tuple(t * 1.5 for t in x.chunk(n, 1))),
                      [(2, 10, 5, 5)], expect_layers=("Slice",), **EXACT))
CASES += [
    Case("chunk-uses-one-part", Fn(lambda x: x.chunk(2, 1)[1] + 1), [X], expect_layers=("Slice", "Silence"), **EXACT),
    Case("split-size-h", Fn(lambda x: tuple(t + 1 for t in torch.split(x, 3, dim=2))), [X], **EXACT),
    Case("split-sizes-w", Fn(lambda x: tuple(t + 1 for t in torch.split(x, [2, 5, 2], dim=3))), [X], **EXACT),
    Case("split-sizes-batch", Fn(lambda x: tuple(t + 1 for t in torch.split(x, [1, 1], dim=0))), [X], **EXACT),
    Case("unbind-channels", Fn(lambda x: tuple(t + 1 for t in x[:, :3].unbind(1))), [X], **EXACT),
    Case("slice-channels", Fn(lambda x: x[:, 2:5] + 1), [X], **EXACT),
    Case("slice-from-start", Fn(lambda x: x[:, :4] + 1), [X], **EXACT),
    Case("slice-to-end", Fn(lambda x: x[:, 4:] + 1), [X], **EXACT),
    Case("slice-negative", Fn(lambda x: x[..., -4:-1] + 1), [X], **EXACT),
    Case("slice-h-and-w", Fn(lambda x: x[:, :, 1:6, 2:8] + 1), [X], **EXACT),
    Case("slice-2d", Fn(lambda x: x[:, 3:] + 1), [(3, 8)], **EXACT),
    Case("slice-full-is-alias", Fn(lambda x: x[:, 0:100] + 1), [X], **EXACT),
    Case("slice-step2-h", Fn(lambda x: x[:, :, ::2] + 1), [X], expect_layers=("Convolution",), **EXACT),
    Case("slice-step3-w-offset", Fn(lambda x: x[:, :, :, 1::3] + 1), [X], expect_layers=("Convolution",), **EXACT),
    Case("narrow", Fn(lambda x: x.narrow(2, 1, 4) + 1), [X], **EXACT),
    Case("select-channel", Fn(lambda x: x[:, 2] + 1), [X], **EXACT),
    Case("select-last-w", Fn(lambda x: x[..., -1] + 1), [X], **EXACT),
    Case("slice-step2-channels", Fn(lambda x: x[:, ::2] + 1), [X], expect_layers=("Slice", "Concat"), **EXACT),
    Case("slice-step3-channels-offset", Fn(lambda x: x[:, 1:6:3] + 1), [(1, 7, 3, 5)], **EXACT),
    Case("slice-step2-3d-last", Fn(lambda x: x[..., 1::2] + 1), [(2, 3, 9)], **EXACT),
    Case("slice-step4-one-left", Fn(lambda x: x[:, 2::4] + 1), [(1, 5, 3, 3)], **EXACT),
    Case("refuse-empty-slice", Fn(lambda x: x[:, 3:3].sum() + x), [X], refused="empty"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_concat_split(case: Case, results) -> None:
    results[case.id].check()
