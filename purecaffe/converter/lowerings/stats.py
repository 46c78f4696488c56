"""Statistics over a run of axes: vector norms (F.normalize's `linalg_vector_norm`), var and std.

The reduced axes k..j (one contiguous run after the batch: channels, H and W, the flattened
features, ...) are gathered by a Reshape to (N, M, L, R) with L their element count, so one AVE
Pooling with an (L, 1) window takes every mean (Caffe sums the window and divides by L, as torch
divides its sum):

===================================  ==========================================================
torch                                Caffe, on the (N, M, L, R) view
===================================  ==========================================================
norm(x, 2, dims)                     Power 2, AVE Pooling (L, 1), Power(scale L, power 1/2)
norm(x, 1 | p, dims)                 AbsVal (Power p), AVE Pooling, Power(scale L, power 1/p)
norm(x, inf, dims)                   AbsVal, MAX Pooling (L, 1)
var(x, dims, correction c)           mean m by AVE Pooling; x - m (Bias with -m when R = 1,
                                     else m tiled over L + Eltwise SUM); Power 2; AVE Pooling;
                                     Power(scale L / (L - c))
std                                  the same with power 1/2 in the last Power
===================================  ==========================================================

A Reshape gives the result its shape (keepdim or not).  The sums run in another order than
PyTorch's pairwise ones and the scalings round once more: float32 rounding of a sum.  Other axis
sets (the batch, separate runs) are refused.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import normalize_dims, require_float, reshape_layer, reshape_to
from purecaffe.converter.registry import lowering

Rows = tuple[int, int, int, int]


@lowering("aten.linalg_vector_norm")
def lower_linalg_vector_norm(ctx: LoweringContext, node: Node) -> None:
    self, ord_, dim, keepdim = node.unpack("self", "ord", "dim", "keepdim")
    require_float(ctx, node, "norm")
    p = float(ord_)
    if not (p > 0):
        raise ctx.unsupported(f"vector norm of order {p}: only orders > 0 (and inf) are sums or a maximum")
    x = ctx.blob(self)
    rows = _rows(ctx, x, dim)
    if p == 2.0:
        values = _power(ctx, node, x, "square", power=2.0)
    else:
        values = ctx.emit(builders.absval(ctx.name(node, "abs"), x, ctx.name(node, "abs")))[0]
        if p not in (1.0, math.inf):
            values = _power(ctx, node, values, "power", power=p)
    grouped = reshape_to(ctx, node, values, rows, "rows")
    if p == math.inf:
        pooled = _pool(ctx, node, grouped, rows, "MAX", "max")
        _finish(ctx, node, pooled)
        return
    mean = _pool(ctx, node, grouped, rows, "AVE", "mean")
    _finish(ctx, node, mean, scale=float(rows[2]), power=1.0 / p)


@lowering("aten.var", aliases=("aten.var.dim", "aten.var.correction"))
def lower_var(ctx: LoweringContext, node: Node) -> None:
    _variance(ctx, node, root=False)


@lowering("aten.std", aliases=("aten.std.dim", "aten.std.correction"))
def lower_std(ctx: LoweringContext, node: Node) -> None:
    _variance(ctx, node, root=True)


def _correction(node: Node) -> float:
    """correction (`.correction` overloads), or 1 / 0 from `unbiased` (default: unbiased)."""
    if "correction" in node.args:
        value = node.args["correction"]
        return 1.0 if value is None else float(value)
    return 1.0 if node.args.get("unbiased", True) else 0.0


def _variance(ctx: LoweringContext, node: Node, *, root: bool) -> None:
    self = node.arg("self")
    require_float(ctx, node, "std" if root else "var")
    x = ctx.blob(self)
    rows = _rows(ctx, x, node.args.get("dim"))
    count = rows[2]
    correction = _correction(node)
    if count - correction <= 0:
        raise ctx.unsupported(f"{'std' if root else 'var'} of {count} values with correction {correction:g} "
                              f"divides by {count - correction:g}")
    grouped = reshape_to(ctx, node, x, rows, "rows")
    mean = _pool(ctx, node, grouped, rows, "AVE", "mean")
    if rows[3] == 1:  # the mean covers (N, M): Bias adds its negation to every row
        negated = _power(ctx, node, reshape_to(ctx, node, mean, rows[:2], "mean_rows"), "negmean", scale=-1.0)
        name = ctx.name(node, "center")
        centered = ctx.emit(builders.bias(name, [grouped, negated], name, axis=0))[0]
    else:
        name = ctx.name(node, "mean_tile")
        spread = ctx.emit(builders.tile(name, mean, name, axis=2, tiles=count))[0]
        name = ctx.name(node, "center")
        centered = ctx.emit(builders.eltwise(name, [grouped, spread], name, operation="SUM", coeff=(1.0, -1.0)))[0]
    square = _power(ctx, node, centered, "square", power=2.0)
    spread_mean = _pool(ctx, node, square, rows, "AVE", "var")
    factor = float(np.float32(count) / np.float32(count - correction))
    _finish(ctx, node, spread_mean, scale=factor, power=0.5 if root else 1.0)


def _rows(ctx: LoweringContext, x: Blob, dim: Any) -> Rows:
    """(N, M, L, R): the reduced run of axes as L, the axes before it (after the batch) as M, after as R."""
    rank = len(x.shape)
    axes = normalize_dims(dim, rank)
    if rank == 0 or axes[0] == 0:
        raise ctx.unsupported(f"statistics over axes {list(axes)} of {list(x.shape)} include the batch axis")
    if axes != tuple(range(axes[0], axes[-1] + 1)):
        raise ctx.unsupported(f"statistics over the separate axes {list(axes)}: only one run of axes is gathered "
                              f"into a Pooling window")
    first, last = axes[0], axes[-1]
    return (x.shape[0], math.prod(x.shape[1:first]), math.prod(x.shape[first:last + 1]), math.prod(x.shape[last + 1:]))


def _power(ctx: LoweringContext, node: Node, x: Blob, part: str, **params: float) -> Blob:
    name = ctx.name(node, part)
    return ctx.emit(builders.power(name, x, name, **params))[0]


def _pool(ctx: LoweringContext, node: Node, x: Blob, rows: Rows, method: str, part: str) -> Blob:
    name = ctx.name(node, part)
    return ctx.emit(builders.pooling(name, x, name, method=method, kernel=(rows[2], 1), stride=(1, 1)))[0]


def _finish(ctx: LoweringContext, node: Node, x: Blob, *, scale: float = 1.0, power: float = 1.0) -> None:
    """The node's value: Power(scale, power) of `x` (when not the identity), given the node's shape."""
    out = tuple(node.shape)
    if scale == 1.0 and power == 1.0:
        ctx.emit(reshape_layer(ctx.name(node), x, ctx.name(node), out), result=node)
        return
    shaped = reshape_to(ctx, node, x, out, "shaped")
    ctx.emit(builders.power(ctx.name(node), shaped, ctx.name(node), scale=scale, power=power), result=node)
