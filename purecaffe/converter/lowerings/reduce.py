"""Reductions: mean, sum, amax/amin and max/min(dim) values over some axes.

Which stock construction, chosen for exactness:

=========================================  ==============================================
torch                                      Caffe
=========================================  ==============================================
mean over H, W of (N, C, H, W)             Pooling AVE global (sum / (H*W), like torch)
amax over H, W of (N, C, H, W)             Pooling MAX global (exact)
mean / amax over H, amax over W alone      Pooling AVE / MAX with an H x 1 (1 x W) window
amax / max(dim) over any run of axes       Reshape to (N, M, L, R), MAX Pooling with an (L, 1)
k..j after the batch (channels too)        window, Reshape to the result (exact: a maximum is
                                           one of the values)
amin / min(dim)                            the same between two Power(scale -1): -max(-x), exact
sum / mean over the trailing axes k..      Reduction SUM / MEAN, axis k
sum over C of (N, C, H, W)                 1x1 Convolution with all-ones weights, no bias
mean over C of (N, C, H, W)                the same, then Power(scale = 1/C)
sum / mean over one middle axis (<= 64)    Slice into its parts + Eltwise SUM (coeff 1/n)
sum / mean over another run of axes k..j   Reshape to (N, M, L, R), AVE Pooling (L, 1), Power(scale L)
after the batch (Swin's mean over H, W     for a sum, Reshape to the result
of NHWC)
sum / mean over separate axes after the    Permute them to the end (kept axes in order), Reduction
batch                                      over those trailing axes
any of these over a whole batch-1 tensor   the same over every axis after the batch, then a
                                           Reshape to the 0-d result: the file is for batch 1
                                           (logged)
=========================================  ==============================================

Each sums in another order than PyTorch's (vectorised, pairwise) kernels, and Reduction MEAN
multiplies by fl(1/n) instead of dividing: results agree to float32 rounding of a sum, well
inside 1e-4 x max|tensor| for the sizes of real networks (a sum as L x the pooled mean rounds
once more).  `keepdim=True` adds a Reshape (or nothing, for global pooling, whose top is already
(N, C, 1, 1)).  The batch axis of a batch > 1 net is refused (and a maximum over separate axes):
Caffe's Reduction reduces only the trailing axes and has no MAX.  The indices of
max(dim) / min(dim) are not lowered (refused when read).
"""
from __future__ import annotations

import logging
import math

import numpy as np

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import normalize_dims, require_float, reshape_layer, reshape_to
from purecaffe.converter.registry import lowering
from purecaffe.converter.weights import convolution_blobs

log = logging.getLogger(__name__)

@lowering("aten.mean.dim", aliases=("aten.mean",))
def lower_mean(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    dim = node.args.get("dim")
    keepdim = bool(node.args.get("keepdim", False))
    _reduce(ctx, node, ctx.blob(self), "mean", dim, keepdim)


@lowering("aten.sum.dim_IntList", aliases=("aten.sum",))
def lower_sum(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    dim = node.args.get("dim")
    keepdim = bool(node.args.get("keepdim", False))
    _reduce(ctx, node, ctx.blob(self), "sum", dim, keepdim)


@lowering("aten.amax")
def lower_amax(ctx: LoweringContext, node: Node) -> None:
    self, dim, keepdim = node.unpack("self", "dim", "keepdim")
    _reduce(ctx, node, ctx.blob(self), "max", dim, bool(keepdim))


@lowering("aten.amin")
def lower_amin(ctx: LoweringContext, node: Node) -> None:
    """amin(x) = -amax(-x): Power(scale -1) around the maximum (negation is exact)."""
    self, dim, keepdim = node.unpack("self", "dim", "keepdim")
    _reduce(ctx, node, ctx.blob(self), "min", dim, bool(keepdim))


@lowering("aten.max.dim")
def lower_max_dim(ctx: LoweringContext, node: Node) -> None:
    """max(x, dim) -> (values, indices): the values as amax; the indices are refused when read."""
    self, dim, keepdim = node.unpack("self", "dim", "keepdim")
    _values_of_dim(ctx, node, ctx.blob(self), "max", int(dim), bool(keepdim))


@lowering("aten.max.default")
def lower_max(ctx: LoweringContext, node: Node) -> None:
    """max(x) over the whole tensor (a batch-1 net: over every axis after the batch)."""
    _reduce(ctx, node, ctx.blob(node.arg("self")), "max", None, False)


@lowering("aten.min.default")
def lower_min(ctx: LoweringContext, node: Node) -> None:
    _reduce(ctx, node, ctx.blob(node.arg("self")), "min", None, False)


@lowering("aten.min.dim")
def lower_min_dim(ctx: LoweringContext, node: Node) -> None:
    self, dim, keepdim = node.unpack("self", "dim", "keepdim")
    _values_of_dim(ctx, node, ctx.blob(self), "min", int(dim), bool(keepdim))


def _values_of_dim(ctx: LoweringContext, node: Node, x: Blob, how: str, dim: int, keepdim: bool) -> None:
    readers = [n for n in ctx.graph.nodes if n.op == "getitem" and getattr(n.args.get("self"), "name", None) ==
               node.name and n.args.get("index") != 0]
    if readers:
        raise ctx.unsupported(f"the indices of {how}(dim) are read: Caffe's ArgMax takes the channel axis only "
                              f"and gives no values with them here; only the values are lowered")
    _reduce(ctx, node, x, how, [dim], keepdim, outputs=(0,))


def _out_shape(node: Node, outputs: tuple[int, ...] | None) -> tuple[int, ...]:
    return tuple(node.outputs[0].shape) if outputs is not None else tuple(node.shape)  # type: ignore[index]


def _finish(ctx: LoweringContext, node: Node, x: Blob, outputs: tuple[int, ...] | None = None) -> None:
    """Bind the node to `x` given the node's shape (keepdim's size-1 axes, or without them) by a Reshape."""
    ctx.emit(reshape_layer(ctx.name(node), x, ctx.name(node), _out_shape(node, outputs)), result=node,
             outputs=outputs)


def _negated(ctx: LoweringContext, node: Node, x: Blob, part: str) -> Blob:
    name = ctx.name(node, part)
    return ctx.emit(builders.power(name, x, name, scale=-1.0))[0]


def _run_maximum(ctx: LoweringContext, node: Node, x: Blob, axes: tuple[int, ...], how: str,
                 outputs: tuple[int, ...] | None) -> None:
    """max (or min) over the contiguous run of axes `axes` (all after the batch): Reshape to (N, M, L, R),
    MAX Pooling with an (L, 1) window, Reshape to the result.  min is -max(-x)."""
    shape = x.shape
    first, last = axes[0], axes[-1]
    rows = (shape[0], math.prod(shape[1:first]), math.prod(shape[first:last + 1]), math.prod(shape[last + 1:]))
    if how == "min":
        x = _negated(ctx, node, x, "negate")
    grouped = reshape_to(ctx, node, x, rows, "rows")
    name = ctx.name(node, "max")
    pooled = ctx.emit(builders.pooling(name, grouped, name, method="MAX", kernel=(rows[2], 1), stride=(1, 1)))[0]
    out = _out_shape(node, outputs)
    if how == "min":
        pooled = reshape_to(ctx, node, pooled, out, "shaped")
        ctx.emit(builders.power(ctx.name(node), pooled, ctx.name(node), scale=-1.0), result=node, outputs=outputs)
        return
    _finish(ctx, node, pooled, outputs)


def _reduce(ctx: LoweringContext, node: Node, x: Blob, how: str, dim: object, keepdim: bool,
            outputs: tuple[int, ...] | None = None) -> None:
    require_float(ctx, node, how)
    rank = len(x.shape)
    if rank == 0:
        raise ctx.unsupported("reduction of a 0-d tensor")
    axes = normalize_dims(dim, rank)
    out = _out_shape(node, outputs)
    name, top = ctx.name(node), ctx.name(node)
    if axes and axes[0] == 0 and x.shape[0] == 1 and rank > 1 and axes == tuple(range(rank)):
        # A whole-tensor reduction of a batch-1 tensor: the same as over every axis after the batch.
        log.info("%s: %s of the whole %s tensor reduced over the axes after the batch: the file is for batch 1",
                 node.where(), how, list(x.shape))
        axes = tuple(range(1, rank))

    def emit_last(layer_fn, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        """Emit the reduction; bind it directly when its top already has the node's shape."""
        probe = layer_fn(name, *args, top, **kwargs)
        if tuple(probe.top.shape) == out:
            ctx.emit(probe, result=node, outputs=outputs)
            return
        part = ctx.name(node, "reduce")
        reduced = ctx.emit(layer_fn(part, *args, part, **kwargs))[0]
        _finish(ctx, node, reduced, outputs)

    if rank == 4 and axes == (2, 3) and how in ("mean", "max"):
        emit_last(builders.pooling, x, method="AVE" if how == "mean" else "MAX", global_pooling=True)
        return
    if rank == 4 and how in ("mean", "max") and (axes == (2,) or (axes == (3,) and how == "max")):
        kernel = (x.shape[2], 1) if axes == (2,) else (1, x.shape[3])
        emit_last(builders.pooling, x, method="AVE" if how == "mean" else "MAX", kernel=kernel)
        return
    if how in ("max", "min"):
        if axes[0] == 0 or axes != tuple(range(axes[0], axes[-1] + 1)):
            raise ctx.unsupported(f"a{how} over axes {list(axes)} of a {rank}-D tensor: stock Caffe takes a maximum "
                                  f"over one run of axes after the batch (MAX Pooling); Reduction has no MAX")
        _run_maximum(ctx, node, x, axes, how, outputs)
        return
    if axes == tuple(range(axes[0], rank)) and axes[0] > 0:
        emit_last(builders.reduction, x, operation="MEAN" if how == "mean" else "SUM", axis=axes[0])
        return
    if rank == 4 and axes == (1,):
        channels = x.shape[1]
        ones = np.ones((1, channels, 1, 1), dtype=np.float32)
        if how == "sum":
            conv = builders.convolution(name, x, top, num_output=1, kernel=1, bias_term=False)
            if tuple(conv.top.shape) == out:
                ctx.emit(conv, convolution_blobs(ones, None), result=node)
                return
            part = ctx.name(node, "sum")
            summed = ctx.emit(builders.convolution(part, x, part, num_output=1, kernel=1, bias_term=False),
                              convolution_blobs(ones, None))[0]
            _finish(ctx, node, summed)
            return
        part = ctx.name(node, "sum")
        summed = ctx.emit(builders.convolution(part, x, part, num_output=1, kernel=1, bias_term=False),
                          convolution_blobs(ones, None))[0]
        scale = float(np.float32(1.0) / np.float32(channels))
        if keepdim:
            ctx.emit(builders.power(name, summed, top, scale=scale), result=node)
            return
        part2 = ctx.name(node, "scale")
        scaled = ctx.emit(builders.power(part2, summed, part2, scale=scale))[0]
        _finish(ctx, node, scaled)
        return
    if len(axes) == 1 and 0 < axes[0] < rank and 1 < x.shape[axes[0]] <= MAX_SLICED_REDUCTION:
        _sum_by_slices(ctx, node, x, axes[0], mean=how == "mean", keepdim=keepdim)
        return
    if axes and axes[0] > 0 and axes == tuple(range(axes[0], axes[-1] + 1)):
        _run_mean(ctx, node, x, axes, how, outputs)
        return
    if axes and axes[0] > 0:
        _gathered(ctx, node, x, axes, how, outputs)
        return
    raise ctx.unsupported(f"{how} over axes {list(axes)} of a {rank}-D tensor: Caffe's Reduction reduces only "
                          f"trailing axes after the batch, and one middle axis only while it has at most "
                          f"{MAX_SLICED_REDUCTION} elements (one Slice top each)")


def _run_mean(ctx: LoweringContext, node: Node, x: Blob, axes: tuple[int, ...], how: str,
              outputs: tuple[int, ...] | None) -> None:
    """sum / mean over a run of axes k..j after the batch with axes after it (timm Swin's mean over H, W of
    (N, H, W, C)): Reshape to (N, M, L, R), AVE Pooling with an (L, 1) window (Caffe divides the window's
    sum by L, as torch divides its sum), Power(scale L) for a sum, Reshape to the result."""
    shape = x.shape
    first, last = axes[0], axes[-1]
    rows = (shape[0], math.prod(shape[1:first]), math.prod(shape[first:last + 1]), math.prod(shape[last + 1:]))
    grouped = reshape_to(ctx, node, x, rows, "rows")
    name = ctx.name(node, "mean")
    pooled = ctx.emit(builders.pooling(name, grouped, name, method="AVE", kernel=(rows[2], 1), stride=(1, 1)))[0]
    if how == "sum":
        shaped = reshape_to(ctx, node, pooled, _out_shape(node, outputs), "shaped")
        ctx.emit(builders.power(ctx.name(node), shaped, ctx.name(node), scale=float(rows[2])), result=node,
                 outputs=outputs)
        return
    _finish(ctx, node, pooled, outputs)


def _gathered(ctx: LoweringContext, node: Node, x: Blob, axes: tuple[int, ...], how: str,
              outputs: tuple[int, ...] | None) -> None:
    """sum / mean over separate axes after the batch: a Permute that moves them to the end, after the kept
    axes in their order (a copy), then the trailing Reduction; the kept axes come out in torch's order."""
    rank = len(x.shape)
    kept = [axis for axis in range(rank) if axis not in axes]
    order = (*kept, *axes)
    name = ctx.name(node, "gather")
    moved = ctx.emit(builders.permute(name, x, name, order=order))[0]
    part = ctx.name(node, "reduce")
    reduced = ctx.emit(builders.reduction(part, moved, part, operation="MEAN" if how == "mean" else "SUM",
                                          axis=len(kept)))[0]
    _finish(ctx, node, reduced, outputs)


# A sum over one middle axis (ResNeSt's radix axis of (N, R, C, H, W)) is a Slice into its parts and
# one Eltwise SUM; past this many parts the prototxt grows unreasonably and the op is refused.
MAX_SLICED_REDUCTION = 64


def _sum_by_slices(ctx: LoweringContext, node: Node, x: Blob, axis: int, *, mean: bool, keepdim: bool) -> None:
    """Sum (or mean) over one middle axis: Slice it into size-1 parts, Eltwise SUM them (coefficient
    1/size for the mean), then drop the axis unless keepdim.  Only additions: float32 rounding."""
    size = x.shape[axis]
    name = ctx.name(node, "parts")
    parts = ctx.emit(builders.slice_layer(name, x, [f"{name}/{i}" for i in range(size)], axis=axis))
    coeff = (float(np.float32(1.0) / np.float32(size)),) * size if mean else ()
    summed_name = ctx.name(node) if keepdim else ctx.name(node, "sum")
    layer = builders.eltwise(summed_name, list(parts), summed_name, operation="SUM", coeff=coeff)
    if keepdim:
        ctx.emit(layer, result=node)
        return
    summed = ctx.emit(layer)[0]
    _finish(ctx, node, summed)
