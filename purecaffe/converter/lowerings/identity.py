"""Ops that are identities in inference are removed by `passes.remove_identities`.

What reaches a lowering here is the case that is *not* an identity.
"""
from __future__ import annotations

from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.registry import lowering


@lowering("aten.dropout", aliases=("aten.feature_dropout", "aten.alpha_dropout", "aten.feature_alpha_dropout",
                                   "aten.native_dropout"))
def lower_dropout(ctx: LoweringContext, node: Node) -> None:
    raise ctx.unsupported("dropout with train=True is random; put the model (or the functional call) in "
                          "inference mode")
