"""Axis permutations: permute / transpose / t, and channel_shuffle.

* a permutation that keeps the order of all axes longer than 1 (moving size-1 axes around,
  `(N, C, 1, 1).permute(0, 2, 3, 1)`) does not move any value: a Reshape;
* any other permutation is a canonical Permute; targets without one (stock BVLC, Caffe 1.0)
  legalize it into Slice + Reshape + Concat, or past 512 Slice tops into one-hot Convolutions
  (`purecaffe.targets.rules_permute`);
* `channel_shuffle(x, g)` -- also what the pass `patterns.fuse_channel_shuffle` makes of
  ShuffleNet's view(N, g, C/g, H, W) -> transpose(1, 2) -> view(N, C, H, W) -- is a 1x1
  Convolution (group 1, no bias) whose weight is the permutation matrix.  It is exact in
  float32: each output is 1.0 * x plus 0.0 times the other channels, and adding zeros changes
  nothing (for finite inputs).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import reshape_layer
from purecaffe.converter.registry import lowering
from purecaffe.converter.weights import convolution_blobs

def _permute(ctx: LoweringContext, node: Node, order: Sequence[int]) -> None:
    self = node.arg("self")
    x = ctx.blob(self)
    rank = len(x.shape)
    order = [int(d) % rank for d in order] if rank else []
    moved = [d for d in order if x.shape[d] != 1]
    if moved != sorted(moved):
        ctx.emit(builders.permute(ctx.name(node), x, ctx.name(node), order=order), result=node)
        return
    if tuple(x.shape) == tuple(node.shape):
        ctx.alias(node, self)
        return
    ctx.emit(reshape_layer(ctx.name(node), x, ctx.name(node), node.shape), result=node)


@lowering("aten.permute", aliases=("aten.permute_copy",))
def lower_permute(ctx: LoweringContext, node: Node) -> None:
    self, dims = node.unpack("self", "dims")
    _permute(ctx, node, list(dims))


@lowering("aten.transpose.int", aliases=("aten.transpose", "aten.transpose_copy", "aten.swapaxes",
                                         "aten.swapdims"))
def lower_transpose(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    dim0, dim1 = (node.arg("dim0"), node.arg("dim1")) if "dim0" in node.args else (node.arg("axis0"),
                                                                                   node.arg("axis1"))
    rank = len(ctx.shape(self))
    order = list(range(rank))
    a, b = int(dim0) % rank, int(dim1) % rank
    order[a], order[b] = order[b], order[a]
    _permute(ctx, node, order)


@lowering("aten.t", aliases=("aten.numpy_T",))
def lower_t(ctx: LoweringContext, node: Node) -> None:
    rank = len(ctx.shape(node.arg("self")))
    _permute(ctx, node, list(range(rank))[::-1])


def shuffle_order(channels: int, groups: int) -> list[int]:
    """Output channel j*g + i takes input channel i*(C/g) + j (torch.nn.ChannelShuffle)."""
    per_group = channels // groups
    return [i * per_group + j for j in range(per_group) for i in range(groups)]


@lowering("aten.channel_shuffle", aliases=("aten.native_channel_shuffle",))
def lower_channel_shuffle(ctx: LoweringContext, node: Node) -> None:
    self, groups = node.unpack("self", "groups")
    x = ctx.blob(self)
    groups = int(groups)
    if len(x.shape) != 4:
        raise ctx.unsupported(f"channel shuffle of a {len(x.shape)}-D tensor: only (N, C, H, W) is lowered "
                              f"(a 1x1 Convolution)")
    channels = x.shape[1]
    if groups <= 0 or channels % groups:
        raise ctx.unsupported(f"channel shuffle of {channels} channels into {groups} groups")
    if groups == 1 or groups == channels:
        ctx.alias(node, self)
        return
    weight = np.zeros((channels, channels, 1, 1), dtype=np.float32)
    weight[np.arange(channels), shuffle_order(channels, groups), 0, 0] = 1.0
    layer = builders.convolution(ctx.name(node), x, ctx.name(node), num_output=channels, kernel=1,
                                 bias_term=False)
    ctx.emit(layer, convolution_blobs(weight, None), result=node)
