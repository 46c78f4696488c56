"""Pooling and SPP with Caffe's output sizes, clipping and AVE divisor (pooling_layer.cpp).

* Output size: `ceil((H + 2p - k) / s) + 1` (`round_mode: CEIL`, the default) or `floor(...) + 1`
  (`FLOOR`); then, when padding is non-zero on *either* axis (`pad_h || pad_w`), on each axis
  minus one if the last window would start at or beyond `H + p` (it must start inside the
  image or its top/left padding) -- so with `pad_h: 1 pad_w: 0` the W axis is clipped too.
  Without any padding there is no such clipping: a window that starts past the input is empty
  and gives -FLT_MAX (MAX) or 0 (AVE), as in Caffe.
* MAX: the maximum over the window clipped to the input (padding never wins).
* AVE: the sum over the window clipped to the input, divided by the window clipped to
  `H + p` / `W + p` (padding counted up to there, on both sides), not by `k*k` and not by
  the number of valid inputs.
* `global_pooling`: kernel = the whole H x W, pad 0, stride 1.
* A second top (MAX only) receives the argmax as a float index `h * W + w` into the input plane.
* STOCHASTIC pooling is not implemented on Caffe's CPU path either: an error here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from purecaffe.runtime.layers.base import (FLT_MAX, LayerProblem, LayerShapes, Shape, Tensor, format_shape,
                                           need_axes, need_bottoms)


def pooled_size(size: int, kernel: int, stride: int, pad: int, round_mode: str = "CEIL", *,
                padded: bool | None = None) -> int:
    """Caffe's pooled output length along one axis (see the module docstring).

    `padded`: whether the layer has padding on any axis (Caffe clips the last window of every
    axis then); defaults to this axis's `pad != 0`, right only when both axes share one pad.
    """
    span = size + 2 * pad - kernel
    if round_mode == "CEIL":
        out = -(-span // stride) + 1
    elif round_mode == "FLOOR":
        out = span // stride + 1
    else:
        raise LayerProblem(f"unknown round_mode {round_mode}")
    if (bool(pad) if padded is None else padded) and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def ave_divisors(size: int, kernel: int, stride: int, pad: int, out: int) -> list[int]:
    """Per output position, the AVE divisor along one axis: the window clipped to `size + pad`."""
    divisors = []
    for i in range(out):
        start = i * stride - pad
        divisors.append(min(start + kernel, size + pad) - start)
    return divisors


def _geometry(shape: Shape, *, pool: str, kernel: tuple[int, int] | None, stride: tuple[int, int],
              pad: tuple[int, int], global_pooling: bool, round_mode: str
              ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    need_axes(shape, 4)
    if global_pooling:
        if pad != (0, 0) or stride != (1, 1):
            raise LayerProblem("with global_pooling: true only pad = 0 and stride = 1 are allowed")
        kernel = (shape[2], shape[3])
    assert kernel is not None
    if min(kernel) <= 0:
        raise LayerProblem("filter dimensions cannot be zero")
    if min(stride) <= 0:
        raise LayerProblem("stride cannot be zero")
    if pad != (0, 0):
        if pool not in ("MAX", "AVE"):
            raise LayerProblem("padding implemented only for average and max pooling")
        if pad[0] >= kernel[0] or pad[1] >= kernel[1]:
            raise LayerProblem(f"pad {pad} must be smaller than kernel {kernel}")
    padded = pad != (0, 0)
    out = (pooled_size(shape[2], kernel[0], stride[0], pad[0], round_mode, padded=padded),
           pooled_size(shape[3], kernel[1], stride[1], pad[1], round_mode, padded=padded))
    if min(out) <= 0:
        raise LayerProblem(f"pooled size {out} <= 0 for bottom {format_shape(shape)}, kernel {kernel}, "
                           f"stride {stride}, pad {pad}")
    return kernel, stride, pad, out


def pooling_shapes(bottoms: Sequence[Shape], *, pool: str, kernel: tuple[int, int] | None,
                   stride: tuple[int, int], pad: tuple[int, int], global_pooling: bool, round_mode: str,
                   n_tops: int = 1) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    _, _, _, out = _geometry(shape, pool=pool, kernel=kernel, stride=stride, pad=pad,
                             global_pooling=global_pooling, round_mode=round_mode)
    top = (shape[0], shape[1], *out)
    return LayerShapes(tops=(top,) * n_tops)


def _padded(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int], pad: tuple[int, int],
            out: tuple[int, int], value: float) -> Tensor:
    """`x` padded top/left by `pad` and bottom/right far enough that every window fits."""
    extra = [max(0, (o - 1) * s + k - n - p) for o, s, k, n, p in zip(out, stride, kernel, x.shape[2:], pad)]
    return F.pad(x, (pad[1], extra[1], pad[0], extra[0]), value=value)


def pooling(bottoms: Sequence[Tensor], *, pool: str, kernel: tuple[int, int] | None, stride: tuple[int, int],
            pad: tuple[int, int], global_pooling: bool, round_mode: str, n_tops: int = 1) -> list[Tensor]:
    """Caffe Pooling (MAX or AVE) over a 4-D bottom; see the module docstring for the rules."""
    x = bottoms[0]
    kernel, stride, pad, out = _geometry(tuple(x.shape), pool=pool, kernel=kernel, stride=stride, pad=pad,
                                         global_pooling=global_pooling, round_mode=round_mode)
    height, width = x.shape[2], x.shape[3]
    if pool == "MAX":
        padded = _padded(x, kernel, stride, pad, out, -math.inf)
        if n_tops > 1:
            y, where = F.max_pool2d(padded, kernel, stride, return_indices=True)
            y, where = y[:, :, :out[0], :out[1]], where[:, :, :out[0], :out[1]]
            row = torch.div(where, padded.shape[3], rounding_mode="floor") - pad[0]
            col = where % padded.shape[3] - pad[1]
            mask = (row * width + col).to(torch.float32)
        else:
            y = F.max_pool2d(padded, kernel, stride)[:, :, :out[0], :out[1]]
        empty = torch.isneginf(y)
        if bool(empty.any()):
            y = y.masked_fill(empty, -FLT_MAX)
            if n_tops > 1:
                mask = mask.masked_fill(empty, -1.0)
        return [y, mask] if n_tops > 1 else [y]
    if pool == "AVE":
        if n_tops > 1:
            raise LayerProblem("AVE pooling has no mask top")
        padded = _padded(x, kernel, stride, pad, out, 0.0)
        total = F.avg_pool2d(padded, kernel, stride, divisor_override=1)[:, :, :out[0], :out[1]]
        rows = torch.tensor(ave_divisors(height, kernel[0], stride[0], pad[0], out[0]), dtype=torch.float32)
        cols = torch.tensor(ave_divisors(width, kernel[1], stride[1], pad[1], out[1]), dtype=torch.float32)
        return [total / (rows[:, None] * cols[None, :])]
    raise LayerProblem(f"{pool} pooling is not implemented by Caffe's CPU forward")


def spp_levels(shape: Shape, pyramid_height: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Per pyramid level, (kernel, pad) as SPPLayer::GetPoolingParam computes them (stride = kernel)."""
    levels = []
    for level in range(pyramid_height):
        bins = 2 ** level
        kernel = tuple(math.ceil(n / bins) for n in shape[2:4])
        pad = tuple((k * bins - n + 1) // 2 for k, n in zip(kernel, shape[2:4]))
        levels.append((kernel, pad))
    return levels  # type: ignore[return-value]


def spp_shapes(bottoms: Sequence[Shape], *, pyramid_height: int, pool: str) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    need_axes(shape, 4)
    if pyramid_height <= 0:
        raise LayerProblem("pyramid_height must be positive")
    total = 0
    for kernel, pad in spp_levels(shape, pyramid_height):
        out = pooling_shapes([shape], pool=pool, kernel=kernel, stride=kernel, pad=pad,
                             global_pooling=False, round_mode="CEIL").tops[0]
        if pyramid_height == 1:
            return LayerShapes(tops=(out,))
        total += out[1] * out[2] * out[3]
    return LayerShapes(tops=((shape[0], total),))


def spp(bottoms: Sequence[Tensor], *, pyramid_height: int, pool: str) -> list[Tensor]:
    """Caffe SPP: pooling at 1, 2, 4, ... bins per side, each flattened, concatenated on axis 1."""
    x = bottoms[0]
    outs = []
    for kernel, pad in spp_levels(tuple(x.shape), pyramid_height):
        y = pooling([x], pool=pool, kernel=kernel, stride=kernel, pad=pad, global_pooling=False,
                    round_mode="CEIL")[0]
        if pyramid_height == 1:
            return [y]
        outs.append(y.reshape(y.shape[0], -1))
    return [torch.cat(outs, dim=1)]
