"""Element-wise maximum and minimum of two tensors: torch.maximum / minimum, torch.max(a, b) / min(a, b).

* max(a, b) -> Eltwise MAX (Caffe keeps the larger of the two values: exact).
* min(a, b) -> -max(-a, -b): Power(scale -1) on each operand and on the result (negation is exact).
* An operand that broadcasts is first copied out to the result's shape with Tile layers (copies,
  exact); a constant operand becomes a Parameter layer (`_support.tensor_blob`).

Reductions (amax, max(dim), ...) are in `reduce.py`; clamp with numbers in `activations.py`.
"""
from __future__ import annotations

from typing import Any

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import expand_to, require_float, tensor_blob
from purecaffe.converter.registry import lowering


@lowering("aten.maximum", aliases=("aten.max.other", "aten.fmax"))
def lower_maximum(ctx: LoweringContext, node: Node) -> None:
    self, other = node.unpack("self", "other")
    _extremum(ctx, node, self, other, negate=False)


@lowering("aten.minimum", aliases=("aten.min.other", "aten.fmin"))
def lower_minimum(ctx: LoweringContext, node: Node) -> None:
    self, other = node.unpack("self", "other")
    _extremum(ctx, node, self, other, negate=True)


def _operand(ctx: LoweringContext, node: Node, value: Any, part: str, negate: bool) -> Blob:
    """`value` at the result's shape (Tile-broadcast), negated for a minimum."""
    blob = tensor_blob(ctx, node, value, part)
    out = tuple(node.shape)
    if tuple(blob.shape) != out:
        blob = expand_to(ctx, node, blob, out, f"{part}_expand")
    if negate:
        name = ctx.name(node, f"{part}_negated")
        blob = ctx.emit(builders.power(name, blob, name, scale=-1.0))[0]
    return blob


def _extremum(ctx: LoweringContext, node: Node, a: Any, b: Any, *, negate: bool) -> None:
    require_float(ctx, node, "maximum" if not negate else "minimum")
    if ctx.is_constant(a) and ctx.is_constant(b):
        raise ctx.unsupported("both operands are constants (should have been folded)")
    left, right = _operand(ctx, node, a, "self", negate), _operand(ctx, node, b, "other", negate)
    if not negate:
        ctx.emit(builders.eltwise(ctx.name(node), [left, right], ctx.name(node), operation="MAX"), result=node)
        return
    name = ctx.name(node, "max")
    largest = ctx.emit(builders.eltwise(name, [left, right], name, operation="MAX"))[0]
    ctx.emit(builders.power(ctx.name(node), largest, ctx.name(node), scale=-1.0), result=node)
