"""In-place slice assignment (copy + slice_scatter / select_scatter): Slice + Concat, copies only, exact."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn
from converter.lowerings._targets import TARGETS, on_target

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "values are only copied"}
X = (2, 6, 5, 7)


def assign(index: tuple[object, ...], value: str = "slice") -> Fn:
    """x.clone()[index] = (a slice of y | a broadcast row of y | a number)."""
    def fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = x.clone() * 2
        if value == "slice":
            out[index] = y[index] + 1
        elif value == "broadcast":
            out[index] = y[:, :1, :1, :1] * 3
        else:
            out[index] = 0.5
        return out
    return Fn(fn)


CASES = [
    Case("channels-middle", assign((slice(None), slice(2, 4))), [X, X], expect_layers=("Slice", "Concat"), **EXACT),
    Case("channels-head", assign((slice(None), slice(0, 3))), [X, X], **EXACT),
    Case("width-tail", assign((Ellipsis, slice(4, None))), [X, X], **EXACT),
    Case("height-odd", assign((slice(None), slice(None), slice(1, 4))), [X, X], **EXACT),
    Case("whole-axis", assign((slice(None), slice(None))), [X, X], **EXACT),
    Case("select-channel", assign((slice(None), 3)), [X, X], **EXACT),
    Case("broadcast-value", assign((slice(None), slice(1, 5)), "broadcast"), [X, X], expect_layers=("Tile",), **EXACT),
    Case("two-assignments", Fn(lambda x, y: _two(x, y)), [X, X], **EXACT),
    Case("refuse-step", Fn(lambda x, y: _stepped(x, y)), [X, X], refused="step 2"),
]


def _two(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = x.clone()
    out[:, :2] = y[:, 4:]
    out[:, :, 3:] = y[:, :, :2] * 2
    return out + 1


def _stepped(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = x.clone()
    out[:, ::2] = y[:, :3]
    return out


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_scatter(case: Case, results) -> None:
    results[case.id].check()


TARGET_CASES = {
    # rknn (no Silence): the kept channels as 0/1 1x1 Convolutions (the replaced part is an unused one)
    "slice-assign": (lambda: assign((slice(None), slice(2, 4))), [(1, 6, 5, 7), (1, 6, 5, 7)], {}),
    "crop": (lambda: Fn(lambda x: F.pad(x, (-1, -2, 0, -1)) * 2), [(1, 3, 7, 9)], {}),  # rknn: a 0/1 conv pick
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_scatter_on_targets(name: str, target: str, tmp_path: Path) -> None:
    make, inputs, refused = TARGET_CASES[name]
    on_target(make, inputs, target, refused, tmp_path)
