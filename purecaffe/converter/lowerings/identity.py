"""Ops that are identities in inference are removed by `passes.remove_identities`.

What reaches a lowering here is the case that is *not* an identity.
"""
from __future__ import annotations

from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import DROPOUT_OPS, Node
from purecaffe.converter.registry import lowering


@lowering(DROPOUT_OPS[0], aliases=(*DROPOUT_OPS[1:], "aten.native_dropout"))
def lower_dropout(ctx: LoweringContext, node: Node) -> None:
    raise ctx.unsupported("dropout with train=True is random; put the model (or the functional call) in "
                          "inference mode")
