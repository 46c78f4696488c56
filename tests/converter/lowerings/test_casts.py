"""x.to(dtype): float32 -> float32 is the tensor itself (no layer); anything else is refused by dtype."""
from __future__ import annotations

import pytest
import torch

import purecaffe
from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn

pytestmark = pytest.mark.real_caffe

CASES = [
    Case("to-float32", Fn(lambda x: x.to(torch.float32) * 2.0), [(1, 3, 4, 5)], expect_layers=("Power",),
         rtol=0.0, atol=0.0, reason="x * 2 is exact"),
    Case("type-float", Fn(lambda x: x.float() + 1.0), [(2, 3)], rtol=0.0, atol=0.0, reason="one rounding each side"),
    Case("refuse-to-half", Fn(lambda x: x.to(torch.float16).float() + 1.0), [(1, 3, 4, 5)],
         refused="from float32 to float16"),
    Case("refuse-to-int", Fn(lambda x: x.to(torch.int64) + 1), [(1, 3, 4, 5)], refused="from float32 to int64"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_casts(case: Case, results) -> None:
    results[case.id].check()


def test_same_dtype_conversion_has_no_layer() -> None:
    net = purecaffe.convert(Fn(lambda x: x.to(torch.float32)).eval(), (torch.randn(1, 3, 4, 5),))
    assert all(layer.type in ("Input", "Split") for layer in net.net.layer), [l.type for l in net.net.layer]
