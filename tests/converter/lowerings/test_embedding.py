"""embedding with computed indices -> Embed: a segmentation net's class map through a colour palette
(argmax over channels, then nn.Embedding), rows copied: equality."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from batched_compare import Case, compare_cases
from converter.lowerings._deploy import on_target

pytestmark = pytest.mark.real_caffe


class Palette(nn.Module):
    """Class scores -> argmax class per pixel -> the class's colour (an Embedding row)."""

    def __init__(self, classes: int, dim: int = 3) -> None:
        super().__init__()
        self.colours = nn.Embedding(classes, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.colours(x.argmax(dim=1)) + 0.5


class ConstantRows(nn.Module):
    """Constant indices: folded before lowering (no Embed layer)."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Embedding(7, 5)
        self.register_buffer("rows", torch.tensor([[1, 3, 6, 3]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.table(self.rows)


EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "rows copied, + 0.5 rounds the same"}
CASES = [
    Case("palette", lambda: Palette(5), [(1, 5, 4, 7)], expect_layers=("ArgMax", "Embed"), **EXACT),
    Case("palette-batch-2", lambda: Palette(19, 4), [(2, 19, 3, 5)], **EXACT),
    Case("constant-indices", lambda: ConstantRows(), [(1, 4, 5)], **EXACT),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_embedding(case: Case, results) -> None:
    results[case.id].check()


@pytest.mark.parametrize("target,refused", [
    ("caffe1", None), ("nnie", None),
    ("opencv", "Embed"), ("rknn", "Embed"),  # neither reads Embed (nor ArgMax): their checks refuse
])
def test_embedding_on_targets(target: str, refused: str | None, tmp_path) -> None:
    torch.manual_seed(0)
    on_target(Palette(5), (1, 5, 4, 7), target, tmp_path, refused=refused)
