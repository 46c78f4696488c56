"""Eval-mode batch norm -> BatchNorm + Scale, in real Caffe, with non-trivial statistics.

Tolerance: run_compare_torch's default 1e-4 x max|tensor| (Caffe divides by
sqrt(var + eps), PyTorch multiplies by its reciprocal).
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import purecaffe
from purecaffe.converter import UnsupportedOpsError
from torch_compare import run_compare_torch

pytestmark = pytest.mark.real_caffe


def randomized(bn: nn.Module, seed: int = 1234) -> nn.Module:
    """Non-trivial statistics (a seed other than the inputs' 0, or the mean would equal the input)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(bn.num_features, generator=generator))
        bn.running_var.copy_(torch.rand(bn.num_features, generator=generator) * 2 + 0.1)
        if bn.affine:
            bn.weight.copy_(torch.randn(bn.num_features, generator=generator))
            bn.bias.copy_(torch.randn(bn.num_features, generator=generator))
    return bn


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(2, 6, 5, 7), (1, 6, 1, 1)], ids=str)
def test_batch_norm2d(shape, affine: bool) -> None:
    comparison = run_compare_torch(randomized(nn.BatchNorm2d(6, eps=1e-3, affine=affine)), shape,
                                   expect_layers=["BatchNorm"])
    types = [layer.type for layer in comparison.net.net.layer]
    assert ("Scale" in types) == affine


class LinearBN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(10, 8)
        self.bn = randomized(nn.BatchNorm1d(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.fc(x))


def test_batch_norm1d_after_linear() -> None:
    comparison = run_compare_torch(LinearBN(), (3, 10), expect_layers=["InnerProduct", "BatchNorm", "Scale"])
    names = [layer.name for layer in comparison.net.net.layer]
    assert names == ["data", "fc", "bn", "bn/scale"]


def test_batch_norm1d_on_sequences() -> None:
    run_compare_torch(randomized(nn.BatchNorm1d(4)), (2, 4, 9), expect_layers=["BatchNorm"])


def test_batch_norm_without_running_stats_is_refused() -> None:
    model = nn.BatchNorm2d(3, track_running_stats=False).eval()
    with pytest.raises(UnsupportedOpsError, match="running statistics|batch statistics"):
        purecaffe.convert(model, (torch.randn(1, 3, 4, 4),))


class ForcesFullFunctionalization(nn.Module):
    """A mutation through a view makes capture use run_decompositions: the batch norm then
    arrives as `_native_batch_norm_legit_no_training` + getitem."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = randomized(nn.BatchNorm2d(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn(x)
        y.view(y.shape[0], -1).mul_(2.0)
        return y


def test_decomposed_batch_norm_form() -> None:
    from purecaffe.converter.capture import capture

    ops = [n.op for n in capture(ForcesFullFunctionalization().eval(), (torch.randn(1, 3, 4, 4),)).graph.nodes]
    assert "aten._native_batch_norm_legit_no_training" in ops
    run_compare_torch(ForcesFullFunctionalization(), (1, 3, 4, 4), expect_layers=["BatchNorm", "Scale"])
