"""dtype conversions: `x.to(torch.float32)` of a float32 tensor is the tensor itself (no layer).

Caffe blobs are float32, so only a conversion that leaves a float32 tensor float32 is exact; any
other (to float16, float64, an integer type, or from one) changes or reinterprets values and is
refused, naming both dtypes.
"""
from __future__ import annotations

from typing import Any

from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node, Ref, TensorInfo
from purecaffe.converter.registry import lowering


def value_dtype(ctx: LoweringContext, ref: Any) -> str | None:
    """The captured dtype ("float32", ...) of a graph value, or None where it is not known."""
    if not isinstance(ref, Ref):
        return None
    graph = ctx.graph
    for graph_input in graph.inputs:
        if graph_input.name == ref.name:
            return graph_input.info.dtype
    if ref.name in graph.constants:
        return str(graph.constants[ref.name].dtype)
    for node in graph.nodes:
        if node.name == ref.name and isinstance(node.outputs, TensorInfo):
            return node.outputs.dtype
    return None


@lowering("aten.to.dtype", aliases=("aten._to_copy", "aten.to.dtype_layout", "aten.to"))
def lower_to(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    before, after = value_dtype(ctx, self), node.info.dtype
    if before != after or after != "float32":
        raise ctx.unsupported(f"conversion from {before} to {after}: Caffe blobs are float32, so only "
                              f"float32 -> float32 is exact")
    ctx.alias(node, self)
