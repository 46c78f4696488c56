"""Super-resolution, image-to-image GAN and licence-plate OCR nets for the zoo (no torchvision).

* `ESPCN` (Shi et al. 2016): conv + tanh, then a sub-pixel convolution (`pixel_shuffle`).
* `ResnetGenerator`: the pix2pix / CycleGAN generator (junyanz/pytorch-CycleGAN-and-pix2pix):
  reflection padding, InstanceNorm without affine, stride-2 convolutions, residual blocks,
  ConvTranspose2d with output_padding, tanh.
* `LPRNet` (sirius-ai/LPRNet_Pytorch): small basic blocks, the channel pooling
  `nn.MaxPool3d((1, 3, 3), stride=(2, 1, 2))` on 4-D tensors, global context normalised by
  its mean square, logits averaged over H.  One change from the published net: the global context is
  divided by each sample's own mean (`mean(dim=(1, 2, 3), keepdim=True)`), where the original
  `torch.mean(f_pow)` also averages over the batch (no per-sample Caffe equivalent).

Narrow widths, the published layer kinds and orders.
"""
from __future__ import annotations

import torch
from torch import nn


class ESPCN(nn.Module):
    def __init__(self, scale: int = 3, channels: int = 3) -> None:
        super().__init__()
        self.feature_maps = nn.Sequential(
            nn.Conv2d(channels, 16, 5, padding=2), nn.Tanh(),
            nn.Conv2d(16, 8, 3, padding=1), nn.Tanh(),
        )
        self.sub_pixel = nn.Sequential(
            nn.Conv2d(8, channels * scale * scale, 3, padding=1),
            nn.PixelShuffle(scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sub_pixel(self.feature_maps(x))


class ResnetBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True),
            nn.Dropout(0.5),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 8, n_blocks: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), nn.InstanceNorm2d(ngf),
                                   nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                       nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1),
                       nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class SmallBasicBlock(nn.Module):
    def __init__(self, ch_in: int, ch_out: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(ch_in, ch_out // 4, kernel_size=1), nn.ReLU(),
            nn.Conv2d(ch_out // 4, ch_out // 4, kernel_size=(3, 1), padding=(1, 0)), nn.ReLU(),
            nn.Conv2d(ch_out // 4, ch_out // 4, kernel_size=(1, 3), padding=(0, 1)), nn.ReLU(),
            nn.Conv2d(ch_out // 4, ch_out, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class LPRNet(nn.Module):
    """Input (N, 3, 24, 94) as published; widths divided by `shrink`."""

    def __init__(self, class_num: int = 11, shrink: int = 4) -> None:
        super().__init__()
        c64, c128, c256 = 64 // shrink, 128 // shrink, 256 // shrink
        self.backbone = nn.Sequential(
            nn.Conv2d(3, c64, kernel_size=3, stride=1),                          # 0
            nn.BatchNorm2d(c64),
            nn.ReLU(),                                                           # 2
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 1, 1)),
            SmallBasicBlock(c64, c128),                                          # 4
            nn.BatchNorm2d(c128),
            nn.ReLU(),                                                           # 6
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(2, 1, 2)),
            SmallBasicBlock(c64, c256),                                          # 8
            nn.BatchNorm2d(c256),
            nn.ReLU(),                                                           # 10
            SmallBasicBlock(c256, c256),
            nn.BatchNorm2d(c256),                                                # 12
            nn.ReLU(),
            nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(4, 1, 2)),               # 14
            nn.Dropout(0.5),
            nn.Conv2d(c64, c256, kernel_size=(1, 4), stride=1),                  # 16
            nn.BatchNorm2d(c256),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Conv2d(c256, class_num, kernel_size=(13, 1), stride=1),           # 20
            nn.BatchNorm2d(class_num),
            nn.ReLU(),                                                           # 22
        )
        self.container = nn.Sequential(nn.Conv2d(c64 + c128 + c256 + class_num, class_num, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep_features = []
        for i, layer in enumerate(self.backbone.children()):
            x = layer(x)
            if i in (2, 6, 13, 22):
                keep_features.append(x)
        global_context = []
        for i, f in enumerate(keep_features):
            if i in (0, 1):
                f = nn.functional.avg_pool2d(f, kernel_size=5, stride=5)
            if i == 2:
                f = nn.functional.avg_pool2d(f, kernel_size=(4, 10), stride=(4, 2))
            f_pow = torch.pow(f, 2)
            f_mean = torch.mean(f_pow, dim=(1, 2, 3), keepdim=True)
            global_context.append(torch.div(f, f_mean))
        x = self.container(torch.cat(global_context, 1))
        return torch.mean(x, dim=2)
