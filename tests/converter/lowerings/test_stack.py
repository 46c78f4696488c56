"""torch.stack (Concat + Reshape) and stack(..).sum / .mean over the stacked axis (one Eltwise SUM).

stack only copies values: exact.  The fused sum adds in the order of the list, as torch's sum over
the stacked axis does for these sizes; the mean multiplies by fl(1/n): 1e-6 of max|tensor|.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Const, Fn, seeded
from converter.lowerings._targets import TARGETS, on_target, rknn_judged

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "values are only copied"}
SUM = {"rtol": 1e-6, "atol": 1e-7, "reason": "summation order; fl(1/n) for the mean"}
X = (2, 3, 5, 7)

CASES = [Case(f"stack-dim{d}", Fn(lambda a, b, c, d=d: torch.stack([a, b, c], d) * 2), [X, X, X],
              expect_layers=("Concat",), **EXACT) for d in (0, 1, 2, 3, 4, -1, -3)]
CASES += [
    Case("stack-3d-last", Fn(lambda a, b: torch.stack([a, b], -1) + 1), [(2, 5, 3), (2, 5, 3)], **EXACT),
    Case("stack-single", Fn(lambda a: torch.stack([a], 1) + 1), [X], **EXACT),
    Case("stack-constant", Const(lambda x, c: torch.stack([x, c], 1) + 1, seeded(*X)), [X],
         expect_layers=("Parameter",), **EXACT),
    Case("stack-sum", Fn(lambda a, b, c: torch.stack([a, b, c]).sum(0)), [X, X, X], expect_layers=("Eltwise",),
         **SUM),
    Case("stack-sum-dim2", Fn(lambda a, b: torch.stack([a, b], 2).sum(dim=2) * 2), [X, X], **SUM),
    Case("stack-mean", Fn(lambda a, b, c: torch.stack([a, b, c], 1).mean(1)), [X, X, X], **SUM),
    Case("stack-sum-odd-3d", Fn(lambda a, b: torch.stack([a, b]).sum(0) + 1), [(3, 7, 5), (3, 7, 5)], **SUM),
    # The stacked tensor is read twice: no fusion, a Concat + Reshape and a sum over the batch-like axis 0.
    Case("stack-read-twice", Fn(lambda a, b: torch.stack([a, b], 1).sum(1) + torch.stack([a, b], 1)[:, 0]),
         [X, X], **SUM),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_stack(case: Case, results) -> None:
    results[case.id].check()


def test_stack_sum_is_one_eltwise() -> None:
    import purecaffe

    net = purecaffe.convert(Fn(lambda a, b, c: torch.stack([a, b, c]).sum(0)).eval(),
                            tuple(torch.randn(*X) for _ in range(3)))
    assert [layer.type for layer in net.net.layer if layer.type != "Input"] == ["Eltwise"]


TARGET_CASES = {
    "stack": (lambda: Fn(lambda a, b: torch.stack([a, b], 2).flatten(1, 2) + 1), [(1, 3, 5, 7), (1, 3, 5, 7)]),
    "stack-sum": (lambda: Fn(lambda a, b: torch.stack([a * 2, b]).sum(0)), [(1, 3, 5, 7), (1, 3, 5, 7)]),
    "stack-mean": (lambda: Fn(lambda a, b, c: torch.stack([a, b, c]).mean(0)), [(1, 3, 5, 7)] * 3),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_stack_on_targets(name: str, target: str, tmp_path: Path) -> None:
    make, inputs = TARGET_CASES[name]
    on_target(make, inputs, target, {}, tmp_path)


@pytest.mark.rknn
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_stack_in_rknn(name: str, rknn_venv, tmp_path: Path) -> None:
    make, inputs = TARGET_CASES[name]
    rknn_judged(make, inputs, tmp_path)
