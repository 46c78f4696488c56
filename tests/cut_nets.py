"""Nets that cut a part out of a 4-D blob and leave the rest unread (the targets' and RKNN's tests share them).

`CASES`: name -> (a factory of the net, its input shape): ReXNet's and DPN's channel splits, rows,
columns, and timm's Conv2dSame (TensorFlow "same" padding: a bigger symmetric pad, then the first
row and column cut off).
"""
from __future__ import annotations

import torch
from torch import nn


class CutOf(nn.Module):
    """`fn` of a convolution's 11-channel output."""

    def __init__(self, fn) -> None:  # noqa: ANN001
        super().__init__()
        self.conv = nn.Conv2d(3, 11, 3, padding=1)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.conv(x))


# name -> (net, input shape); each cuts a part out of a 4-D blob and leaves the rest unread.
CASES = {
    "rexnet_channels": (lambda: CutOf(lambda y: torch.cat([y[:, 0:4] + 1.0, y[:, 4:]], dim=1)), (1, 3, 7, 9)),
    "dpn_split": (lambda: CutOf(lambda y: y[:, :6] * y[:, 6:11].mean(1, keepdim=True)), (1, 3, 7, 9)),
    "rows": (lambda: CutOf(lambda y: y[:, :, 1:5] * 2.0), (1, 3, 7, 9)),
    "columns": (lambda: CutOf(lambda y: y[:, :, :, 3:] * 2.0), (1, 3, 7, 9)),
    "same_conv": (lambda: SameConv(), (1, 3, 8, 10)),
}


class SameConv(nn.Module):
    """TensorFlow's "same" padding as timm's Conv2dSame does it (pad right/bottom more than left/top)."""

    def __init__(self) -> None:
        super().__init__()
        from timm.layers import Conv2dSame

        self.conv = Conv2dSame(3, 5, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)
