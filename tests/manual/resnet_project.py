"""A PyTorch ResNet-50 (torchvision's module names, Caffe's v1 layout) for the corpus ResNet-50 prototxt.

Kaiming He's `ResNet-50-deploy.prototxt` names layers `res2a_branch2a`,
`bn2a_branch2a`, `scale2a_branch2a`, ... and puts the projection shortcut
(`res2a_branch1`) *before* the residual branch, while torchvision-style code
registers `downsample` *after* `conv1..bn3`.  So every layer is found by
order except the four shortcuts, which an 8-line mapping names.
The block is ResNet v1 as in the Caffe net (stride on the first 1x1 conv).
"""
from __future__ import annotations

import torch
from torch import nn

STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # width, blocks, stride

MAPPING = {f"{name}{stage}a_branch1": f"layer{stage - 1}.0.downsample.{index}"
           for stage in (2, 3, 4, 5) for name, index in (("res", 0), ("bn", 1))}


class Bottleneck(nn.Module):
    def __init__(self, inplanes: int, width: int, stride: int, downsample: nn.Module | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, width, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet50(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3)  # the Caffe net's conv1 has a bias
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, ceil_mode=True)
        inplanes = 64
        for index, (width, blocks, stride) in enumerate(STAGES, start=1):
            layers = []
            for block in range(blocks):
                downsample = None
                if block == 0:
                    downsample = nn.Sequential(nn.Conv2d(inplanes, width * 4, 1, stride=stride, bias=False),
                                               nn.BatchNorm2d(width * 4))
                layers.append(Bottleneck(inplanes, width, stride if block == 0 else 1, downsample))
                inplanes = width * 4
            setattr(self, f"layer{index}", nn.Sequential(*layers))
        self.avgpool = nn.AvgPool2d(7)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))  # the Caffe net's `fc1000` (before its Softmax)


def trained_resnet50(seed: int = 0) -> ResNet50:
    """Seeded weights that keep activations O(1) through 50 layers (unit-gain convs, mild BatchNorm)."""
    torch.manual_seed(seed)
    model = ResNet50()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0.0, 1.0 / module.weight[0].numel() ** 0.5)
            elif isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.0)
                module.bias.normal_(0, 0.1)
    return model.eval()
