"""MNN's reading faults (`purecaffe.targets.mnn_rules`): which layers they name, and the rewrite in the runtime
(MNN itself: case `linear_rows` of tests/targets/test_rules.py).  Tolerance: float32 rounding of the same
dot products summed in another order (`run_compare_torch`'s)."""
from __future__ import annotations

import torch
from torch import nn

import purecaffe
from purecaffe.canonical import Blob, builders
from purecaffe.targets.mnn_rules import reshaped_row_products
from torch_compare import run_compare_torch


class _Rows(nn.Module):
    """A Linear over a Reshape of a (1, 3, 5, 7) map: its 15 rows of 7 (`rows`), or its one row of 105."""

    def __init__(self, rows: bool, shared: bool = False) -> None:
        super().__init__()
        self.rows, self.shared = rows, shared
        self.fc = nn.Linear(7 if rows else 105, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        view = torch.relu(x).reshape(1, 15, 7) if self.rows else torch.relu(x).reshape(1, 105)
        return self.fc(view) + view.sum() if self.shared else self.fc(view)


def _types(model: nn.Module, target: str) -> list[str]:
    net = purecaffe.convert(model.eval(), (torch.randn(1, 3, 5, 7),), target=target)
    return [layer.type for layer in net.net.layer]


def test_a_product_over_a_reshapes_rows_becomes_a_convolution() -> None:
    assert "InnerProduct" in _types(_Rows(rows=True), "bvlc")
    types = _types(_Rows(rows=True), "mnn")
    assert "InnerProduct" not in types and types.count("Convolution") == 1, types
    run_compare_torch(_Rows(rows=True).eval(), [torch.randn(1, 3, 5, 7)], target="mnn", backend="runtime")


def test_a_classifiers_flatten_and_a_shared_reshape_are_left() -> None:
    """MNN drops only a Reshape that the product alone reads, and a flatten keeps the batch as the rows."""
    assert "InnerProduct" in _types(_Rows(rows=False), "mnn")
    assert "InnerProduct" in _types(_Rows(rows=True, shared=True), "mnn")


def test_the_faulty_products_are_named_by_the_reshapes_input() -> None:
    """(1, 3, 5, 7) viewed as (1, 15, 7): rows (1, 15) against the input's (1, 3): named; as (3, 35) from a
    (3, 5, 7) input: rows (3,) are the input's: left; a Reshape read twice is kept by MNN: left."""
    def layers(shape: tuple[int, ...], view: tuple[int, ...], axis: int, readers: int) -> list:
        x = Blob("x", shape)
        reshape = builders.reshape_to("view", x, "view", view)
        made = [builders.input_layer("data", [x]), reshape]
        made += [builders.inner_product(f"fc{i}", reshape.top, f"fc{i}", num_output=4, axis=axis)
                 for i in range(readers)]
        return made

    assert reshaped_row_products(layers((1, 3, 5, 7), (1, 15, 7), 2, 1)) == ("fc0",)
    assert reshaped_row_products(layers((3, 5, 7), (3, 35), 1, 1)) == ()
    assert reshaped_row_products(layers((1, 3, 5, 7), (1, 15, 7), 2, 2)) == ()
