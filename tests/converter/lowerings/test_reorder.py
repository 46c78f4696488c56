"""roll and repeat_interleave (Slice + Concat, Reshape + Tile): values only copied, so held to equality."""
from __future__ import annotations

import pytest
import torch

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn
from converter.lowerings._deploy import on_target

pytestmark = pytest.mark.real_caffe

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "values are only copied"}
CASES = [
    Case("roll-w-2", Fn(lambda x: torch.roll(x, 2, dims=3) + 1), [(1, 3, 4, 7)], expect_layers=("Slice", "Concat"),
         **EXACT),
    Case("roll-h-negative", Fn(lambda x: torch.roll(x, -1, dims=2) + 1), [(2, 3, 5, 7)], **EXACT),
    Case("roll-two-axes", Fn(lambda x: torch.roll(x, (3, -2), dims=(2, 3)) + 1), [(1, 2, 5, 6)], **EXACT),
    Case("roll-channels-wraps", Fn(lambda x: torch.roll(x, 7, dims=1) + 1), [(1, 5, 3, 3)], **EXACT),
    Case("roll-3d", Fn(lambda x: torch.roll(x, 1, dims=-1) + 1), [(2, 4, 9)], **EXACT),
    Case("roll-full-turn", Fn(lambda x: torch.roll(x, 4, dims=3) + 1), [(1, 2, 3, 4)], **EXACT),
    Case("repeat-interleave-channels", Fn(lambda x: x.repeat_interleave(2, dim=1) + 1), [(1, 3, 4, 5)],
         expect_layers=("Tile",), **EXACT),
    Case("repeat-interleave-w-3", Fn(lambda x: x.repeat_interleave(3, dim=-1) + 1), [(2, 3, 4, 5)], **EXACT),
    Case("repeat-interleave-3d-seq", Fn(lambda x: x.repeat_interleave(2, dim=1) + 1), [(2, 5, 3)], **EXACT),
    Case("refuse-roll-flat", Fn(lambda x: torch.roll(x, 2) + 1), [(1, 2, 3, 4)], refused="flattened"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_reorder(case: Case, results) -> None:
    results[case.id].check()


@pytest.mark.parametrize("target,refused", [("opencv", None), ("caffe1", None), ("nnie", None),
                                            ("rknn", None)])
def test_repeat_interleave_on_targets(target: str, refused: str | None, tmp_path, request) -> None:
    if target == "rknn":
        request.getfixturevalue("rknn_venv")
    on_target(Fn(lambda x: x.repeat_interleave(2, dim=1) + 1), (1, 3, 4, 5), target, tmp_path, refused=refused)


@pytest.mark.parametrize("target", ["opencv", "caffe1", "nnie", "rknn"])
def test_roll_on_targets(target: str, tmp_path, request) -> None:
    if target == "rknn":
        request.getfixturevalue("rknn_venv")
    on_target(Fn(lambda x: torch.roll(x, (1, -2), dims=(2, 3)) + 1), (1, 3, 5, 6), target, tmp_path)
