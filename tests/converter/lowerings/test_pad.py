"""Reflect / replicate / circular / constant padding: Slice + Concat (+ Tile, Split, Power).

Tolerance 0: every output value is a copy of an input value (or the pad value, which Caffe's
Power with scale 0 sets exactly).
"""
from __future__ import annotations

import pytest
import torch.nn.functional as F
from torch import nn

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "copies of input values"}


def _pad(pad: tuple[int, ...], mode: str, value: float = 0.0) -> nn.Module:
    if mode == "constant":
        return Fn(lambda x: F.pad(x * 2.0, pad, mode=mode, value=value) + 1.0)
    return Fn(lambda x: F.pad(x * 2.0, pad, mode=mode) + 1.0)


def _module(module: nn.Module) -> nn.Module:
    return Fn(lambda x: module(x * 2.0) + 1.0)


CASES = [
    Case("reflect2d-module", _module(nn.ReflectionPad2d((1, 2, 3, 1))), [(1, 3, 6, 7)],
         expect_layers=("Slice", "Concat"), **EXACT),
    Case("reflect2d-3", _module(nn.ReflectionPad2d(3)), [(2, 2, 5, 4)], **EXACT),
    Case("reflect2d-short-axis", _pad((2, 2, 1, 1), "reflect"), [(1, 2, 2, 3)], expect_layers=("Split",), **EXACT),
    Case("reflect1d", _module(nn.ReflectionPad1d((2, 1))), [(2, 3, 7)], **EXACT),
    Case("reflect-w-only", _pad((1, 1, 0, 0), "reflect"), [(1, 3, 5, 6)], **EXACT),
    Case("reflect-h-only", _pad((0, 0, 2, 0), "reflect"), [(1, 3, 5, 6)], **EXACT),
    Case("replicate2d-module", _module(nn.ReplicationPad2d((2, 0, 1, 3))), [(1, 3, 5, 7)],
         expect_layers=("Tile", "Concat"), **EXACT),
    Case("replicate2d-one-row", _pad((1, 1, 1, 1), "replicate"), [(1, 2, 1, 4)], **EXACT),
    Case("replicate1d", _module(nn.ReplicationPad1d(3)), [(1, 2, 5)], **EXACT),
    Case("circular2d", _pad((2, 1, 1, 3), "circular"), [(2, 3, 5, 4)], **EXACT),
    Case("constant-value", _pad((1, 2, 2, 1), "constant", 0.5), [(1, 3, 4, 5)], expect_layers=("Power",), **EXACT),
    Case("constant-zero", _module(nn.ZeroPad2d((0, 1, 2, 0))), [(1, 3, 4, 5)], **EXACT),
    Case("constant-channels", _pad((0, 0, 0, 0, 1, 2), "constant", -1.0), [(1, 3, 4, 5)], **EXACT),
    Case("refuse-batch", _pad((1, 1, 1, 1, 1, 1, 1, 1), "constant"), [(1, 2, 3, 4)], refused="batch axis"),
    # Negative amounts crop (Slice keeping the middle), before the positive ones pad.
    Case("crop-w", _pad((-1, 0), "constant"), [(1, 2, 3, 4)], expect_layers=("Slice",), **EXACT),
    Case("crop-hw-odd", _pad((-1, -2, 0, -1), "constant"), [(2, 3, 7, 9)], **EXACT),
    Case("crop-and-pad", _pad((2, -1, -2, 1), "constant", 0.5), [(1, 3, 5, 6)], expect_layers=("Slice", "Concat"),
         **EXACT),
    Case("crop-3d", _pad((-2, -1), "constant"), [(2, 5, 8)], **EXACT),
    Case("refuse-crop-everything", _pad((-2, -2), "constant"), [(1, 2, 3, 4)], refused="removes all 4 elements"),
    Case("refuse-negative-reflect", _pad((-1, 0, 0, 0), "reflect"), [(1, 2, 3, 4)], refused="negative reflect padding"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_pad(case: Case, results) -> None:
    results[case.id].check()
