"""Detection and segmentation nets for the zoo: a YOLO-style detector and a U-Net.

* `YoloStyle`: YOLOv5/v8-shaped: a stride-2 6x6 stem (v5 6.0's Focus replacement), Conv =
  Conv2d + BatchNorm + SiLU, C2f blocks (chunk, residual bottlenecks, concat), SPPF (three
  5x5 stride-1 max pools, concat), an FPN/PAN neck (nearest x2 upsampling, concat, stride-2
  convs) and the raw per-level head convolutions (box and class branches concatenated), the
  part NPU deployments run (decoding stays on the CPU).
* `UNet`: double 3x3 conv blocks, 2x2 max pooling, a bottleneck, decoder steps that upsample
  by ConvTranspose2d or by bilinear resizing (align_corners True and False), concatenate the
  skip connection, and a 1x1 classifier.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Conv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 1, s: int = 1, p: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool = True) -> None:
        super().__init__()
        self.cv1, self.cv2 = Conv(c, c, 3), Conv(c, c, 3)
        self.add = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, cin: int, cout: int, n: int = 1, shortcut: bool = True) -> None:
        super().__init__()
        self.c = cout // 2
        self.cv1 = Conv(cin, 2 * self.c)
        self.cv2 = Conv((2 + n) * self.c, cout)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 5) -> None:
        super().__init__()
        hidden = cin // 2
        self.cv1, self.cv2 = Conv(cin, hidden), Conv(hidden * 4, cout)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class YoloStyle(nn.Module):
    """Backbone (P3-P5), PAN neck, raw heads: 3 outputs of 4 * reg_max box + nc class channels."""

    def __init__(self, nc: int = 5, reg_max: int = 4) -> None:
        super().__init__()
        self.stem = Conv(3, 8, 6, 2, 2)
        self.down1, self.c2f1 = Conv(8, 16, 3, 2), C2f(16, 16)
        self.down2, self.c2f2 = Conv(16, 24, 3, 2), C2f(24, 24)          # P3, stride 8
        self.down3, self.c2f3 = Conv(24, 32, 3, 2), C2f(32, 32)          # P4, stride 16
        self.down4, self.c2f4 = Conv(32, 48, 3, 2), C2f(48, 48)          # P5, stride 32
        self.sppf = SPPF(48, 48)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.neck4, self.neck3 = C2f(48 + 32, 32, shortcut=False), C2f(32 + 24, 24, shortcut=False)
        self.pan3, self.pan4 = Conv(24, 24, 3, 2), Conv(32, 32, 3, 2)
        self.out4, self.out5 = C2f(24 + 32, 32, shortcut=False), C2f(32 + 48, 48, shortcut=False)
        self.box = nn.ModuleList(nn.Sequential(Conv(c, 16, 3), nn.Conv2d(16, 4 * reg_max, 1)) for c in (24, 32, 48))
        self.cls = nn.ModuleList(nn.Sequential(Conv(c, 16, 3), nn.Conv2d(16, nc, 1)) for c in (24, 32, 48))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.c2f1(self.down1(self.stem(x)))
        p3 = self.c2f2(self.down2(x))
        p4 = self.c2f3(self.down3(p3))
        p5 = self.sppf(self.c2f4(self.down4(p4)))
        n4 = self.neck4(torch.cat((self.up(p5), p4), 1))
        n3 = self.neck3(torch.cat((self.up(n4), p3), 1))
        o4 = self.out4(torch.cat((self.pan3(n3), n4), 1))
        o5 = self.out5(torch.cat((self.pan4(o4), p5), 1))
        return tuple(torch.cat((box(f), cls(f)), 1) for f, box, cls in zip((n3, o4, o5), self.box, self.cls))


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Three levels down; up by ConvTranspose2d, bilinear (align_corners=True) and bilinear (False)."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.inc = DoubleConv(3, 8)
        self.d1, self.d2, self.d3 = DoubleConv(8, 16), DoubleConv(16, 24), DoubleConv(24, 32)
        self.pool = nn.MaxPool2d(2)
        self.up3 = nn.ConvTranspose2d(32, 24, 2, stride=2)
        self.u3 = DoubleConv(48, 24)
        self.u2 = DoubleConv(24 + 16, 16)
        self.u1 = DoubleConv(16 + 8, 8)
        self.head = nn.Conv2d(8, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.d1(self.pool(x1))
        x3 = self.d2(self.pool(x2))
        x4 = self.d3(self.pool(x3))
        y = self.u3(torch.cat((self.up3(x4), x3), 1))
        y = self.u2(torch.cat((F.interpolate(y, size=x2.shape[2:], mode="bilinear", align_corners=True), x2), 1))
        y = self.u1(torch.cat((F.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False), x1), 1))
        return self.head(y)


class ASPP(nn.Module):
    """DeepLabV3's atrous spatial pyramid: 1x1, dilated 3x3s, and image pooling resized back from 1x1."""

    def __init__(self, cin: int, cout: int, rates: tuple[int, ...] = (2, 4)) -> None:
        super().__init__()
        self.branches = nn.ModuleList([nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())])
        for rate in rates:
            self.branches.append(nn.Sequential(nn.Conv2d(cin, cout, 3, padding=rate, dilation=rate, bias=False),
                                               nn.BatchNorm2d(cout), nn.ReLU()))
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout),
                                  nn.ReLU())
        self.project = nn.Sequential(nn.Conv2d(cout * (len(rates) + 2), cout, 1, bias=False), nn.BatchNorm2d(cout),
                                     nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.interpolate(self.pool(x), size=x.shape[2:], mode="bilinear", align_corners=False)
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], 1))


class DeepLabV3Plus(nn.Module):
    """Encoder to stride 8 (low-level features at stride 2), ASPP, decoder: bilinear x4 (align_corners=True)
    concatenated with the projected low-level features, 3x3 convs, bilinear back to the input size."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.enc = nn.Sequential(nn.Conv2d(8, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                 nn.Conv2d(16, 24, 3, 2, 1, bias=False), nn.BatchNorm2d(24), nn.ReLU())
        self.aspp = ASPP(24, 16)
        self.low = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.decoder = nn.Sequential(nn.Conv2d(24, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                     nn.Conv2d(16, classes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.stem(x)
        y = self.aspp(self.enc(low))
        y = F.interpolate(y, size=low.shape[2:], mode="bilinear", align_corners=True)
        y = self.decoder(torch.cat((y, self.low(low)), 1))
        return F.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=False)


class CRNN(nn.Module):
    """OCR: conv stack down to height 1, (N, C, W) -> (W, N, C), a 2-layer BiLSTM, per-step classifier."""

    def __init__(self, classes: int = 11, hidden: int = 12) -> None:
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.cnn = nn.Sequential(*block(1, 8), nn.MaxPool2d(2, 2), *block(8, 16), nn.MaxPool2d(2, 2),
                                 *block(16, 24), nn.MaxPool2d((2, 1), (2, 1)), *block(24, 24),
                                 nn.MaxPool2d((2, 1), (2, 1)))
        self.rnn = nn.LSTM(24, hidden, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.cnn(x).squeeze(2).permute(2, 0, 1)   # (W, N, C)
        sequence, _ = self.rnn(features)
        return self.fc(sequence).log_softmax(2)
