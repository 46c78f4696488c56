"""argmax along one axis -> ArgMax on the axis reversed, and the index turned back.

Caffe's ArgMax sorts (value, index) pairs descending, so among equal maxima it returns the largest
index; PyTorch returns the first (smallest).  Reversing the axis first (one Slice per element and a
Concat in reverse order: copies) makes Caffe's largest index the reversed position of PyTorch's
first; Power (scale -1, shift size - 1) maps it back (integers: exact).  The index is a float32
blob holding the integer (exact below 2**24), where PyTorch has int64.
"""
from __future__ import annotations

from purecaffe.canonical import builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.registry import lowering

# One Slice top per element of the reversed axis: past this the prototxt is unreasonable.
MAX_REVERSED = 512


@lowering("aten.argmax")
def lower_argmax(ctx: LoweringContext, node: Node) -> None:
    self, dim = node.unpack("self", "dim")  # keepdim: the captured shape says whether the axis stays
    x = ctx.blob(self)
    if dim is None:
        raise ctx.unsupported("argmax over the whole tensor (no dim): Caffe's ArgMax without an axis works per "
                              "sample, PyTorch's over the batch too")
    axis = int(dim) % len(x.shape)
    size = x.shape[axis]
    if size > MAX_REVERSED:
        raise ctx.unsupported(f"argmax over {size} elements: reversing them takes {size} Slice tops "
                              f"(at most {MAX_REVERSED})")
    reversed_ = x
    if size > 1:
        name = ctx.name(node, "elements")
        parts = ctx.emit(builders.slice_layer(name, x, [f"{name}/{i}" for i in range(size)], axis=axis,
                                              slice_point=list(range(1, size))))
        name = ctx.name(node, "reversed")
        reversed_ = ctx.emit(builders.concat(name, list(reversed(parts)), name, axis=axis))[0]
    name = ctx.name(node, "argmax")
    where = ctx.emit(builders.argmax(name, reversed_, name, axis=axis))[0]
    kept = tuple(node.shape) == tuple(where.shape)
    name = ctx.name(node) if kept else ctx.name(node, "index")
    index = ctx.emit(builders.power(name, where, name, scale=-1.0, shift=float(size - 1)),
                     result=node if kept else None)[0]
    if not kept:
        ctx.emit(builders.reshape_to(ctx.name(node), index, ctx.name(node), node.shape), result=node)
