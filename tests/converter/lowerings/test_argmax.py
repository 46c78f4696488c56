"""argmax along an axis: Caffe's ArgMax (ties to the largest index) on the axis reversed, turned back to
PyTorch's first maximum.  Ties are forced (ReLU zeros); indices are integers: equality."""
from __future__ import annotations

import pytest
import torch

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn
from converter.lowerings._deploy import on_target

pytestmark = pytest.mark.real_caffe

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "integer indices"}


def _ties(x: torch.Tensor) -> torch.Tensor:
    """Values with many equal maxima: relu(x - 1) is 0 in 84% of places, so all of a position's values
    often are (all 7 channels in about 30% of positions)."""
    return torch.relu(x - 1.0)


CASES = [
    Case("channels", Fn(lambda x: x.argmax(dim=1)), [(1, 5, 4, 7)], expect_layers=("ArgMax", "Power"), **EXACT),
    Case("channels-keepdim", Fn(lambda x: x.argmax(dim=1, keepdim=True) * 1.0), [(2, 6, 3, 5)], **EXACT),
    Case("channels-ties", Fn(lambda x: _ties(x).argmax(dim=1)), [(2, 7, 5, 6)], **EXACT),
    Case("width-ties", Fn(lambda x: _ties(x).argmax(dim=-1)), [(1, 3, 4, 9)], **EXACT),
    Case("sequence-3d", Fn(lambda x: _ties(x).argmax(dim=2)), [(2, 3, 8)], **EXACT),
    Case("one-channel", Fn(lambda x: x.argmax(dim=1)), [(1, 1, 3, 4)], **EXACT),
    Case("refuse-flat", Fn(lambda x: x.argmax()), [(1, 3, 4, 5)], refused="whole tensor"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_argmax(case: Case, results) -> None:
    results[case.id].check()


@pytest.mark.parametrize("target,refused", [
    ("opencv", "ArgMax"),  # OpenCV 4.14 cannot create an ArgMax layer (measured): its check refuses
    ("rknn", "ArgMax"),  # RKNN types ArgMax's top int64: a float layer after it fails its build (measured)
    ("caffe1", None), ("nnie", None)])
def test_argmax_on_targets(target: str, refused: str | None, tmp_path, request) -> None:
    if target == "rknn":
        request.getfixturevalue("rknn_venv")
    on_target(Fn(lambda x: _ties(x).argmax(dim=1, keepdim=True) * 1.0), (1, 5, 4, 6), target, tmp_path,
              refused=refused)
