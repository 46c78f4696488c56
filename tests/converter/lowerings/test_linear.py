"""linear / addmm / matmul with a constant operand -> InnerProduct, in real Caffe.

Tolerance: run_compare_torch's default 1e-4 x max|tensor|.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import purecaffe
from purecaffe.converter import UnsupportedOpsError
from torch_compare import run_compare_torch

pytestmark = pytest.mark.real_caffe


@pytest.mark.parametrize("shape", [(2, 17), (1, 5, 17), (2, 3, 4, 17)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias: bool) -> None:
    run_compare_torch(nn.Linear(17, 9, bias=bias), shape, expect_layers=["InnerProduct"])


class MatmulConst(nn.Module):
    def __init__(self, rank: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(12, 7) if rank == 2 else torch.randn(12))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.w)


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("shape", [(3, 12), (1, 4, 12)], ids=str)
def test_matmul_constant(rank: int, shape) -> None:
    run_compare_torch(MatmulConst(rank), shape, expect_layers=["InnerProduct"])


class Addmm(nn.Module):
    def __init__(self, alpha: float, beta: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(10, 6))
        self.b = nn.Parameter(torch.randn(6))
        self.alpha, self.beta = alpha, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.b, x, self.w, beta=self.beta, alpha=self.alpha) + torch.mm(x, self.w.t().t())


@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 2.0)])
def test_addmm_mm(alpha: float, beta: float) -> None:
    run_compare_torch(Addmm(alpha, beta), (4, 10), expect_layers=["InnerProduct"])


class Bilinear(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, y)


class Attention(nn.Module):
    """Scaled dot-product attention over (N, heads, tokens, dim), as YOLO11's C2PSA / EfficientViT do."""

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, dim=-1)
        return weights @ v


@pytest.mark.parametrize("target", ["bvlc", "caffe1"])
def test_attention_products_of_computed_tensors(target: str) -> None:
    """Tile + Eltwise PROD + Reduction: the same products as PyTorch, summed in another order."""
    shapes = [(2, 2, 7, 5), (2, 2, 7, 5), (2, 2, 7, 3)]
    run_compare_torch(Attention(), shapes, target=target, expect_layers=["Tile", "Eltwise", "Reduction"])


@pytest.mark.parametrize("shapes", [[(1, 3, 4), (1, 4, 5)], [(2, 6, 1), (2, 1, 3)], [(3, 5, 2), (3, 2, 1)]])
def test_bmm_of_computed_tensors(shapes) -> None:
    run_compare_torch(Bilinear(), shapes)


def test_an_unreasonable_product_is_refused_with_its_size() -> None:
    with pytest.raises(UnsupportedOpsError, match=r"needs intermediate blobs of 134217728 floats \(more than 67108864\)"):
        purecaffe.convert(Bilinear().eval(), (torch.randn(1, 512, 512), torch.randn(1, 512, 512)))
