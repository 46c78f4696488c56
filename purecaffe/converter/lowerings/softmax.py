"""softmax and log_softmax over any axis.

`softmax(x, dim)` is Caffe's Softmax with `axis: dim`; both subtract the maximum, exponentiate,
sum and divide, so they agree to float32 rounding of exp and of the sum.

`log_softmax(x, dim)` has no stock layer; it becomes Softmax followed by Log.  PyTorch computes
`x - max - log(sum(exp(x - max)))`, so the two differ by the rounding of the softmax value
carried through the log: an absolute error of about 2**-24 per element (the log of a
relatively-accurate probability), i.e. within 1e-6 of PyTorch for inputs whose probabilities
stay in float32's normal range.  The one real difference: where a probability underflows
(a logit more than ~87 below the row's maximum) Caffe gives -inf and PyTorch a finite value.
"""
from __future__ import annotations

from purecaffe.canonical import builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.registry import lowering


def _axis(ctx: LoweringContext, node: Node, dim: int, half_to_float: bool = False) -> int:
    if half_to_float:
        raise ctx.unsupported("softmax with half_to_float=True (a float16 input); Caffe blobs are float32")
    dtype = node.info.dtype
    if dtype != "float32":
        raise ctx.unsupported(f"softmax producing {dtype}; Caffe blobs are float32")
    return int(dim) % len(node.shape)


@lowering("aten._softmax", aliases=("aten.softmax", "aten.special_softmax"))
def lower_softmax(ctx: LoweringContext, node: Node) -> None:
    self, dim = node.unpack("self", "dim")
    axis = _axis(ctx, node, dim, bool(node.args.get("half_to_float", False)))
    ctx.emit(builders.softmax(ctx.name(node), ctx.blob(self), ctx.name(node), axis=axis), result=node)


@lowering("aten._log_softmax", aliases=("aten.log_softmax", "aten.special_log_softmax"))
def lower_log_softmax(ctx: LoweringContext, node: Node) -> None:
    self, dim = node.unpack("self", "dim")
    axis = _axis(ctx, node, dim, bool(node.args.get("half_to_float", False)))
    part = ctx.name(node, "softmax")
    probabilities = ctx.emit(builders.softmax(part, ctx.blob(self), part, axis=axis))[0]
    ctx.emit(builders.log(ctx.name(node), probabilities, ctx.name(node)), result=node)
