"""Normalisation by statistics of the input: LayerNorm, GroupNorm, InstanceNorm, LayerNorm over C.

Not MVN: Caffe's MVN divides by sqrt(var) + eps, PyTorch by sqrt(var + eps) (Caffe's
mvn_layer.cpp adds eps after the square root).  Each is built from stock layers instead, in PyTorch's order of operations:

=====================================  =====================================================
torch                                  Caffe
=====================================  =====================================================
statistics over trailing axes k..      Reduction MEAN (axis k, coeff -1)     -> -mean  (N..)
(layer_norm over the last dims,        Bias (x, -mean; axis 0)               -> x - mean
instance_norm over H, W,               Power (power 2)                       -> squares
group_norm over a (N, G, C/G*H*W)      Reduction MEAN (axis k)               -> var
Reshape of the input)                  Power (shift eps, power -1/2)         -> 1/sqrt(var + eps)
                                       Scale (x - mean, rstd; axis 0)        -> normalised
statistics over C of (N, C, H, W)      1x1 Convolution, weight I - 1/C       -> x - mean
(ConvNeXt's LayerNorm2d: permute,      Power 2, 1x1 Convolution of ones      -> sum of squares
layer_norm over C, permute back; see   Power (scale 1/C, shift eps, -1/2)    -> rstd (N, 1, H, W)
`patterns.fuse_channel_layer_norm`)    Tile (C) + Eltwise PROD               -> normalised
affine weight / bias                   Scale (bias_term) over the normalised axes (or channels)
=====================================  =====================================================

The means are float32 sums in another order than PyTorch's kernels and Reduction MEAN multiplies
by fl(1/n); Power's std::pow is within an ulp of rsqrt: results agree to ~1e-6 of the scale.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import require_float, reshape_layer, reshape_to
from purecaffe.converter.registry import lowering
from purecaffe.converter.weights import batch_norm_blobs, bias_blobs, convolution_blobs, scale_blobs


def _normalize_trailing(ctx: LoweringContext, node: Node, x: Blob, axis: int, eps: float, *,
                        bind: bool, outputs: Sequence[int] | None = None) -> Blob:
    """(x - mean) / sqrt(var + eps), statistics over axes `axis`.. of x (biased variance).

    With `bind` the last layer is the node's own (its shape must then be the node's).
    """
    if axis < 1 or axis >= len(x.shape):
        raise ctx.unsupported(f"statistics over axes {axis}.. of a {len(x.shape)}-D tensor: Caffe's Reduction "
                              f"reduces only trailing axes after the batch")
    name = top = ctx.name(node, "negmean")
    negmean = ctx.emit(builders.reduction(name, x, top, operation="MEAN", axis=axis, coeff=-1.0))[0]
    name = top = ctx.name(node, "center")
    centered = ctx.emit(builders.bias(name, [x, negmean], top, axis=0))[0]
    name = top = ctx.name(node, "square")
    square = ctx.emit(builders.power(name, centered, top, power=2.0))[0]
    name = top = ctx.name(node, "var")
    var = ctx.emit(builders.reduction(name, square, top, operation="MEAN", axis=axis))[0]
    name = top = ctx.name(node, "rstd")
    rstd = ctx.emit(builders.power(name, var, top, power=-0.5, shift=float(eps)))[0]
    if bind:
        return ctx.emit(builders.scale(ctx.name(node), [centered, rstd], ctx.name(node), axis=0),
                        result=node, outputs=outputs)[0]
    name = top = ctx.name(node, "normalized")
    return ctx.emit(builders.scale(name, [centered, rstd], top, axis=0))[0]


def _affine(ctx: LoweringContext, node: Node, x: Blob, weight: Any, bias: Any, axis: int, shape: Sequence[int],
            outputs: Sequence[int] | None = None) -> None:
    """x * weight + bias over axes axis..axis+len(shape) (weight and/or bias constants, not both None)."""
    gamma = ctx.constant(weight) if weight is not None else None
    beta = ctx.constant(bias) if bias is not None else None
    shape = tuple(int(d) for d in shape)
    name, top = ctx.name(node), ctx.name(node)
    if gamma is None:
        layer = builders.bias(name, [x], top, axis=axis, num_axes=len(shape))
        ctx.emit(layer, bias_blobs(beta, shape), result=node, outputs=outputs)
        return
    layer = builders.scale(name, [x], top, axis=axis, num_axes=len(shape), bias_term=beta is not None)
    ctx.emit(layer, scale_blobs(gamma, beta, shape), result=node, outputs=outputs)


@lowering("aten.layer_norm", aliases=("aten.native_layer_norm",))
def lower_layer_norm(ctx: LoweringContext, node: Node) -> None:
    """Over the last len(normalized_shape) axes; native_layer_norm's mean/rstd outputs are not lowered."""
    x_ref, normalized_shape, weight, bias, eps = node.unpack("input", "normalized_shape", "weight", "bias", "eps")
    x = ctx.blob(x_ref)
    require_float(ctx, node, "normalisation")
    outputs = (0,) if node.op == "aten.native_layer_norm" else None
    dims = tuple(int(d) for d in normalized_shape)
    axis = len(x.shape) - len(dims)
    if axis < 1:
        raise ctx.unsupported(f"layer_norm over {list(dims)} of {list(x.shape)} includes the batch axis")
    affine = weight is not None or bias is not None
    normed = _normalize_trailing(ctx, node, x, axis, float(eps), bind=not affine, outputs=outputs)
    if affine:
        _affine(ctx, node, normed, weight, bias, axis, dims, outputs)


@lowering("aten.group_norm")
def lower_group_norm(ctx: LoweringContext, node: Node) -> None:
    """Statistics per (sample, group): a Reshape to (N, G, C/G * H * W) and back around them."""
    x_ref, num_groups, weight, bias, eps = node.unpack("input", "num_groups", "weight", "bias", "eps")
    _group_norm(ctx, node, x_ref, int(num_groups), weight, bias, float(eps), None)


@lowering("aten.native_group_norm")
def lower_native_group_norm(ctx: LoweringContext, node: Node) -> None:
    """The core-ATen form (out, mean, rstd); only `out` is lowered."""
    x_ref, weight, bias, group, eps = node.unpack("input", "weight", "bias", "group", "eps")
    _group_norm(ctx, node, x_ref, int(group), weight, bias, float(eps), (0,))


def _group_norm(ctx: LoweringContext, node: Node, x_ref: Any, groups: int, weight: Any, bias: Any, eps: float,
                outputs: Sequence[int] | None) -> None:
    x = ctx.blob(x_ref)
    require_float(ctx, node, "normalisation")
    if len(x.shape) < 2:
        raise ctx.unsupported(f"group_norm of a {len(x.shape)}-D tensor")
    n, channels = x.shape[0], x.shape[1]
    rest = int(np.prod(x.shape[2:], dtype=np.int64))
    grouped = reshape_to(ctx, node, x, (n, groups, channels // groups * rest), "groups")
    normed = _normalize_trailing(ctx, node, grouped, 2, eps, bind=False)
    affine = weight is not None or bias is not None
    if not affine:
        ctx.emit(reshape_layer(ctx.name(node), normed, ctx.name(node), x.shape), result=node,
                 outputs=outputs)
        return
    back = reshape_to(ctx, node, normed, x.shape, "ungroup")
    _affine(ctx, node, back, weight, bias, 1, (channels,), outputs)


@lowering("aten.instance_norm")
def lower_instance_norm(ctx: LoweringContext, node: Node) -> None:
    """Statistics per (sample, channel) over the spatial axes; with running stats it is a BatchNorm."""
    x_ref, weight, bias, running_mean, running_var, use_input_stats, eps = node.unpack(
        "input", "weight", "bias", "running_mean", "running_var", "use_input_stats", "eps")
    x = ctx.blob(x_ref)
    require_float(ctx, node, "normalisation")
    if len(x.shape) < 3:
        raise ctx.unsupported(f"instance_norm of a {len(x.shape)}-D tensor has no spatial axes")
    affine = weight is not None or bias is not None
    channels = x.shape[1]
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ctx.unsupported("instance_norm without input statistics and without running statistics")
        name = ctx.name(node) if not affine else ctx.name(node, "bn")
        top = ctx.name(node) if not affine else name
        layer = builders.batch_norm(name, x, top, eps=float(eps))
        normed = ctx.emit(layer, batch_norm_blobs(ctx.constant(running_mean), ctx.constant(running_var)),
                          result=None if affine else node)[0]
    else:
        normed = _normalize_trailing(ctx, node, x, 2, float(eps), bind=not affine)
    if affine:
        _affine(ctx, node, normed, weight, bias, 1, (channels,))


@lowering("aten.channel_layer_norm")
def lower_channel_layer_norm(ctx: LoweringContext, node: Node) -> None:
    """LayerNorm over C of (N, C, H, W) at every pixel (made by `patterns.fuse_channel_layer_norm`).

    Caffe's Reduction cannot reduce axis 1 alone, so the statistics are 1x1 convolutions: the
    centring one has weight I - 1/C (each output is x_c - mean), the variance one sums squares.
    The (N, 1, H, W) factor is tiled over C (exact copies) and multiplied in.
    """
    x_ref, weight, bias, eps = node.unpack("input", "weight", "bias", "eps")
    x = ctx.blob(x_ref)
    require_float(ctx, node, "normalisation")
    if len(x.shape) != 4:
        raise ctx.unsupported(f"layer norm over the channels of a {len(x.shape)}-D tensor; only (N, C, H, W)")
    channels = x.shape[1]
    center = (np.eye(channels, dtype=np.float64) - 1.0 / channels).astype(np.float32)
    name = top = ctx.name(node, "center")
    centered = ctx.emit(builders.convolution(name, x, top, num_output=channels, kernel=1, bias_term=False),
                        convolution_blobs(center.reshape(channels, channels, 1, 1), None))[0]
    name = top = ctx.name(node, "square")
    square = ctx.emit(builders.power(name, centered, top, power=2.0))[0]
    name = top = ctx.name(node, "sumsq")
    sumsq = ctx.emit(builders.convolution(name, square, top, num_output=1, kernel=1, bias_term=False),
                     convolution_blobs(np.ones((1, channels, 1, 1), dtype=np.float32), None))[0]
    name = top = ctx.name(node, "rstd")
    inv_c = float(np.float32(1.0) / np.float32(channels))
    rstd = ctx.emit(builders.power(name, sumsq, top, power=-0.5, scale=inv_c, shift=float(eps)))[0]
    if channels != 1:
        name = top = ctx.name(node, "rstd_tile")
        rstd = ctx.emit(builders.tile(name, rstd, top, axis=1, tiles=channels))[0]
    affine = weight is not None or bias is not None
    name = ctx.name(node) if not affine else ctx.name(node, "normalized")
    top = ctx.name(node) if not affine else name
    normed = ctx.emit(builders.eltwise(name, [centered, rstd], top, operation="PROD"),
                      result=None if affine else node)[0]
    if affine:
        _affine(ctx, node, normed, weight, bias, 1, (channels,))
