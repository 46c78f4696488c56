"""Constant tensors in the graph.

Most constants never reach a lowering: parameters, buffers and lifted tensors are graph
constants, and `passes.fold_constants` evaluates every op whose inputs are all constant.  What
remains is handled here or where the constant is used:

* a constant operand of arithmetic goes into that layer's own blob (Scale gamma/beta), see
  `elementwise.py`;
* a constant used as a tensor of its own (a `cat` part, a broadcast bigger than the other
  operand) becomes a `Parameter` layer (BVLC Caffe 1.0: `parameter_param { shape }`) storing the
  value as its one blob, exactly (`_support.tensor_blob`);
* `zeros_like` / `ones_like` / `full_like(x, v)` depend on `x` only through its shape: Power with
  scale 0 and shift v, which Caffe evaluates as a constant fill (`pow(shift, 1)`), exact and
  still following the batch size of `x`.
"""
from __future__ import annotations

from purecaffe.canonical import builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import require_float
from purecaffe.converter.registry import lowering


def _fill(ctx: LoweringContext, node: Node, value: float) -> None:
    self = node.arg("self")
    require_float(ctx, node, f"a fill with {value}")
    x = ctx.blob(self)
    if tuple(x.shape) != tuple(node.shape):
        raise ctx.unsupported(f"fill of shape {list(node.shape)} from a {list(x.shape)} tensor")
    ctx.emit(builders.power(ctx.name(node), x, ctx.name(node), scale=0.0, shift=float(value)),
             result=node)


@lowering("aten.zeros_like")
def lower_zeros_like(ctx: LoweringContext, node: Node) -> None:
    _fill(ctx, node, 0.0)


@lowering("aten.ones_like")
def lower_ones_like(ctx: LoweringContext, node: Node) -> None:
    _fill(ctx, node, 1.0)


@lowering("aten.full_like")
def lower_full_like(ctx: LoweringContext, node: Node) -> None:
    fill_value = node.arg("fill_value")
    if not isinstance(fill_value, (int, float)):
        raise ctx.unsupported("full_like with a tensor fill value")
    _fill(ctx, node, float(fill_value))
