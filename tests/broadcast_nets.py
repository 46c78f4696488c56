"""Nets whose products and sums broadcast a gate over a feature map (the targets' and judges' tests share them).

`Gate(shape)`: a feature map (1, 8, H, W) times (or plus) a sigmoid map pooled to `shape`, every
placement of the smaller operand that the lowering writes as a two-bottom Scale or Bias, or as a
Tile.  At 8 x 8 with 8 channels a target that reads the factor along another axis still gets
shapes that broadcast, so a misreading shows as wrong numbers, not only as a refusal.
`AttentionPyramid`: pytorchcv LEDNet's APN (a 1-channel hourglass map gating a 1x1 branch, plus
a pooled branch).  `PanGates`: smp PAN's FPA (a spatial map times the middle branch) and GAU (a
channel gate of the high-level map times the low-level one).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

SIZE = 8
CHANNELS = 8
# name -> the gate's shape for a (1, CHANNELS, SIZE, SIZE) map.
GATES = {
    "channel": (1, CHANNELS, 1, 1), "spatial": (1, 1, SIZE, SIZE), "rows": (1, CHANNELS, SIZE, 1),
    "columns": (1, CHANNELS, 1, SIZE), "height": (1, 1, SIZE, 1), "width": (1, 1, 1, SIZE), "single": (1, 1, 1, 1),
}


class Gate(nn.Module):
    def __init__(self, shape: tuple[int, int, int, int], op: str = "mul") -> None:
        super().__init__()
        self.shape, self.op = shape, op
        self.body = nn.Conv2d(3, CHANNELS, 3, padding=1)
        self.gate = nn.Conv2d(3, shape[1], 1)
        self.head = nn.Conv2d(CHANNELS, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, g = self.body(x), torch.sigmoid(self.gate(x))
        window = (g.shape[2] if self.shape[2] == 1 else 1, g.shape[3] if self.shape[3] == 1 else 1)
        if window != (1, 1):
            g = F.avg_pool2d(g, window)
        return self.head(y * g if self.op == "mul" else y + g)


def _cbr(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2), nn.BatchNorm2d(c_out), nn.ReLU())


class AttentionPyramid(nn.Module):
    """LEDNet's APN: x * hourglass(x) (1 channel, 3 levels down and up) + conv(global pool(x))."""

    def __init__(self, channels: int = 8, out: int = 6) -> None:
        super().__init__()
        self.pool_branch = _cbr(channels, out, 1)
        self.body = _cbr(channels, out, 1)
        self.down1, self.down2, self.down3 = _cbr(channels, 1, 7, 2), _cbr(1, 1, 5, 2), _cbr(1, 1, 3, 2)
        self.skip1, self.skip2 = _cbr(1, 1, 7), _cbr(1, 1, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        y = F.interpolate(self.pool_branch(F.adaptive_avg_pool2d(x, 1)), size=size, mode="bilinear",
                          align_corners=True)
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        w = F.interpolate(d3, scale_factor=2, mode="bilinear", align_corners=True) + self.skip2(d2)
        w = F.interpolate(w, scale_factor=2, mode="bilinear", align_corners=True) + self.skip1(d1)
        w = F.interpolate(w, scale_factor=2, mode="bilinear", align_corners=True)
        return self.body(x) * w + y


class PanGates(nn.Module):
    """smp PAN's FPA (mid(x) * upsampled 1-channel pyramid + pooled branch) feeding a GAU
    (low * gate(high) + up(high))."""

    def __init__(self, channels: int = 8, out: int = 6) -> None:
        super().__init__()
        self.branch1, self.mid = _cbr(channels, out, 1), _cbr(channels, out, 1)
        self.down1, self.down2 = _cbr(channels, 1, 7), _cbr(1, 1, 5)
        self.conv1 = _cbr(1, 1, 7)
        self.low = _cbr(channels, out, 3)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(out, out, 1), nn.BatchNorm2d(out), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        half = F.max_pool2d(x, 2)
        pooled = F.interpolate(self.branch1(F.adaptive_avg_pool2d(half, 1)), size=(h // 2, w // 2), mode="bilinear",
                               align_corners=True)
        x1 = self.down1(F.max_pool2d(half, 1))
        x2 = F.interpolate(self.down2(F.max_pool2d(x1, 2)), size=(h // 2, w // 2), mode="bilinear",
                           align_corners=True)
        high = torch.mul(x2 + self.conv1(x1), self.mid(half)) + pooled
        up = F.interpolate(high, size=(h, w), mode="bilinear", align_corners=True)
        return up + torch.mul(self.low(x), self.gate(high))
