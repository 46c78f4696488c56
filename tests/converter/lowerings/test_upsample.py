"""Nearest resizing by integer factors (exact: Deconvolution of ones / strided 1x1 Convolution),
bilinear resizing (Interp, or PyTorch's own weights as fixed matrices), and the refused modes."""
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
    Case("refuse-bicubic", nn.Upsample(scale_factor=2, mode="bicubic"), [X], refused="bicubic"),
    Case("refuse-nearest-fraction", Fn(lambda x: F.interpolate(x, scale_factor=1.5)), [(2, 3, 4, 6)],
         refused="integer factor"),
    Case("refuse-nearest-size-uneven", Fn(lambda x: F.interpolate(x, size=(7, 9))), [X], refused="integer factor"),
]


# Bilinear: both align_corners settings, integer and fractional scales, explicit odd sizes, down-
# sampling and the ASPP case (from 1x1).  Float32 rounding only: each output is PyTorch's two
# products and one sum per axis, the GEMM adding exact zeros (1e-5: sums in another order).
BILINEAR = {"rtol": 1e-5, "reason": "PyTorch's weights, the same products, summed by a GEMM"}
for align in (False, True):
    for label, kwargs, shape in (("x2", {"scale_factor": 2}, X), ("x3", {"scale_factor": 3}, (1, 2, 4, 3)),
                                 ("x1.5", {"scale_factor": 1.5}, (1, 2, 5, 7)),
                                 ("size-odd", {"size": (11, 8)}, X), ("down", {"size": (3, 4)}, (1, 3, 9, 10)),
                                 ("from-1x1", {"size": (7, 5)}, (2, 4, 1, 1))):
        for target in ("bvlc", "caffe1"):  # opencv: tests/targets/test_rules.py (OpenCV is its judge)
            CASES.append(Case(f"bilinear-{label}-align{int(align)}-{target}",
                              Fn(lambda x, kw=kwargs, a=align: F.interpolate(x, mode="bilinear", align_corners=a, **kw)),
                              [shape], convert_kwargs={"target": target}, **BILINEAR))


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_upsample(case: Case, results) -> None:
    results[case.id].check()
