"""Nearest resizing by integer factors (exact: Deconvolution of ones / strided 1x1 Convolution),
and the refused modes with their reasons."""
from __future__ import annotations

import pytest
import torch.nn.functional as F
from torch import nn

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "each output is 1.0 * one input"}
X = (2, 3, 5, 7)

CASES: list[Case] = []
for scale in (2, 3, 4):
    CASES.append(Case(f"nearest-scale{scale}", nn.Upsample(scale_factor=scale, mode="nearest"), [X],
                      expect_layers=("Deconvolution",), **EXACT))
CASES += [
    Case("nearest-size", Fn(lambda x: F.interpolate(x, size=(10, 21))), [X], expect_layers=("Deconvolution",),
         **EXACT),
    Case("nearest-exact-2", Fn(lambda x: F.interpolate(x, scale_factor=2, mode="nearest-exact")), [X], **EXACT),
    Case("nearest-tuple", Fn(lambda x: F.interpolate(x, scale_factor=(2, 3))), [X], **EXACT),
    Case("nearest-down-2", Fn(lambda x: F.interpolate(x, size=(3, 4)) + 1), [(2, 3, 6, 8)],
         expect_layers=("Convolution",), **EXACT),
    Case("nearest-then-add", Fn(lambda x, y: F.interpolate(x, scale_factor=2) + y), [(1, 4, 3, 4), (1, 4, 6, 8)],
         **EXACT),
    Case("refuse-bilinear", nn.Upsample(scale_factor=2, mode="bilinear"), [X], refused="no Interp layer"),
    Case("refuse-nearest-fraction", Fn(lambda x: F.interpolate(x, scale_factor=1.5)), [(2, 3, 4, 6)],
         refused="integer factor"),
    Case("refuse-nearest-size-uneven", Fn(lambda x: F.interpolate(x, size=(7, 9))), [X], refused="integer factor"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_upsample(case: Case, results) -> None:
    results[case.id].check()
