"""Small whole-model networks for the converter tests, written here so no torchvision is needed.

Each builder returns an eval-mode module and example inputs.  The architectures follow the
published ones (layer kinds, how branches join, which pooling rounding) but are narrow and run
on small inputs, so a whole zoo passes through real Caffe in well under a minute.

BatchNorm running statistics and affine parameters are randomized from a fixed seed (a freshly
initialised BatchNorm is the identity and would hide a wrong blob order), and PReLU slopes are
randomized per channel (a shared default of 0.25 would hide a wrong channel axis).

The face models (MTCNN, the embedding net) live in `zoo_face.py`, super-resolution, GAN and OCR
nets (ESPCN, the CycleGAN/pix2pix ResNet generator, LPRNet) in `zoo_imaging.py`; `ZOO` lists every model and
`VARIANTS` the extra spellings (odd sizes, idioms a graph pattern must recognise).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from converter.zoo_dense import CRNN, DeepLabV3Plus, UNet, YoloStyle
from converter.zoo_face import FaceEmbedding, FacenetRNet, ONet, PNet, RNet
from converter.zoo_imaging import ESPCN, LPRNet, ResnetGenerator


class ZooModel(NamedTuple):
    module: nn.Module
    example_inputs: tuple[torch.Tensor, ...]


def randomize_(model: nn.Module, seed: int) -> nn.Module:
    """Give every BatchNorm and PReLU non-trivial values from `seed`; return the model in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.2)
                module.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
                if module.affine:
                    module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                    module.bias.copy_(torch.randn(n, generator=generator) * 0.2)
            elif isinstance(module, nn.PReLU):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) * 0.5)
    return model.eval()


def _image(seed: int, size: int | tuple[int, int], batch: int = 1, channels: int = 3) -> torch.Tensor:
    height, width = (size, size) if isinstance(size, int) else size
    return torch.randn(batch, channels, height, width, generator=torch.Generator().manual_seed(seed))


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: type[nn.Module] | None = nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- ResNet-18

class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (8, 16, 24, 32), num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], widths[0]
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(cin, width, stride), BasicBlock(width, width, 1)))
            cin = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --------------------------------------------------------------------------- MobileNetV2

class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn(cin, hidden, 1, act=nn.ReLU6))
        layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6), _conv_bn(hidden, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    # (expand, channels, repeats, stride)
    SETTING = ((1, 8, 1, 1), (6, 12, 2, 2), (6, 16, 2, 2), (6, 24, 1, 1), (6, 32, 2, 2))

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 16, 3, 2, act=nn.ReLU6)]
        cin = 16
        for expand, cout, repeats, stride in self.SETTING:
            for i in range(repeats):
                layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        layers.append(_conv_bn(cin, 64, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# --------------------------------------------------------------------------- MobileNetV3

class SqueezeExcite(nn.Module):
    """SE block: global mean, two 1x1 convs, a gate, broadcast multiply (N,C,1,1) * (N,C,H,W)."""

    def __init__(self, channels: int, squeeze: int, gate: type[nn.Module] = nn.Hardsigmoid, act: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.act = act()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = self.gate(self.fc2(self.act(self.fc1(scale))))
        return scale * x


class V3Block(nn.Module):
    def __init__(self, cin: int, k: int, hidden: int, cout: int, se: bool, act: type[nn.Module], stride: int) -> None:
        super().__init__()
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if hidden != cin:
            layers.append(_conv_bn(cin, hidden, 1, act=act))
        layers.append(_conv_bn(hidden, hidden, k, stride, groups=hidden, act=act))
        if se:
            layers.append(SqueezeExcite(hidden, max(8, hidden // 4)))
        layers.append(_conv_bn(hidden, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.use_res else out


class MobileNetV3(nn.Module):
    # (kernel, hidden, out, se, activation, stride) -- MobileNetV3-Small shaped, narrower
    SETTING = (
        (3, 16, 16, True, nn.ReLU, 2),
        (3, 36, 16, False, nn.ReLU, 2),
        (3, 44, 16, False, nn.ReLU, 1),
        (5, 48, 24, True, nn.Hardswish, 2),
        (5, 64, 24, True, nn.Hardswish, 1),
        (5, 72, 32, True, nn.Hardswish, 2),
    )

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 16, 3, 2, act=nn.Hardswish)]
        cin = 16
        for k, hidden, cout, se, act, stride in self.SETTING:
            layers.append(V3Block(cin, k, hidden, cout, se, act, stride))
            cin = cout
        layers.append(_conv_bn(cin, 96, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(96, 64), nn.Hardswish(), nn.Dropout(0.2), nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# --------------------------------------------------------------------------- ShuffleNetV2

def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """torchvision's form: view(N, g, C/g, H, W) -> transpose(1, 2) -> contiguous -> view(N, C, H, W)."""
    batch, channels, height, width = x.size()
    x = x.view(batch, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch, channels, height, width)


class ShuffleUnit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        branch = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                _conv_bn(cin, cin, 3, stride, groups=cin, act=None), _conv_bn(cin, branch, 1))
        else:
            self.branch1 = nn.Sequential()
        first = cin if stride > 1 else branch
        self.branch2 = nn.Sequential(
            _conv_bn(first, branch, 1), _conv_bn(branch, branch, 3, stride, groups=branch, act=None), _conv_bn(branch, branch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (16, 24, 48, 96), repeats: tuple[int, ...] = (2, 3, 2), num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = _conv_bn(3, widths[0], 3, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], widths[0]
        for cout, n in zip(widths[1:], repeats):
            stages.append(nn.Sequential(ShuffleUnit(cin, cout, 2), *[ShuffleUnit(cout, cout, 1) for _ in range(n - 1)]))
            cin = cout
        self.stage2, self.stage3, self.stage4 = stages
        self.conv5 = _conv_bn(cin, 128, 1)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))


class ShuffleBlocks(nn.Module):
    """Channel shuffle both ways: nn.ChannelShuffle (the aten op) and the permute(0, 2, 1, 3, 4) spelling."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = _conv_bn(3, 12, 3, 2)
        self.shuffle = nn.ChannelShuffle(3)
        self.conv2 = _conv_bn(12, 12, 3, 1, groups=3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.shuffle(self.conv(x))
        y = self.conv2(x)
        n, c, h, w = y.shape
        y = y.reshape(n, 4, c // 4, h, w).permute(0, 2, 1, 3, 4).reshape(n, c, h, w)
        return {"features": y, "pooled": y.mean((2, 3))}


# --------------------------------------------------------------------------- SqueezeNet

class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, expand, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.squeeze(x))
        return torch.cat([self.relu(self.expand1x1(x)), self.relu(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1 layout; ceil-mode max pooling on odd sizes (31 -> 15, 15 -> 7)."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(16, 8, 16), Fire(32, 8, 16),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(32, 12, 24), Fire(48, 12, 24),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(48, 16, 32), Fire(64, 16, 32),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Conv2d(64, num_classes, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


# --------------------------------------------------------------------------- Inception

class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = _conv_bn(cin, 16, 1)
        self.branch5x5_1 = _conv_bn(cin, 12, 1)
        self.branch5x5_2 = _conv_bn(12, 16, 5)
        self.branch3x3dbl_1 = _conv_bn(cin, 16, 1)
        self.branch3x3dbl_2 = _conv_bn(16, 24, 3)
        self.branch3x3dbl_3 = _conv_bn(24, 24, 3)
        self.branch_pool = _conv_bn(cin, pool_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        # torchvision's form: count_include_pad=True, which Caffe's AVE pooling matches exactly.
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionNet(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv_bn(3, 16, 3, 2), _conv_bn(16, 24, 3), nn.MaxPool2d(3, 2))
        self.mixed_a = InceptionA(24, 8)
        self.mixed_b = InceptionA(64, 16)
        self.pool = nn.MaxPool2d(3, 2)
        self.mixed_c = InceptionA(72, 16)
        self.fc = nn.Linear(72, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mixed_b(self.mixed_a(self.stem(x)))
        x = self.mixed_c(self.pool(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.fc(torch.flatten(x, 1))


# --------------------------------------------------------------------------- DenseNet

class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = torch.cat(features, 1)
        x = self.conv1(self.relu1(self.norm1(x)))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    def __init__(self, layers: int, cin: int, growth: int, bn_size: int) -> None:
        super().__init__()
        for i in range(layers):
            self[f"denselayer{i + 1}"] = DenseLayer(cin + i * growth, growth, bn_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class Transition(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1, bias=False), nn.AvgPool2d(2, 2))


class DenseNet(nn.Module):
    def __init__(self, growth: int = 8, blocks: tuple[int, ...] = (3, 4, 3), bn_size: int = 2, num_classes: int = 10) -> None:
        super().__init__()
        features: list[nn.Module] = [nn.Conv2d(3, 16, 7, 2, 3, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
        channels = 16
        for i, n in enumerate(blocks):
            features.append(DenseBlock(n, channels, growth, bn_size))
            channels += n * growth
            if i != len(blocks) - 1:
                features.append(Transition(channels, channels // 2))
                channels //= 2
        features.append(nn.BatchNorm2d(channels))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


# --------------------------------------------------------------------------- EfficientNet

class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn(cin, hidden, 1, act=nn.SiLU))
        layers += [
            _conv_bn(hidden, hidden, k, stride, groups=hidden, act=nn.SiLU),
            SqueezeExcite(hidden, max(1, cin // 4), gate=nn.Sigmoid, act=nn.SiLU),
            _conv_bn(hidden, cout, 1, act=None),
        ]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.use_res else out


class EfficientNet(nn.Module):
    # (expand, kernel, stride, out, repeats) -- EfficientNet-B0 shaped, narrower and shallower
    SETTING = ((1, 3, 1, 8, 1), (6, 3, 2, 12, 2), (6, 5, 2, 20, 2), (6, 3, 2, 40, 1), (6, 5, 1, 48, 1))

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, 16, 3, 2, act=nn.SiLU)]
        cin = 16
        for expand, k, stride, cout, repeats in self.SETTING:
            for i in range(repeats):
                layers.append(MBConv(cin, cout, k, stride if i == 0 else 1, expand))
                cin = cout
        layers.append(_conv_bn(cin, 128, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# --------------------------------------------------------------------------- registry of the zoo

def _make(factory: Callable[[], nn.Module], size: int | tuple[int, int], seed: int) -> Callable[[], ZooModel]:
    def build() -> ZooModel:
        torch.manual_seed(seed)
        model = randomize_(factory(), seed)
        return ZooModel(model, (_image(seed, size),))
    build.__name__ = f"build_{factory.__name__}"  # type: ignore[attr-defined]
    return build


ZOO: dict[str, Callable[[], ZooModel]] = {
    "resnet18": _make(ResNet18, 64, 1),
    "mobilenet_v2": _make(MobileNetV2, 64, 2),
    "mobilenet_v3": _make(MobileNetV3, 64, 3),
    "shufflenet_v2": _make(ShuffleNetV2, 64, 4),
    "squeezenet": _make(SqueezeNet, 64, 5),
    "inception": _make(InceptionNet, 64, 6),
    "densenet": _make(DenseNet, 64, 7),
    "efficientnet": _make(EfficientNet, 64, 8),
    "mtcnn_pnet": _make(PNet, 12, 9),
    "mtcnn_rnet": _make(RNet, 24, 10),
    "mtcnn_onet": _make(ONet, 48, 11),
    "face_embedding": _make(FaceEmbedding, 32, 12),
    "yolo_style": _make(YoloStyle, 64, 16),
    "unet": _make(UNet, 40, 17),
    "espcn": _make(ESPCN, (17, 13), 18),
    "cyclegan_resnet_generator": _make(ResnetGenerator, (36, 28), 19),
    "lprnet": _make(LPRNet, (24, 94), 20),
    "deeplabv3plus": _make(DeepLabV3Plus, 48, 21),
    "crnn": lambda: _crnn(22),
}


def _crnn(seed: int) -> ZooModel:
    torch.manual_seed(seed)
    return ZooModel(randomize_(CRNN(), seed), (_image(seed, (16, 40), channels=1),))

# Variants: the same families on odd sizes, and idioms that need a graph pattern to convert.
VARIANTS: dict[str, Callable[[], ZooModel]] = {
    "mtcnn_pnet_odd": _make(PNet, (25, 23), 13),  # ceil pooling on odd maps, a 7x6 output grid
    "mtcnn_rnet_facenet": _make(FacenetRNet, 24, 14),
    "channel_shuffle": _make(ShuffleBlocks, 17, 15),
}
