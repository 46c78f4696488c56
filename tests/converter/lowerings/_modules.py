"""Tiny modules shared by the lowering tests (a private helper module: pytest collects nothing here)."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class Fn(nn.Module):
    """A module around a function of the inputs, so a one-line lambda can be converted."""

    def __init__(self, fn: Callable[..., object], name: str = "") -> None:
        super().__init__()
        self.fn = fn
        self.label = name

    def forward(self, *xs: torch.Tensor) -> object:
        return self.fn(*xs)


class Const(nn.Module):
    """`fn(x, constant)` with the constant a registered buffer (a graph constant after capture)."""

    def __init__(self, fn: Callable[..., object], constant: torch.Tensor) -> None:
        super().__init__()
        self.fn = fn
        self.register_buffer("constant", constant)

    def forward(self, x: torch.Tensor) -> object:
        return self.fn(x, self.constant)


def seeded(*shape: int, seed: int = 3) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
