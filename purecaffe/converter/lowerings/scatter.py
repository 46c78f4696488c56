"""In-place slice assignment, as functionalized by `torch.export`: `x[:, 2:5] = y` arrives as
`copy(x[:, 2:5], y)` (y broadcast to the slice's shape) and `slice_scatter(x, that, dim, 2, 5)`.

* `copy(self, src)` -> src through a one-top Split when it has self's shape, else Tile copies of it (exact).
* `slice_scatter(self, src, dim, start, end, 1)` -> one Slice of self into [0:start], [start:end] (unused,
  ended by Silence) and [end:size], then Concat(head, src, tail) along dim: copies only, exact.
* `select_scatter(self, src, dim, index)` -> the same with src given back its size-1 axis (Reshape).

A step other than 1 would interleave src with self's values, which no stock layer does: refused.
"""
from __future__ import annotations

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import expand_to, require_float, reshape_to, slice_bounds, tensor_blob
from purecaffe.converter.registry import lowering


@lowering("aten.copy", aliases=("aten.copy_",))
def lower_copy(ctx: LoweringContext, node: Node) -> None:
    """copy(self, src): src's values at self's shape (self's values are all overwritten)."""
    _self, src = node.unpack("self", "src")
    require_float(ctx, node, "copy")
    value = tensor_blob(ctx, node, src, "src")
    if tuple(value.shape) == tuple(node.shape):  # a Split with one top: the copy has a layer and blob of its own
        ctx.emit(builders.split(ctx.name(node), value, [ctx.name(node)]), result=node)
        return
    expand_to(ctx, node, value, node.shape, "expand", result=True)


@lowering("aten.slice_scatter")
def lower_slice_scatter(ctx: LoweringContext, node: Node) -> None:
    self, src, dim, start, end, step = node.unpack("self", "src", "dim", "start", "end", "step")
    x = ctx.blob(self)
    axis = int(dim) % len(x.shape)
    lo, hi = slice_bounds(x.shape[axis], start, end)
    if int(step) != 1:
        raise ctx.unsupported(f"slice assignment with step {step}: the assigned values would interleave with "
                              f"the kept ones, which no stock Caffe layer does")
    _scatter(ctx, node, x, tensor_blob(ctx, node, src, "src"), axis, lo, hi)


@lowering("aten.select_scatter")
def lower_select_scatter(ctx: LoweringContext, node: Node) -> None:
    self, src, dim, index = node.unpack("self", "src", "dim", "index")
    x = ctx.blob(self)
    axis = int(dim) % len(x.shape)
    i = int(index) % x.shape[axis]
    value = tensor_blob(ctx, node, src, "src")
    shape = list(x.shape)
    shape[axis] = 1
    _scatter(ctx, node, x, reshape_to(ctx, node, value, shape, "src_axis"), axis, i, i + 1)


def _scatter(ctx: LoweringContext, node: Node, x: Blob, src: Blob, axis: int, lo: int, hi: int) -> None:
    require_float(ctx, node, "slice assignment")
    size = x.shape[axis]
    expected = list(x.shape)
    expected[axis] = hi - lo
    if list(src.shape) != expected:
        raise ctx.unsupported(f"slice assignment of {list(src.shape)} into {expected}")
    if (lo, hi) == (0, size):
        ctx.emit(builders.split(ctx.name(node), src, [ctx.name(node)]), result=node)
        return
    points = [p for p in (lo, hi) if 0 < p < size]
    edges = list(zip([0, *points], [*points, size]))
    name = ctx.name(node, "keep")
    # The part the assignment replaces is read by nobody: named as `builders.slice_keep` names unused parts.
    tops = [f"{name}/unused_{a}_{b}" if (a, b) == (lo, hi) else f"{name}:{a}_{b}" for a, b in edges]
    parts = dict(zip(edges, ctx.emit(builders.slice_layer(name, x, tops, axis=axis, slice_point=points))))
    pieces: list[Blob] = []
    if lo > 0:
        pieces.append(parts[(0, lo)])
    pieces.append(src)
    if hi < size:
        pieces.append(parts[(hi, size)])
    ctx.emit(builders.concat(ctx.name(node), pieces, ctx.name(node), axis=axis), result=node)
