"""softmax and log_softmax over every axis.

softmax: 1e-6 of max|tensor| (exp and the sum round differently in Caffe and PyTorch, ~1 ulp
each).  log_softmax is Softmax then Log in Caffe: the log of a probability with ~1 ulp relative
error is off by ~2**-24 absolute, so it is compared at atol 1e-6 on top of rtol 1e-6.
"""
from __future__ import annotations

import pytest
import torch

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn

SOFTMAX = {"rtol": 1e-6, "atol": 1e-7, "reason": "exp and sum rounding"}
LOG_SOFTMAX = {"rtol": 1e-6, "atol": 1e-6, "reason": "log of a rounded probability"}

CASES: list[Case] = []
for axis in (0, 1, 2, 3, -1):
    CASES.append(Case(f"softmax-4d-axis{axis}", Fn(lambda x, d=axis: torch.softmax(x * 3, d)), [(2, 6, 5, 7)],
                      expect_layers=("Softmax",), **SOFTMAX))
    CASES.append(Case(f"log_softmax-4d-axis{axis}", Fn(lambda x, d=axis: torch.log_softmax(x * 3, d)),
                      [(2, 6, 5, 7)], expect_layers=("Softmax", "Log"), **LOG_SOFTMAX))
CASES += [
    Case("softmax-2d", Fn(lambda x: torch.softmax(x, 1)), [(3, 10)], **SOFTMAX),
    Case("softmax-2d-last", Fn(lambda x: torch.nn.functional.softmax(x, dim=-1)), [(3, 10)], **SOFTMAX),
    Case("log_softmax-2d", Fn(lambda x: torch.log_softmax(x, 1)), [(3, 10)], **LOG_SOFTMAX),
    Case("softmax-3d-middle", Fn(lambda x: torch.softmax(x, 1)), [(2, 9, 4)], **SOFTMAX),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_softmax(case: Case, results) -> None:
    results[case.id].check()
