"""Casts that change nothing in a float32 Caffe blob: type_as, to(dtype) / to(other), _to_copy.

Every Caffe blob is float32, so a cast *to* float32 of a value Caffe already holds exactly (a float32
tensor, or a bool/integer one that an exact lowering produced as float32 0/1 or small integers) is the
same blob: the node is bound to its input, no layer.  A cast to any other dtype (float16, float64,
integers) would change what PyTorch computes next and is refused, as is a cast from float16/bfloat16/
float64 (the float32 blob would not hold the value PyTorch has).
"""
from __future__ import annotations

from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node, Ref, TensorInfo
from purecaffe.converter.registry import lowering

_INEXACT_SOURCES = ("float16", "bfloat16", "float64")


def _dtype(ctx: LoweringContext, ref: Ref) -> str:
    """The captured dtype of value `ref` ("float32" when it is not recorded)."""
    for item in ctx.graph.inputs:
        if item.name == ref.name:
            return item.info.dtype
    for node in ctx.graph.nodes:
        if node.name == ref.name and isinstance(node.outputs, TensorInfo):
            return node.outputs.dtype
    return "float32"


@lowering("aten.type_as", aliases=("aten.to", "aten._to_copy"))
def lower_type_as(ctx: LoweringContext, node: Node) -> None:
    """x.type_as(y), x.to(torch.float32), x.to(y), x.float(): the same blob when the result is float32."""
    self = node.arg("self")
    result = node.info.dtype
    if result != "float32":
        raise ctx.unsupported(f"cast to {result}: Caffe blobs are float32")
    if not isinstance(self, Ref):
        raise ctx.unsupported("cast of a non-tensor")
    source = _dtype(ctx, self)
    if source in _INEXACT_SOURCES:
        raise ctx.unsupported(f"cast from {source} to float32: the float32 blob would not hold the {source} "
                              f"values PyTorch has")
    ctx.alias(node, self)
