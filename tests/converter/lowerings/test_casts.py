"""Casts to float32 of what a Caffe blob already holds (type_as, to, float(), reshape_as): no layer, exact."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import purecaffe
from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn
from converter.lowerings._targets import TARGETS, on_target

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "the same blob"}
X = (2, 3, 5, 7)

CASES = [
    Case("type-as", Fn(lambda x, y: (x * 2).type_as(y) + y), [X, X], **EXACT),
    Case("to-float32", Fn(lambda x: (x * 2).to(torch.float32) + 1), [X], **EXACT),
    Case("float", Fn(lambda x: (x + 1).float() * 2), [X], **EXACT),
    Case("reshape-as", Fn(lambda x, y: (x * 2).reshape_as(y) + y), [X, (2, 3, 35)], expect_layers=("Flatten",),
         **EXACT),
    Case("view-as-same", Fn(lambda x, y: (x * 2).view_as(y) + y), [X, X], **EXACT),
    Case("refuse-half", Fn(lambda x: (x * 2).half().float() + 1), [X], refused="cast to float16"),
    Case("refuse-int", Fn(lambda x: (x * 2).to(torch.int64) + 1), [X], refused="cast to int64"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_casts(case: Case, results) -> None:
    results[case.id].check()


def test_casts_leave_no_layer() -> None:
    net = purecaffe.convert(Fn(lambda x, y: (x * 2).type_as(y).to(torch.float32).float() + y).eval(),
                            (torch.randn(*X), torch.randn(*X)))
    assert [layer.type for layer in net.net.layer if layer.type != "Input"] == ["Power", "Eltwise"]


def test_cast_at_the_output(tmp_path: Path) -> None:
    """The model's output is the cast: the net's output blob is the value it casts (verify compares it under
    the output's name; the batched harness looks model outputs up by torch name, which an alias has not)."""
    model = Fn(lambda x, y: (x * 2).type_as(y)).eval()
    inputs = (torch.randn(*X), torch.randn(*X))
    net = purecaffe.convert(model, inputs)
    assert net.output_names == ("mul",) and net.torch_output_names == ("type_as",)
    net.save(tmp_path / "net")
    report = purecaffe.verify(model, inputs, tmp_path / "net")
    assert report.passed, report.summary()


@pytest.mark.parametrize("target", TARGETS)
def test_casts_on_targets(target: str, tmp_path: Path) -> None:
    on_target(lambda: Fn(lambda x, y: (x * 2).type_as(y).reshape_as(y) + y), [(1, 3, 5, 7), (1, 3, 5, 7)], target,
              {}, tmp_path)
