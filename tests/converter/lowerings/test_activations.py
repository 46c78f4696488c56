"""Activations: each converted model is run in Caffe and every mapped blob compared with PyTorch.

Tolerance: the default of `run_compare_torch` (1e-4 x max|tensor|): Caffe and
PyTorch evaluate exp/tanh/log1p with different float32 routines and, for the
compositions (hardswish, mish, softplus with beta), in a different order.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_compare import run_compare_torch

pytestmark = pytest.mark.real_caffe

SHAPES = [(1, 3, 7, 5), (2, 4, 1, 1), (1, 5, 6)]


class Scaled(nn.Module):
    """Spread inputs to +-8 so every branch of the activation is exercised."""

    def __init__(self, act: nn.Module) -> None:
        super().__init__()
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x * 4.0)


ACTIVATIONS = {
    "relu": (nn.ReLU(), "ReLU"),
    "relu_inplace": (nn.ReLU(inplace=True), "ReLU"),
    "relu6": (nn.ReLU6(), "Clip"),
    "hardtanh": (nn.Hardtanh(-2.0, 3.0), "Clip"),
    "leaky_relu": (nn.LeakyReLU(0.1), "ReLU"),
    "elu": (nn.ELU(alpha=0.7), "ELU"),
    "sigmoid": (nn.Sigmoid(), "Sigmoid"),
    "tanh": (nn.Tanh(), "TanH"),
    "silu": (nn.SiLU(), "Swish"),
    "hardswish": (nn.Hardswish(), "Clip"),
    "hardsigmoid": (nn.Hardsigmoid(), "Clip"),
    "mish": (nn.Mish(), "BNLL"),
    "softplus": (nn.Softplus(), "BNLL"),
    "softplus_beta": (nn.Softplus(beta=2.0, threshold=20.0), "BNLL"),
    "gelu_tanh": (nn.GELU(approximate="tanh"), "TanH"),
}


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation(name: str, shape: tuple[int, ...]) -> None:
    module, layer_type = ACTIVATIONS[name]
    run_compare_torch(Scaled(module), shape, expect_layers=[layer_type])


@pytest.mark.parametrize("channels,num_parameters", [(4, 4), (4, 1)], ids=["per_channel", "shared"])
def test_prelu(channels: int, num_parameters: int) -> None:
    torch.manual_seed(0)
    module = nn.PReLU(num_parameters)
    with torch.no_grad():
        module.weight.uniform_(0.05, 0.5)
    run_compare_torch(Scaled(module), (1, channels, 5, 7), expect_layers=["PReLU"])


def test_functional_clamp() -> None:
    class Clamp(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.clamp(F.relu(x), max=1.5) + torch.clamp(x, min=0.0)

    run_compare_torch(Clamp(), (1, 3, 4, 4))


@pytest.mark.parametrize("module,reason", [
    (nn.Softplus(threshold=5.0), "threshold 5.0 < 14"),
    (nn.SELU(), "SELU|scale"),
    (nn.CELU(0.5), "CELU|scale|no Caffe lowering"),
], ids=["softplus_low_threshold", "selu", "celu"])
def test_refused_with_reason(module: nn.Module, reason: str) -> None:
    import purecaffe
    from purecaffe.converter import UnsupportedOpsError

    with pytest.raises(UnsupportedOpsError, match=reason):
        purecaffe.convert(module.eval(), (torch.randn(1, 3, 4, 4),))
