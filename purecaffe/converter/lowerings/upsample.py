"""Resizing: nearest-neighbour upsampling by integer factors; everything else refused.

Nearest upsampling by integer factors (sh, sw) is a Deconvolution with kernel (sh, sw), stride
(sh, sw), group = C, no bias and an all-ones (C, 1, sh, sw) weight: every output pixel receives
exactly one contribution, 1.0 * x, so it is an exact copy (and portable: every consumer has
Deconvolution, few have Upsample).  `nearest` and `nearest-exact` pick the same source pixel
for integer factors.  Nearest *down*-sampling by an integer factor (output = input / s) picks
every s-th pixel: a depthwise 1x1 Convolution of ones with stride s, also exact.

Refused: bilinear/bicubic (stock BVLC Caffe has no Interp layer; a fixed bilinear Deconvolution
matches PyTorch's align_corners=False only away from the borders) and nearest by a non-integer
factor (source rows are picked unevenly; no stock layer reproduces that).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import subsample_layer
from purecaffe.converter.registry import lowering
from purecaffe.converter.weights import deconvolution_blobs


def _factors(ctx: LoweringContext, node: Node, size_in: Sequence[int], size_out: Sequence[int],
             scales: Sequence[float | None] | None) -> tuple[list[int], list[int]]:
    """Integer (up, down) factor per spatial axis; refuses anything else."""
    up, down = [], []
    for i, (a, b) in enumerate(zip(size_in, size_out)):
        given = scales[i] if scales is not None and i < len(scales) else None
        if given is not None and float(given) != b / a and not float(given).is_integer():
            # An explicit non-integer factor maps pixels by it even when the sizes divide.
            raise ctx.unsupported(f"nearest resize by the non-integer factor {given}: source pixels are picked "
                                  f"unevenly; stock Caffe has no layer for that")
        if b % a == 0:
            up.append(b // a)
            down.append(1)
        elif a % b == 0:
            up.append(1)
            down.append(a // b)
        else:
            raise ctx.unsupported(f"nearest resize {a} -> {b} is not by an integer factor: source pixels are "
                                  f"picked unevenly; stock Caffe has no layer for that")
    return up, down


def _nearest(ctx: LoweringContext, node: Node, scales: Sequence[float | None] | None) -> None:
    self = node.arg("input") if "input" in node.args else node.arg("self")
    x = ctx.blob(self)
    if len(x.shape) != 4:
        raise ctx.unsupported(f"nearest resize of a {len(x.shape)}-D tensor: only 4-D (N, C, H, W) is lowered")
    up, down = _factors(ctx, node, x.shape[2:], node.shape[2:], scales)
    if up == [1, 1] and down == [1, 1]:
        ctx.alias(node, self)
        return
    if up != [1, 1] and down != [1, 1]:
        raise ctx.unsupported(f"nearest resize up along one axis and down along the other ({list(x.shape[2:])} "
                              f"-> {list(node.shape[2:])})")
    name, top = ctx.name(node), ctx.name(node)
    if down != [1, 1]:
        ctx.emit(*subsample_layer(name, x, top, (down[0], down[1])), result=node)
        return
    channels = x.shape[1]
    layer = builders.deconvolution(name, x, top, num_output=channels, kernel=tuple(up), stride=tuple(up),
                                   group=channels, bias_term=False)
    weight = np.ones((channels, 1, up[0], up[1]), dtype=np.float32)
    ctx.emit(layer, deconvolution_blobs(weight, None), result=node)


@lowering("aten.upsample_nearest2d", aliases=("aten._upsample_nearest_exact2d",))
def lower_upsample_nearest2d(ctx: LoweringContext, node: Node) -> None:
    """upsample_nearest2d.vec(input, output_size, scale_factors) / .default(self, output_size, scales_h, scales_w)."""
    if "scale_factors" in node.args:
        scales = node.arg("scale_factors")
    else:
        scales = [node.args.get("scales_h"), node.args.get("scales_w")]
    _nearest(ctx, node, scales)


@lowering("aten.upsample_bilinear2d", aliases=("aten.upsample_bicubic2d", "aten._upsample_bilinear2d_aa",
                                               "aten._upsample_bicubic2d_aa", "aten.upsample_trilinear3d",
                                               "aten.upsample_linear1d"))
def lower_upsample_bilinear2d(ctx: LoweringContext, node: Node) -> None:
    raise ctx.unsupported(f"{node.op.split('.', 1)[1]} resize: stock BVLC Caffe has no Interp layer, and a fixed "
                          f"bilinear Deconvolution differs from PyTorch at the borders; use mode='nearest' with "
                          f"an integer scale factor")
