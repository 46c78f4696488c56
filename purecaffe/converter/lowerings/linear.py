"""linear / addmm / mm / matmul with a constant right operand -> InnerProduct; products of two
computed tensors (attention, bmm) -> Permute + Tile + Eltwise PROD + Reduction.

InnerProduct with `axis = rank - 1` multiplies the last dimension only, which
is exactly nn.Linear on inputs of any rank.  A product of two computed tensors
has no stock Caffe layer: `_computed_product` tiles both operands to (..., M, N, K)
and sums over K (the same K products per output as PyTorch's), refused past
`MAX_PRODUCT_FLOATS` floats per intermediate blob.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from purecaffe.canonical import builders
from purecaffe.converter import weights
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.registry import lowering


log = logging.getLogger(__name__)


def _inner_product(ctx: LoweringContext, node: Node, x_ref: object, weight: np.ndarray,
                   bias: np.ndarray | None) -> None:
    """y = x @ weight.T + bias over the last axis of x; weight (out, in)."""
    x = ctx.blob(x_ref)
    if len(x.shape) < 2:
        raise ctx.unsupported(f"matrix product on a {len(x.shape)}-D input; Caffe blobs here need a batch axis")
    if weight.ndim != 2 or weight.shape[1] != x.shape[-1]:
        raise ctx.unsupported(f"weight {list(weight.shape)} does not match input {list(x.shape)}")
    if bias is not None:
        if bias.size == 1 and weight.shape[0] != 1:
            bias = np.full((weight.shape[0],), float(bias.reshape(-1)[0]), dtype=np.float32)
        elif bias.reshape(-1).shape != (weight.shape[0],) or bias.ndim > 1 and bias.shape[0] != 1:
            raise ctx.unsupported(f"bias {list(bias.shape)} is not one value per output feature")
    layer = builders.inner_product(ctx.name(node), x, ctx.name(node), num_output=weight.shape[0],
                                   axis=len(x.shape) - 1, bias_term=bias is not None)
    ctx.emit(layer, weights.inner_product_blobs(weight, bias), result=node)


def _refuse_computed(ctx: LoweringContext, node: Node, ref: object, role: str) -> None:
    if not ctx.is_constant(ref):
        raise ctx.unsupported(f"the {role} operand is computed from the inputs; Caffe's InnerProduct needs "
                              f"constant weights and stock Caffe has no product of two computed tensors")


@lowering("aten.linear")
def lower_linear(ctx: LoweringContext, node: Node) -> None:
    x, weight, bias = node.unpack("input", "weight", "bias")
    _refuse_computed(ctx, node, weight, "weight")
    if bias is not None:
        _refuse_computed(ctx, node, bias, "bias")
    _inner_product(ctx, node, x, ctx.constant(weight), ctx.constant(bias) if bias is not None else None)


@lowering("aten.addmm")
def lower_addmm(ctx: LoweringContext, node: Node) -> None:
    """beta * self + alpha * (mat1 @ mat2), mat2 (in, out) and self constant."""
    self, mat1, mat2, beta, alpha = node.unpack("self", "mat1", "mat2", "beta", "alpha")
    _refuse_computed(ctx, node, mat2, "right")
    _refuse_computed(ctx, node, self, "added")
    weight = ctx.constant(mat2).T * np.float32(alpha) if alpha != 1 else ctx.constant(mat2).T
    bias = ctx.constant(self) * np.float32(beta) if beta != 1 else ctx.constant(self)
    _inner_product(ctx, node, mat1, weight, bias)


@lowering("aten.mm")
def lower_mm(ctx: LoweringContext, node: Node) -> None:
    self, mat2 = node.unpack("self", "mat2")
    _refuse_computed(ctx, node, mat2, "right")
    _inner_product(ctx, node, self, ctx.constant(mat2).T, None)


# A product of two computed tensors is built from Tile + Eltwise PROD + Reduction over (..., M, N, K)
# intermediate blobs; past this many floats (256 MB each) it is refused with the count.
MAX_PRODUCT_FLOATS = 1 << 26


def _computed_product(ctx: LoweringContext, node: Node, left: object, right: object) -> None:
    """(..., M, K) @ (..., K, N), both computed: out[..., m, n] = sum_k A[..., m, k] * B[..., k, n] as
    Tile(A -> (..., M, N, K)) * Tile(B^T -> (..., M, N, K)), Reduction SUM over the last axis.  Each
    output is the same K products as PyTorch's, summed in another order (float32 rounding only)."""
    a, b = ctx.blob(left), ctx.blob(right)
    if len(a.shape) < 3 or len(a.shape) != len(b.shape) or a.shape[:-2] != b.shape[:-2]:
        raise ctx.unsupported(f"product of computed tensors {list(a.shape)} @ {list(b.shape)}: only batched "
                              f"(..., M, K) @ (..., K, N) with the same leading dims is converted")
    *lead, m, k = a.shape
    n = b.shape[-1]
    floats = math.prod(lead) * m * n * k
    if floats > MAX_PRODUCT_FLOATS:
        raise ctx.unsupported(f"product of computed tensors {list(a.shape)} @ {list(b.shape)} needs intermediate "
                              f"blobs of {floats} floats (more than {MAX_PRODUCT_FLOATS}), which is unreasonable")
    log.info("%s: %s @ %s of computed tensors built from Tile + Eltwise + Reduction over %d floats per blob "
             "(%d multiply-adds, as PyTorch's)", ctx.name(node), list(a.shape), list(b.shape), floats, floats)
    rank = len(a.shape)
    order = list(range(rank - 2)) + [rank - 1, rank - 2]
    b_t = ctx.emit(builders.permute(ctx.name(node, "right_t"), b, ctx.name(node, "right_t"), order=order))[0]
    a4 = ctx.emit(builders.reshape(ctx.name(node, "left_rows"), a, ctx.name(node, "left_rows"),
                                   dims=[0] * len(lead) + [m, 1, k]))[0]
    b4 = ctx.emit(builders.reshape(ctx.name(node, "right_cols"), b_t, ctx.name(node, "right_cols"),
                                   dims=[0] * len(lead) + [1, n, k]))[0]
    a_big = ctx.emit(builders.tile(ctx.name(node, "left_tiled"), a4, ctx.name(node, "left_tiled"),
                                   axis=len(lead) + 1, tiles=n))[0] if n > 1 else a4
    b_big = ctx.emit(builders.tile(ctx.name(node, "right_tiled"), b4, ctx.name(node, "right_tiled"),
                                   axis=len(lead), tiles=m))[0] if m > 1 else b4
    products = ctx.emit(builders.eltwise(ctx.name(node, "products"), [a_big, b_big], ctx.name(node, "products"),
                                         operation="PROD"))[0]
    ctx.emit(builders.reduction(ctx.name(node), products, ctx.name(node), operation="SUM", axis=len(lead) + 2),
             result=node)


@lowering("aten.matmul", aliases=("aten.bmm",))
def lower_matmul(ctx: LoweringContext, node: Node) -> None:
    """x @ W with W a constant 2-D (in, out) matrix; a 1-D constant vector drops the last axis; two
    computed tensors through `_computed_product`."""
    self, other = (node.unpack("self", "other") if "other" in node.args else node.unpack("self", "mat2"))
    if not ctx.is_constant(self) and not ctx.is_constant(other):
        _computed_product(ctx, node, self, other)
        return
    if ctx.is_constant(self) and not ctx.is_constant(other):
        raise ctx.unsupported("constant @ tensor (constant on the left) would need a transpose Caffe lacks")
    _refuse_computed(ctx, node, other, "right")
    matrix = ctx.constant(other)
    if matrix.ndim == 2:
        _inner_product(ctx, node, self, matrix.T, None)
        return
    if matrix.ndim != 1:
        raise ctx.unsupported(f"matmul with a {matrix.ndim}-D constant (batched matmul)")
    x = ctx.blob(self)
    if len(x.shape) < 2:
        raise ctx.unsupported("vector @ vector")
    name = ctx.name(node, "product")
    product = ctx.emit(builders.inner_product(name, x, name, num_output=1, axis=len(x.shape) - 1, bias_term=False),
                       weights.inner_product_blobs(matrix.reshape(1, -1), None))[0]
    axis = len(product.shape) - 1
    ctx.emit(builders.reshape(ctx.name(node), product, ctx.name(node), dims=[], axis=axis, num_axes=1),
             result=node)
