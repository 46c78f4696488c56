"""Joining and cutting along one axis: cat, split / split_with_sizes / chunk / unbind, slice, narrow,
select.  All exact: Concat and Slice only copy values.

* `cat` -> Concat on the same axis (constant parts become Parameter layers).
* `stack(tensors, dim)` -> Concat along `dim` of the inputs, then a Reshape splitting that axis into
  (len(tensors), size): the same memory order as the stacked tensor.  Stacking along a new last axis
  interleaves the values, so each input first gets a trailing size-1 axis (Reshape) and the Concat
  is along it.  `stack(..).sum(dim)` / `.mean(dim)` never gets here: `patterns.fuse_stack_sum`
  makes it one Eltwise SUM (`lower_sum_stacked`).
* `split*` / `chunk` -> one Slice with slice_points; the parts nobody reads are ended with a
  Silence layer by the driver.  `unbind` adds a Reshape per part to drop the axis.
* `slice` (`x[:, 2:5]`) with step 1 -> Slice at the start and end, keeping the middle part.
  A step > 1 along H or W of a 4-D tensor is a depthwise 1x1 Convolution with weight 1.0 and that
  stride, which picks exactly every step-th element (1.0 * x); along any other axis, a Slice into
  single elements and a Concat of every step-th (copies; the others are unused tops).
* `select` (`x[:, 0]`) -> Slice, then Reshape without the axis.

Slicing or concatenating along the batch axis is expressible in BVLC Caffe and done; some
targets refuse it (NNIE), which their limits check.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node, Ref
from purecaffe.converter.lowerings._support import (keep_range, reshape_layer, reshape_to, slice_bounds,
                                                   subsample_layer, tensor_blob)
from purecaffe.converter.registry import lowering

@lowering("aten.cat", aliases=("aten.concat", "aten.concatenate"))
def lower_cat(ctx: LoweringContext, node: Node) -> None:
    tensors, dim = node.unpack("tensors", "dim")
    out = node.shape
    axis = int(dim) % len(out)
    parts = []
    for i, tensor in enumerate(tensors):
        shape = ctx.shape(tensor)
        if len(shape) == 1 and shape[0] == 0:
            continue  # torch.cat skips legacy empty 1-D tensors
        if len(shape) != len(out):
            raise ctx.unsupported(f"cat of a rank-{len(shape)} tensor into rank {len(out)}")
        if shape[axis] == 0:
            continue
        parts.append(tensor_blob(ctx, node, tensor, f"part{i}"))
    if not parts:
        raise ctx.unsupported("cat of empty tensors only")
    if len(parts) == 1:
        # One non-empty part: the result is that tensor.  A Split with one top keeps a layer to name.
        ctx.emit(builders.split(ctx.name(node), parts[0], [ctx.name(node)]), result=node)
        return
    ctx.emit(builders.concat(ctx.name(node), parts, ctx.name(node), axis=axis), result=node)


@lowering("aten.stack")
def lower_stack(ctx: LoweringContext, node: Node) -> None:
    tensors, dim = node.unpack("tensors", "dim")
    out = tuple(node.shape)
    axis = int(dim) % len(out)
    parts = [tensor_blob(ctx, node, tensor, f"part{i}") for i, tensor in enumerate(tensors)]
    shape = tuple(parts[0].shape)
    if any(tuple(p.shape) != shape for p in parts):
        raise ctx.unsupported(f"stack of differently shaped tensors {[list(p.shape) for p in parts]}")
    if len(parts) == 1:
        ctx.emit(reshape_layer(ctx.name(node), parts[0], ctx.name(node), out), result=node)
        return
    if axis == len(shape):  # a new last axis: (..., 1) each, joined along it
        parts = [reshape_to(ctx, node, p, (*shape, 1), f"part{i}_axis") for i, p in enumerate(parts)]
        ctx.emit(builders.concat(ctx.name(node), parts, ctx.name(node), axis=axis), result=node)
        return
    name = ctx.name(node, "concat")
    joined = ctx.emit(builders.concat(name, parts, name, axis=axis))[0]
    ctx.emit(reshape_layer(ctx.name(node), joined, ctx.name(node), out), result=node)


@lowering("aten.sum_stacked")
def lower_sum_stacked(ctx: LoweringContext, node: Node) -> None:
    """`stack(tensors, dim).sum(dim)` (or `.mean(dim)`), made by `patterns.fuse_stack_sum`: one Eltwise SUM of
    the tensors (coefficients 1/n for the mean: x * fl(1/n) summed, within float32 rounding of torch's)."""
    tensors, mean = node.unpack("tensors", "mean")
    parts = [tensor_blob(ctx, node, tensor, f"part{i}") for i, tensor in enumerate(tensors)]
    if len(parts) == 1:  # a Split with one top keeps a layer to name (as for cat)
        ctx.emit(builders.split(ctx.name(node), parts[0], [ctx.name(node)]), result=node)
        return
    n = len(parts)
    coeff = (float(np.float32(1.0) / np.float32(n)),) * n if mean else ()
    ctx.emit(builders.eltwise(ctx.name(node), parts, ctx.name(node), operation="SUM", coeff=coeff), result=node)


def _slice_points(sizes: Sequence[int]) -> list[int]:
    """Slice points cutting consecutive parts of `sizes`: [3, 2, 4] -> [3, 5]."""
    points, at = [], 0
    for size in sizes[:-1]:
        at += size
        points.append(at)
    return points


def _split(ctx: LoweringContext, node: Node, self: Ref, sizes: Sequence[int], dim: int, *,
           drop_axis: bool = False) -> None:
    x = ctx.blob(self)
    axis = int(dim) % len(x.shape)
    sizes = [int(s) for s in sizes]
    if sum(sizes) != x.shape[axis] or any(s <= 0 for s in sizes):
        raise ctx.unsupported(f"split of size {x.shape[axis]} into {sizes} (empty parts have no Caffe blob)")
    if len(sizes) == 1 and not drop_axis:
        ctx.emit(builders.split(ctx.name(node), x, [ctx.top_name(node, 0)]), result=node)
        return
    points = _slice_points(sizes)
    if drop_axis:
        parts: tuple[Blob, ...] = (x,)
        if len(sizes) > 1:
            tops = [ctx.name(node, f"part{i}") for i in range(len(sizes))]
            parts = ctx.emit(builders.slice_layer(ctx.name(node), x, tops, axis=axis, slice_point=points))
        for i, part in enumerate(parts):
            name = ctx.name(node, f"reshape{i}")
            ctx.emit(reshape_layer(name, part, ctx.top_name(node, i), node.outputs[i].shape),
                     result=node, outputs=(i,))
        return
    tops = [ctx.top_name(node, i) for i in range(len(sizes))]
    ctx.emit(builders.slice_layer(ctx.name(node), x, tops, axis=axis, slice_point=points), result=node)


@lowering("aten.split.Tensor", aliases=("aten.split", "aten.chunk", "aten.unsafe_split.Tensor",
                                        "aten.unsafe_split"))
def lower_split(ctx: LoweringContext, node: Node) -> None:
    """split(self, split_size, dim) and chunk(self, chunks, dim): equal parts, the last one shorter."""
    self = node.arg("self")
    dim = node.arg("dim")
    size = ctx.shape(self)[int(dim) % len(ctx.shape(self))]
    if node.op == "aten.chunk":
        chunks = int(node.arg("chunks"))
        step = -(-size // chunks)
    else:
        step = int(node.arg("split_size"))
    if step <= 0:
        raise ctx.unsupported(f"split size {step}")
    sizes = [min(step, size - start) for start in range(0, size, step)]
    _split(ctx, node, self, sizes, dim)


@lowering("aten.split_with_sizes", aliases=("aten.unsafe_split_with_sizes", "aten.split.sizes"))
def lower_split_with_sizes(ctx: LoweringContext, node: Node) -> None:
    self, split_sizes, dim = node.unpack("self", "split_sizes" if "split_sizes" in node.args else "split_size",
                                         "dim")
    _split(ctx, node, self, list(split_sizes), dim)


@lowering("aten.unbind.int", aliases=("aten.unbind",))
def lower_unbind(ctx: LoweringContext, node: Node) -> None:
    self, dim = node.unpack("self", "dim")
    size = ctx.shape(self)[int(dim) % len(ctx.shape(self))]
    _split(ctx, node, self, [1] * size, dim, drop_axis=True)


@lowering("aten.slice.Tensor", aliases=("aten.slice",))
def lower_slice(ctx: LoweringContext, node: Node) -> None:
    self, dim, start, end, step = node.unpack("self", "dim", "start", "end", "step")
    x = ctx.blob(self)
    axis = int(dim) % len(x.shape)
    size = x.shape[axis]
    lo, hi = slice_bounds(size, start, end)
    step = int(step)
    if hi <= lo:
        raise ctx.unsupported(f"slice [{lo}:{hi}] along axis {axis} is empty (Caffe has no empty blobs)")
    if step == 1:
        if (lo, hi) == (0, size):
            ctx.alias(node, self)
        else:
            keep_range(ctx, node, x, axis, lo, hi)
        return
    if len(x.shape) != 4 or axis not in (2, 3):
        _pick_every(ctx, node, x, axis, lo, hi, step)
        return
    if (lo, hi) != (0, size):
        x = keep_range(ctx, node, x, axis, lo, hi, part="range")
    stride = (step, 1) if axis == 2 else (1, step)
    ctx.emit(*subsample_layer(ctx.name(node), x, ctx.name(node), stride), result=node)


# One Slice top per element of a strided pick along another axis: past this it is refused.
MAX_PICKED_SLICES = 512


def _pick_every(ctx: LoweringContext, node: Node, x: Blob, axis: int, lo: int, hi: int, step: int) -> None:
    """x[lo:hi:step] along an axis no Convolution strides over (channels, or any axis of a blob that is not
    4-D): one Slice into single elements and a Concat of every step-th (copies)."""
    size = x.shape[axis]
    points = sorted({*range(lo, hi), hi} - {0, size})
    if len(points) + 1 > MAX_PICKED_SLICES:
        raise ctx.unsupported(f"slice with step {step} along axis {axis}: {len(points) + 1} Slice tops "
                              f"(at most {MAX_PICKED_SLICES})")
    bounds = list(zip([0, *points], [*points, size]))
    name = ctx.name(node, "elements")
    parts = dict(zip(bounds, ctx.emit(builders.slice_layer(name, x, [f"{name}/{a}_{b}" for a, b in bounds],
                                                           axis=axis, slice_point=points))))
    picked = [parts[(i, i + 1)] for i in range(lo, hi, step)]
    if len(picked) == 1:
        ctx.emit(builders.split(ctx.name(node), picked[0], [ctx.name(node)]), result=node)
        return
    ctx.emit(builders.concat(ctx.name(node), picked, ctx.name(node), axis=axis), result=node)


@lowering("aten.narrow")
def lower_narrow(ctx: LoweringContext, node: Node) -> None:
    self, dim, start, length = node.unpack("self", "dim", "start", "length")
    x = ctx.blob(self)
    axis = int(dim) % len(x.shape)
    lo = int(start) % x.shape[axis] if int(start) < 0 else int(start)
    if (lo, lo + int(length)) == (0, x.shape[axis]):
        ctx.alias(node, self)
    else:
        keep_range(ctx, node, x, axis, lo, lo + int(length))


@lowering("aten.select.int", aliases=("aten.select",))
def lower_select(ctx: LoweringContext, node: Node) -> None:
    """x.select(dim, i) = Slice out [i:i+1], then Reshape without that axis."""
    self, dim, index = node.unpack("self", "dim", "index")
    x = ctx.blob(self)
    axis = int(dim) % len(x.shape)
    i = int(index) % x.shape[axis]
    part = x
    if x.shape[axis] != 1:
        part = keep_range(ctx, node, x, axis, i, i + 1, part="slice")
    ctx.emit(reshape_layer(ctx.name(node), part, ctx.name(node), node.shape), result=node)
