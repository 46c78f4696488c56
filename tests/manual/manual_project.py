"""The user of issue 6: a PyTorch model, the prototxt they wrote by hand for it, and a mapping file.

Model: conv1 -> BatchNorm -> PReLU -> block (conv, BatchNorm, ReLU) -> grouped
ConvTranspose2d (2x up) -> 1x1 conv `head` -> 2x2 max pool -> Linear `fc`.

The prototxt uses Caffe's idioms: BatchNorm + Scale pairs, in-place layers,
`/`-separated names for the `block` submodule (`block/0` for `block.0`), and
its own names for the two heads: `score` for PyTorch's `head` and `classifier`
for `fc`.  PyTorch registers `fc` before `head` while the net runs `head`
first, so matching by order pairs `score` with `fc` and stops at their
shapes: the mapping file (`score: head`) is needed; `classifier` then pairs
with `fc` by order.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT_SHAPE = (1, 3, 16, 16)

PROTOTXT = """\
name: "usernet"
input: "data"
input_shape { dim: 1 dim: 3 dim: 16 dim: 16 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1 weight_filler { type: "msra" } } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "act1" type: "PReLU" bottom: "conv1" top: "conv1" }
layer { name: "block/0" type: "Convolution" bottom: "conv1" top: "block0"
  convolution_param { num_output: 16 kernel_size: 3 stride: 2 pad: 1 bias_term: false
                      weight_filler { type: "xavier" } } }
layer { name: "block/1" type: "BatchNorm" bottom: "block0" top: "block1" }
layer { name: "block/1/scale" type: "Scale" bottom: "block1" top: "block1" scale_param { bias_term: true } }
layer { name: "block/2" type: "ReLU" bottom: "block1" top: "block1" }
layer { name: "up" type: "Deconvolution" bottom: "block1" top: "up"
  convolution_param { num_output: 16 group: 2 kernel_size: 4 stride: 2 pad: 1
                      weight_filler { type: "bilinear" } } }
layer { name: "score" type: "Convolution" bottom: "up" top: "score"
  convolution_param { num_output: 5 kernel_size: 1 } }
layer { name: "pool" type: "Pooling" bottom: "score" top: "pool"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "classifier" type: "InnerProduct" bottom: "pool" top: "logits"
  inner_product_param { num_output: 10 } }
"""

MAPPING = """\
# Caffe layer -> PyTorch module: the 1x1 conv is `score` in Caffe, `head` in PyTorch.
score: head
"""

OUTPUT = "logits"


class UserNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.act1 = nn.PReLU(8)
        self.block = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16),
                                   nn.ReLU())
        self.up = nn.ConvTranspose2d(16, 16, 4, stride=2, padding=1, groups=2)
        self.fc = nn.Linear(5 * 8 * 8, 10)  # registered before `head`, used after it
        self.head = nn.Conv2d(16, 5, 1)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.up(self.block(x))
        x = self.pool(self.head(x))
        return self.fc(torch.flatten(x, 1))


def trained_model(seed: int = 0) -> UserNet:
    """The model with every parameter and BatchNorm statistic set to seeded non-trivial values."""
    torch.manual_seed(seed)
    model = UserNet()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.2)
                module.num_batches_tracked.fill_(100)
            elif isinstance(module, nn.PReLU):
                module.weight.uniform_(0.05, 0.4)
    return model.eval()


def sample_input(seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).standard_normal(INPUT_SHAPE).astype(np.float32)


def reference_output(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def write_project(folder: Path, model: nn.Module) -> dict[str, Path]:
    """What the user has on disk: net.prototxt, model.pth (a state_dict), mapping.yaml."""
    paths = {"prototxt": folder / "net.prototxt", "checkpoint": folder / "model.pth",
             "mapping": folder / "mapping.yaml"}
    paths["prototxt"].write_text(PROTOTXT)
    paths["mapping"].write_text(MAPPING)
    torch.save(model.state_dict(), paths["checkpoint"])
    return paths


def with_swish(project: dict[str, Path]) -> Path:
    """The project's prototxt with its ReLU as a Swish: stock BVLC has Swish, the Caffe 1.0 release does not."""
    text = project["prototxt"].read_text()
    assert 'type: "ReLU"' in text
    project["prototxt"].write_text(text.replace('type: "ReLU"', 'type: "Swish"'))
    return project["prototxt"]


def scale_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual - expected| / max |expected|: the error relative to the output's scale."""
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))
