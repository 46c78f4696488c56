"""In-place tops (`purecaffe.targets.policy`): never on a blob whose memory another blob shares."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import purecaffe
from torch_compare import run_compare_torch


class WithBiggerConstant(nn.Module):
    """The input broadcasts into a stored constant, so the constant becomes a Parameter layer
    and a Power (negate / reciprocal / alpha) is applied to that Parameter's top."""

    def __init__(self, fn) -> None:  # noqa: ANN001
        super().__init__()
        self.fn = fn
        self.register_buffer("c", torch.arange(60.0).reshape(1, 3, 4, 5) + 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, self.c)


CONSTANT_OPS = {
    "sub": lambda x, c: x - c,
    "div": lambda x, c: x / c,
    "add_alpha": lambda x, c: torch.add(x, c, alpha=0.5),
    "rsub": lambda x, c: torch.rsub(x, c, alpha=2.0),
}


@pytest.mark.parametrize("op", sorted(CONSTANT_OPS))
def test_no_layer_in_place_on_a_parameter_top(op: str) -> None:
    """Caffe's Parameter top *is* its weight blob: a layer in place on it would rewrite the
    constant on each forward pass (real Caffe: right on the first pass, wrong on the second)."""
    net = purecaffe.convert(WithBiggerConstant(CONSTANT_OPS[op]).eval(), (torch.randn(1, 3, 1, 1),))
    parameter_tops = {top for layer in net.net.layer if layer.type == "Parameter" for top in layer.top}
    assert parameter_tops, "the case no longer makes a Parameter layer; it tests nothing"
    written = [layer.name for layer in net.net.layer
               if layer.type != "Parameter" and set(layer.top) & parameter_tops]
    assert not written, f"layers writing into a Parameter's top: {written}"


@pytest.mark.parametrize("op", sorted(CONSTANT_OPS))
def test_bigger_constant_matches_torch(op: str) -> None:
    # Default parity tolerance (1e-4 x max|tensor|): division is a * fl(1/c), a few ulp at most.
    run_compare_torch(WithBiggerConstant(CONSTANT_OPS[op]), (1, 3, 1, 1))
