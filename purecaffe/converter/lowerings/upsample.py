"""Resizing: nearest-neighbour by integer factors, bilinear by any factor or size.

Nearest upsampling by integer factors (sh, sw) is a Deconvolution with kernel (sh, sw), stride
(sh, sw), group = C, no bias and an all-ones (C, 1, sh, sw) weight: every output pixel receives
exactly one contribution, 1.0 * x, so it is an exact copy (and portable: every consumer has
Deconvolution, few have Upsample).  `nearest` and `nearest-exact` pick the same source pixel
for integer factors.  Nearest *down*-sampling by an integer factor (output = input / s) picks
every s-th pixel: a depthwise 1x1 Convolution of ones with stride s, also exact.

Bilinear with align_corners=True is the canonical Interp layer (PSPNet's, OpenCV's: the same
align-corners arithmetic); targets without Interp legalize it into fixed matrices
(`purecaffe.targets.rules.interp_as_matrices`).  With align_corners=False no target has a layer
that computes it, so it is lowered straight to the separable construction
(`purecaffe.canonical.constructions.resize_layers`): PyTorch's own two weights per output,
along W then H.

Refused: bicubic, antialiased and 1-D/3-D resizes (no exact construction), nearest by a
non-integer factor (source rows are picked unevenly; no stock layer reproduces that), and a
bilinear resize whose weight matrices would be unreasonably large (the number is given).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import builders
from purecaffe.canonical.constructions import (MAX_RESIZE_WEIGHTS, linear_resize_matrix, resize_cost,
                                                resize_layers)
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


@lowering("aten.upsample_bilinear2d")
def lower_upsample_bilinear2d(ctx: LoweringContext, node: Node) -> None:
    """upsample_bilinear2d.vec(input, output_size, align_corners, scale_factors) / .default(self, output_size,
    align_corners, scales_h, scales_w)."""
    self = node.arg("input") if "input" in node.args else node.arg("self")
    align_corners = bool(node.arg("align_corners"))
    if "scale_factors" in node.args:
        scales = node.arg("scale_factors") or [None, None]
    else:
        scales = [node.args.get("scales_h"), node.args.get("scales_w")]
    x = ctx.blob(self)
    if len(x.shape) != 4:
        raise ctx.unsupported(f"bilinear resize of a {len(x.shape)}-D tensor: only (N, C, H, W) is lowered")
    (h, w), (h_out, w_out) = x.shape[2:], node.shape[2:]
    if (h, w) == (h_out, w_out) and (align_corners or all(s in (None, 1.0) for s in scales)):
        ctx.alias(node, self)
        return
    if align_corners:
        ctx.emit(builders.interp(ctx.name(node), x, ctx.name(node), height=h_out, width=w_out), result=node)
        return
    matrix_h = linear_resize_matrix(h, h_out, align_corners=False, scale=_scale(scales, 0))
    matrix_w = linear_resize_matrix(w, w_out, align_corners=False, scale=_scale(scales, 1))
    cost = resize_cost(x, matrix_h, matrix_w)
    if cost > MAX_RESIZE_WEIGHTS:
        raise ctx.unsupported(f"bilinear resize {h}x{w} -> {h_out}x{w_out} needs {cost} fixed weights "
                              f"(more than {MAX_RESIZE_WEIGHTS}), which is unreasonable")
    layers = resize_layers(ctx.name(node), x, ctx.name(node), matrix_h, matrix_w)
    for layer in layers[:-1]:
        ctx.emit(layer, layer.weights)
    ctx.emit(layers[-1], layers[-1].weights, result=node)


def _scale(scales: Sequence[float | None], axis: int) -> float | None:
    return float(scales[axis]) if len(scales) > axis and scales[axis] is not None else None


@lowering("aten.upsample_bicubic2d", aliases=("aten._upsample_bilinear2d_aa", "aten._upsample_bicubic2d_aa",
                                              "aten.upsample_trilinear3d", "aten.upsample_linear1d"))
def lower_upsample_bicubic2d(ctx: LoweringContext, node: Node) -> None:
    raise ctx.unsupported(f"{node.op.split('.', 1)[1]} resize: no Caffe layer or exact construction computes it "
                          f"(bilinear 2-D resizes and nearest by integer factors are converted)")
