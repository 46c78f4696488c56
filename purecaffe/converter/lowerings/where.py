"""torch.where(condition, a, b) with a constant condition -> Scale by the 0/1 mask (and its
complement) + Eltwise SUM; a scalar branch becomes the Scale's bias.

With m the mask as 0/1 floats broadcast to the result's shape (one Scale blob over every axis):
a * m + b * (1 - m), or a * m + c * (1 - m) for a scalar c (the bias).  Each product is by exactly
0 or 1 and one of the two summands is a signed zero, so the result is a or b exactly (for finite
values: inf * 0 is NaN).  A condition computed from the inputs is refused.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from purecaffe.canonical import Blob, builders
from purecaffe.converter import weights
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import expand_to, require_float, scalar_value
from purecaffe.converter.registry import lowering


def _branch(ctx: LoweringContext, node: Node, value: Any, part: str) -> Blob | float:
    """A tensor branch as a blob of the result's shape, or a scalar branch as a float."""
    scalar = scalar_value(ctx, value)
    if scalar is not None:
        return scalar
    if ctx.is_constant(value):
        raise ctx.unsupported("torch.where with a constant tensor branch; only computed tensors and scalars")
    x = ctx.blob(value)
    if tuple(x.shape) != tuple(node.shape):
        x = expand_to(ctx, node, x, node.shape, part)
    return x


def _masked(ctx: LoweringContext, node: Node, x: Blob, mask: np.ndarray, bias: np.ndarray | None,
            part: str | None) -> Blob:
    name = ctx.name(node, part)
    layer = builders.scale(name, [x], name, axis=0, num_axes=-1, bias_term=bias is not None)
    return ctx.emit(layer, weights.scale_blobs(mask, bias, shape=mask.shape), result=node if part is None else None)[0]


@lowering("aten.where.self", aliases=("aten.where.ScalarOther", "aten.where.ScalarSelf", "aten.where.Scalar",
                                       "aten.where"))
def lower_where(ctx: LoweringContext, node: Node) -> None:
    condition, self, other = node.unpack("condition", "self", "other")
    require_float(ctx, node, "torch.where")
    if not ctx.is_constant(condition):
        raise ctx.unsupported("torch.where with a condition computed from the inputs: Caffe has no comparison "
                              "layer that selects exactly")
    shape = tuple(node.shape)
    mask = np.broadcast_to(ctx.constant(condition).astype(bool), shape).astype(np.float32)
    keep, drop = mask, (1.0 - mask).astype(np.float32)
    a, b = _branch(ctx, node, self, "self"), _branch(ctx, node, other, "other")
    if isinstance(a, float) and isinstance(b, float):
        raise ctx.unsupported("torch.where of two scalars with a constant condition is a constant")
    if isinstance(b, float):
        _masked(ctx, node, a, keep, (drop * b).astype(np.float32), None)  # type: ignore[arg-type]
        return
    if isinstance(a, float):
        _masked(ctx, node, b, drop, (keep * a).astype(np.float32), None)
        return
    kept, dropped = _masked(ctx, node, a, keep, None, "self_masked"), _masked(ctx, node, b, drop, None, "other_masked")
    ctx.emit(builders.eltwise(ctx.name(node), [kept, dropped], ctx.name(node), operation="SUM"), result=node)
