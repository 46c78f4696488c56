"""Element-wise max/min (Eltwise MAX, min by negation) and max/min over axes (MAX Pooling over a Reshape).

Every case is exact (rtol = atol = 0): a maximum is one of its inputs, negation and Tile are exact.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Const, Fn, seeded
from converter.lowerings._targets import TARGETS, on_target, rknn_judged

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "a maximum is one of the values; negation is exact"}
X = (2, 5, 7, 3)

CASES = [
    Case("maximum", Fn(lambda a, b: torch.maximum(a, b)), [X, X], expect_layers=("Eltwise",), **EXACT),
    Case("max-other", Fn(lambda a, b: torch.max(a, b) * 2), [X, X], **EXACT),
    Case("minimum", Fn(lambda a, b: torch.minimum(a, b)), [X, X], expect_layers=("Eltwise", "Power"), **EXACT),
    Case("min-other-3d", Fn(lambda a, b: torch.min(a, b) + 1), [(3, 4, 5), (3, 4, 5)], **EXACT),
    Case("maximum-broadcast", Fn(lambda a, b: torch.maximum(a, b)), [X, (2, 5, 1, 3)], expect_layers=("Tile",),
         **EXACT),
    Case("minimum-constant", Const(lambda x, c: torch.minimum(x, c), seeded(1, 5, 1, 1)), [X],
         expect_layers=("Parameter", "Tile"), **EXACT),
    Case("max-dim-channels", Fn(lambda x: x.max(1)[0] * 2), [X], expect_layers=("Pooling",), **EXACT),
    Case("max-dim-channels-keepdim", Fn(lambda x: x.max(dim=1, keepdim=True).values + 1), [X], **EXACT),
    Case("min-dim-channels", Fn(lambda x: x.min(1).values * 2), [X], **EXACT),
    Case("amax-channels", Fn(lambda x: x.amax(1) * 2), [X], **EXACT),
    Case("amin-channels-keepdim", Fn(lambda x: x.amin(1, keepdim=True) * 2), [X], **EXACT),
    Case("amin-hw", Fn(lambda x: x.amin((2, 3)) * 2), [X], **EXACT),
    Case("amax-chw", Fn(lambda x: x.amax((1, 2, 3)) * 2), [X], **EXACT),
    Case("max-dim-3d-middle", Fn(lambda x: x.max(1)[0] * 2), [(2, 9, 4)], **EXACT),
    Case("amax-5d-middle-run", Fn(lambda x: x.amax((2, 3)) * 2), [(2, 3, 4, 5, 3)], **EXACT),
    Case("max-whole-batch1", Fn(lambda x: x - x.max()), [(1, 3, 5, 7)], **EXACT),
    Case("refuse-max-dim-indices", Fn(lambda x: x.max(1)[1].float()), [X], refused="the indices of max(dim)"),
    Case("refuse-amax-batch", Fn(lambda x: x.amax(0) * 2), [X], refused="one run of axes after the batch"),
    Case("refuse-amax-separate", Fn(lambda x: x.amax((1, 3)) * 2), [X], refused="one run of axes after the batch"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_minmax(case: Case, results) -> None:
    results[case.id].check()


TARGET_CASES = {
    "minimum": (lambda: Fn(lambda a, b: torch.minimum(a * 2, b) + torch.maximum(a, b)), [(1, 3, 5, 7), (1, 3, 5, 7)], {}),
    "channel-max": (lambda: Fn(lambda x: x.max(1, keepdim=True)[0] + x.amin(1, keepdim=True)), [(1, 6, 5, 7)], {}),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_minmax_on_targets(name: str, target: str, tmp_path: Path) -> None:
    make, inputs, refused = TARGET_CASES[name]
    on_target(make, inputs, target, refused, tmp_path)


@pytest.mark.rknn
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_minmax_in_rknn(name: str, rknn_venv, tmp_path: Path) -> None:
    make, inputs, _ = TARGET_CASES[name]
    rknn_judged(make, inputs, tmp_path)
