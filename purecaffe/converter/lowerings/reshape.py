"""Shape changes that keep the memory order: view / reshape / flatten / squeeze / unsqueeze,
and the copies expand / repeat.  All exact (no arithmetic).

* A pure rename of the shape (`view` to the same shape) binds the node to its input, no layer.
* Merging the trailing axes from some axis on becomes `Flatten` (read by every consumer);
  anything else becomes `Reshape` with explicit dims, the batch dimension written as `0` (copy
  the bottom's) when it is unchanged, so the net still runs at other batch sizes.
* `expand` (broadcast size-1 axes) and `repeat` become `Tile` layers, one per grown axis.
"""
from __future__ import annotations

from purecaffe.canonical import builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import expand_to, reshape_layer
from purecaffe.converter.registry import lowering


def _reshape_node(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    x = ctx.blob(self)
    if tuple(x.shape) == tuple(node.shape):
        ctx.alias(node, self)
        return
    ctx.emit(reshape_layer(ctx.name(node), x, ctx.name(node), node.shape), result=node)


@lowering("aten.view", aliases=("aten.reshape", "aten._unsafe_view", "aten.view_copy", "aten._reshape_alias",
                                "aten.reshape_as", "aten.view_as"))
def lower_view(ctx: LoweringContext, node: Node) -> None:
    """view / reshape (self, size), reshape_as / view_as (self, other): the captured result shape is the target."""
    _reshape_node(ctx, node)


@lowering("aten.flatten.using_ints", aliases=("aten.flatten",))
def lower_flatten(ctx: LoweringContext, node: Node) -> None:
    """flatten(self, start_dim, end_dim) -> Flatten(axis, end_axis) (or Reshape, same memory order)."""
    self, start_dim, end_dim = node.unpack("self", "start_dim", "end_dim")
    x = ctx.blob(self)
    rank = len(x.shape)
    if rank == 0 or tuple(x.shape) == tuple(node.shape):
        ctx.alias(node, self)
        return
    start, end = int(start_dim) % rank, int(end_dim) % rank
    layer = (builders.flatten(ctx.name(node), x, ctx.name(node), axis=start, end_axis=end)
             if end != rank - 1 else reshape_layer(ctx.name(node), x, ctx.name(node), node.shape))
    ctx.emit(layer, result=node)


@lowering("aten.squeeze", aliases=("aten.squeeze_copy",))
def lower_squeeze(ctx: LoweringContext, node: Node) -> None:
    """squeeze / squeeze.dim / squeeze.dims: drops size-1 axes (Reshape)."""
    _reshape_node(ctx, node)


@lowering("aten.unsqueeze", aliases=("aten.unsqueeze_copy",))
def lower_unsqueeze(ctx: LoweringContext, node: Node) -> None:
    """unsqueeze(self, dim): inserts a size-1 axis (Reshape)."""
    _reshape_node(ctx, node)


@lowering("aten.expand", aliases=("aten.expand_copy", "aten.expand_as", "aten.broadcast_to"))
def lower_expand(ctx: LoweringContext, node: Node) -> None:
    """expand(self, size): size-1 axes repeated -> Tile along each (values copied, exact)."""
    self = node.arg("self")
    x = ctx.blob(self)
    if tuple(x.shape) == tuple(node.shape):
        ctx.alias(node, self)
        return
    expand_to(ctx, node, x, node.shape, "expand", result=True)


@lowering("aten.repeat")
def lower_repeat(ctx: LoweringContext, node: Node) -> None:
    """repeat(self, repeats): the whole tensor tiled along each axis -> one Tile per repeated axis."""
    self, repeats = node.unpack("self", "repeats")
    x = ctx.blob(self)
    repeats = [int(r) for r in repeats]
    full = (1,) * (len(repeats) - len(x.shape)) + tuple(x.shape)
    if full != tuple(x.shape):
        name = ctx.name(node, "rank")
        x = ctx.emit(builders.reshape(name, x, name, dims=list(full)))[0]
    axes = [i for i, r in enumerate(repeats) if r != 1]
    if any(r <= 0 for r in repeats):
        raise ctx.unsupported(f"repeat {repeats} makes an empty tensor")
    if not axes:
        if tuple(x.shape) == tuple(node.shape) and x.shape == ctx.shape(self):
            ctx.alias(node, self)
        else:
            ctx.emit(builders.split(ctx.name(node), x, [ctx.name(node)]), result=node)
        return
    for k, axis in enumerate(axes):
        if k == len(axes) - 1:
            ctx.emit(builders.tile(ctx.name(node), x, ctx.name(node), axis=axis, tiles=repeats[axis]),
                     result=node)
        else:
            name = ctx.name(node, f"tile{axis}")
            x = ctx.emit(builders.tile(name, x, name, axis=axis, tiles=repeats[axis]))[0]
