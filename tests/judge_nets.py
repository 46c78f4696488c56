"""Small nets and helpers the judges' tests share (RKNN, tpu-mlir, MNN)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

import purecaffe
from purecaffe.io.sidecar import SavedFiles


class ConvBnPoolLinear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 8 * 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.relu(self.bn(self.conv(x)))), 1))


class TwoHeads(nn.Module):
    """Two outputs of different shapes, the second written first in name order: which order does a judge use?"""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.zeta = nn.Conv2d(4, 6, 1)
        self.alpha = nn.Conv2d(4, 2, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.relu(self.stem(x))
        return self.zeta(y), self.alpha(y)


class Activation(nn.Module):
    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = activation
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.act(self.conv(x) * 4.0))


def randomized(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fixed weights and non-trivial BatchNorm statistics (fresh ones hide BatchNorm/Scale mistakes)."""
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            with torch.no_grad():
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model.eval()


def save_converted(model: nn.Module, x: torch.Tensor, prefix: Path, **convert: object
                   ) -> tuple[SavedFiles, list[np.ndarray]]:
    """The converted files and torch's outputs (as numpy, in order)."""
    files = purecaffe.convert(model, (x,), **convert).save(prefix)
    with torch.no_grad():
        out = model(x)
    return files, [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def cosine(got: np.ndarray, expected: np.ndarray) -> float:
    return float(np.dot(got.ravel(), expected.ravel()) / (np.linalg.norm(got) * np.linalg.norm(expected)))


def assert_close(got: np.ndarray, expected: np.ndarray, *, rel: float, min_cosine: float | None = None) -> None:
    assert got.shape == expected.shape
    error = float(np.abs(got - expected).max() / np.abs(expected).max())
    assert error <= rel, error
    if min_cosine is not None:
        assert cosine(got, expected) >= min_cosine, cosine(got, expected)
