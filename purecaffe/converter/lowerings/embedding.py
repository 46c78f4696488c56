"""embedding(weight, indices) with computed indices -> Embed (rows of the weight, copied).

Constant indices are folded before lowering (the rows themselves become a constant).  Caffe's
Embed reads each bottom value as a row index (a float holding an integer, exact below 2**24) and
copies row `index` of its weight blob (input_dim, num_output): PyTorch's (num_embeddings,
embedding_dim) weight as is.  The indices blob comes from a layer that computes integers, such as
`argmax` (`lowerings/argmax.py`); max_norm renormalises the weight in place and is refused.
"""
from __future__ import annotations

from purecaffe.canonical import builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import float_constant
from purecaffe.converter.registry import lowering
from purecaffe.converter.weights import embed_blobs


@lowering("aten.embedding")
def lower_embedding(ctx: LoweringContext, node: Node) -> None:
    weight, indices = node.unpack("weight", "indices")
    if not ctx.is_constant(weight):
        raise ctx.unsupported("embedding with a weight computed from the inputs; Embed needs it as a parameter")
    table = float_constant(ctx, ctx.constant(weight), "embedding weight")
    if table.ndim != 2:
        raise ctx.unsupported(f"embedding weight {list(table.shape)} is not (num_embeddings, embedding_dim)")
    x = ctx.blob(indices)
    layer = builders.embed(ctx.name(node), x, ctx.name(node), num_output=table.shape[1], input_dim=table.shape[0])
    ctx.emit(layer, embed_blobs(table), result=node)
