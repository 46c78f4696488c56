"""Moving and repeating elements along an axis: roll, repeat_interleave.  Both only copy values.

* `roll(x, shifts, dims)` -> per rolled axis one Slice at size - shift and a Concat of the two
  parts swapped (x[-s:], x[:-s]).
* `repeat_interleave(x, r, dim)` with an int r -> Reshape (.., C, 1, ..) + Tile r along the new
  axis + Reshape (.., C * r, ..): each element repeated r times in place.
"""
from __future__ import annotations

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import reshape_to
from purecaffe.converter.registry import lowering


@lowering("aten.roll")
def lower_roll(ctx: LoweringContext, node: Node) -> None:
    self, shifts, dims = node.unpack("self", "shifts", "dims")
    x = ctx.blob(self)
    shifts, dims = [int(s) for s in shifts], [int(d) for d in dims]
    if not dims:
        raise ctx.unsupported("roll of the flattened tensor (no dims): Caffe has no flat view to roll")
    if len(shifts) != len(dims):
        raise ctx.unsupported(f"roll with shifts {shifts} for dims {dims}")
    rolls = [(int(d) % len(x.shape), s % x.shape[int(d) % len(x.shape)]) for s, d in zip(shifts, dims)]
    rolls = [(axis, shift) for axis, shift in rolls if shift]
    if not rolls:
        ctx.alias(node, self)
        return
    current: Blob = x
    for k, (axis, shift) in enumerate(rolls):
        size = current.shape[axis]
        name = ctx.name(node, f"cut{axis}_{k}")
        head, tail = ctx.emit(builders.slice_layer(name, current, [f"{name}/head", f"{name}/tail"], axis=axis,
                                                   slice_point=[size - shift]))
        last = k == len(rolls) - 1
        name = ctx.name(node) if last else ctx.name(node, f"roll{axis}_{k}")
        current = ctx.emit(builders.concat(name, [tail, head], name, axis=axis), result=node if last else None)[0]


@lowering("aten.repeat_interleave.self_int")
def lower_repeat_interleave(ctx: LoweringContext, node: Node) -> None:
    self, repeats, dim = node.unpack("self", "repeats", "dim")
    x = ctx.blob(self)
    if dim is None:
        raise ctx.unsupported("repeat_interleave of the flattened tensor (no dim)")
    axis, times = int(dim) % len(x.shape), int(repeats)
    if times < 1:
        raise ctx.unsupported(f"repeat_interleave {times} times makes an empty tensor")
    if times == 1:
        ctx.alias(node, self)
        return
    spread = x.shape[:axis + 1] + (1,) + x.shape[axis + 1:]
    view = reshape_to(ctx, node, x, spread, "spread")
    name = ctx.name(node, "tile")
    tiled = ctx.emit(builders.tile(name, view, name, axis=axis + 1, tiles=times))[0]
    ctx.emit(builders.reshape_to(ctx.name(node), tiled, ctx.name(node), node.shape), result=node)
