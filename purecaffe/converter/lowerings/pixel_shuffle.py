"""pixel_shuffle / pixel_unshuffle (depth <-> space) as grouped (de)convolutions with 0/1 weights.

pixel_shuffle(r): out[n, c, h*r + i, w*r + j] = in[n, c*r*r + i*r + j, h, w].  A Deconvolution
with group C, kernel = stride = r and weight[c*r*r + i*r + j, 0, i, j] = 1 (all else 0) writes
each input value to exactly one output position, once: every output is 1 * x plus zeros, exact.

pixel_unshuffle(r) is the inverse: a Convolution with group C, kernel = stride = r and
weight[c*r*r + i*r + j, 0, i, j] = 1 picks one input value per output, exact the same way.
"""
from __future__ import annotations

import numpy as np

from purecaffe.canonical import builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.registry import lowering
from purecaffe.converter.weights import convolution_blobs, deconvolution_blobs


def _selection(channels: int, r: int) -> np.ndarray:
    """(C*r*r, 1, r, r): the r*r channels of group c hold one 1 each, at kernel position (i, j)."""
    weight = np.zeros((channels * r * r, 1, r, r), dtype=np.float32)
    for c in range(channels):
        for i in range(r):
            for j in range(r):
                weight[c * r * r + i * r + j, 0, i, j] = 1.0
    return weight


@lowering("aten.pixel_shuffle")
def lower_pixel_shuffle(ctx: LoweringContext, node: Node) -> None:
    self, upscale_factor = node.unpack("self", "upscale_factor")
    x = ctx.blob(self)
    r = int(upscale_factor)
    if len(x.shape) != 4:
        raise ctx.unsupported(f"pixel_shuffle of a {len(x.shape)}-D tensor; only (N, C, H, W) is converted")
    if r == 1:
        ctx.alias(node, self)
        return
    channels = x.shape[1] // (r * r)
    layer = builders.deconvolution(ctx.name(node), x, ctx.name(node), num_output=channels, kernel=r,
                                   stride=r, group=channels, bias_term=False)
    ctx.emit(layer, deconvolution_blobs(_selection(channels, r), None), result=node)


@lowering("aten.pixel_unshuffle")
def lower_pixel_unshuffle(ctx: LoweringContext, node: Node) -> None:
    self, downscale_factor = node.unpack("self", "downscale_factor")
    x = ctx.blob(self)
    r = int(downscale_factor)
    if len(x.shape) != 4:
        raise ctx.unsupported(f"pixel_unshuffle of a {len(x.shape)}-D tensor; only (N, C, H, W) is converted")
    if r == 1:
        ctx.alias(node, self)
        return
    channels = x.shape[1]
    layer = builders.convolution(ctx.name(node), x, ctx.name(node), num_output=channels * r * r,
                                 kernel=r, stride=r, group=channels, bias_term=False)
    ctx.emit(layer, convolution_blobs(_selection(channels, r), None), result=node)
