"""Convolution, Deconvolution (and the DepthwiseConvolution fork type, a grouped Convolution).

Caffe semantics (src/caffe/layers/base_conv_layer.cpp, conv_layer.cpp, deconv_layer.cpp):

* `axis` (default 1) is the channel axis; every axis before it is batch-like, every axis
  after it is spatial (1-D, 2-D and 3-D here).
* kernel/stride/pad/dilation are given once, once per spatial axis, or as `*_h`/`*_w` (2-D).
* Convolution output: `(in + 2*pad - (dilation*(kernel-1)+1)) // stride + 1` (floor).
  Deconvolution output: `stride*(in-1) + dilation*(kernel-1)+1 - 2*pad` (no output_padding).
* Weights: Convolution `(num_output, channels/group, *kernel)`; Deconvolution
  `(channels, num_output/group, *kernel)` (same layout as torch's ConvTranspose); bias `(num_output,)`.
* Several bottoms are allowed; each gives one top through the same weights.

The arithmetic is torch's float32 conv kernels, fed Caffe's explicitly computed geometry.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F

from purecaffe.runtime.layers.base import (LayerProblem, LayerShapes, Shape, Tensor, canonical_axis,
                                           format_shape, need_bottoms)

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_DECONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _per_axis(values: tuple[int, ...], n: int, default: int, what: str) -> tuple[int, ...]:
    if not values:
        return (default,) * n
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise LayerProblem(f"{what} must be specified once, or once per spatial dimension "
                           f"({what} specified {len(values)} times; {n} spatial dims)")
    return values


def conv_geometry(shape: Shape, *, kernel: tuple[int, ...], stride: tuple[int, ...], pad: tuple[int, ...],
                  dilation: tuple[int, ...], axis: int
                  ) -> tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(channel axis, kernel, stride, pad, dilation), each per spatial axis, as Caffe resolves them."""
    channel_axis = canonical_axis(axis, len(shape))
    n = len(shape) - channel_axis - 1
    if n not in _CONV:
        raise LayerProblem(f"{n} spatial axes after channel axis {channel_axis} of {format_shape(shape)}; "
                           f"the runtime handles 1 to 3")
    if not kernel:
        raise LayerProblem("kernel_size is not set")
    kernel = _per_axis(kernel, n, 1, "kernel_size")
    stride = _per_axis(stride, n, 1, "stride")
    pad = _per_axis(pad, n, 0, "pad")
    dilation = _per_axis(dilation, n, 1, "dilation")
    if min(kernel) <= 0:
        raise LayerProblem("filter dimensions must be nonzero")
    if min(stride) <= 0:
        raise LayerProblem("stride dimensions must be nonzero")
    return channel_axis, kernel, stride, pad, dilation


def _weights_shapes(shape: Shape, channel_axis: int, kernel: tuple[int, ...], *, num_output: int, group: int,
                    bias_term: bool, reverse: bool) -> tuple[Shape, ...]:
    channels = shape[channel_axis]
    if num_output <= 0:
        raise LayerProblem("num_output must be positive")
    if group <= 0 or channels % group:
        raise LayerProblem(f"input channels {channels} are not a multiple of group {group}")
    if num_output % group:
        raise LayerProblem(f"num_output {num_output} is not a multiple of group {group}")
    out_channels, in_channels = (channels, num_output) if reverse else (num_output, channels)
    weight = (out_channels, in_channels // group, *kernel)
    return (weight, (num_output,)) if bias_term else (weight,)


def _shapes(bottoms: Sequence[Shape], *, reverse: bool, num_output: int, bias_term: bool,
            kernel: tuple[int, ...], stride: tuple[int, ...], pad: tuple[int, ...], dilation: tuple[int, ...],
            group: int, axis: int) -> LayerShapes:
    need_bottoms(bottoms, 1, -1)
    shape = bottoms[0]
    for i, other in enumerate(bottoms[1:], 1):
        if other != shape:
            raise LayerProblem(f"bottom 0 {format_shape(shape)} and bottom {i} {format_shape(other)} differ")
    channel_axis, kernel, stride, pad, dilation = conv_geometry(
        shape, kernel=kernel, stride=stride, pad=pad, dilation=dilation, axis=axis)
    spatial = []
    for size, k, s, p, d in zip(shape[channel_axis + 1:], kernel, stride, pad, dilation):
        extent = d * (k - 1) + 1
        out = s * (size - 1) + extent - 2 * p if reverse else (size + 2 * p - extent) // s + 1
        if out <= 0:
            raise LayerProblem(f"output size {out} <= 0 for input {size}, kernel {k}, stride {s}, "
                               f"pad {p}, dilation {d} (bottom {format_shape(shape)})")
        spatial.append(out)
    top = (*shape[:channel_axis], num_output, *spatial)
    params = _weights_shapes(shape, channel_axis, kernel, num_output=num_output, group=group,
                             bias_term=bias_term, reverse=reverse)
    return LayerShapes(tops=(top,) * len(bottoms), params=params)


def convolution_shapes(bottoms: Sequence[Shape], *, num_output: int, bias_term: bool, kernel: tuple[int, ...],
                       stride: tuple[int, ...], pad: tuple[int, ...], dilation: tuple[int, ...], group: int,
                       axis: int) -> LayerShapes:
    return _shapes(bottoms, reverse=False, num_output=num_output, bias_term=bias_term, kernel=kernel,
                   stride=stride, pad=pad, dilation=dilation, group=group, axis=axis)


def deconvolution_shapes(bottoms: Sequence[Shape], *, num_output: int, bias_term: bool, kernel: tuple[int, ...],
                         stride: tuple[int, ...], pad: tuple[int, ...], dilation: tuple[int, ...], group: int,
                         axis: int) -> LayerShapes:
    return _shapes(bottoms, reverse=True, num_output=num_output, bias_term=bias_term, kernel=kernel,
                   stride=stride, pad=pad, dilation=dilation, group=group, axis=axis)


def _run(bottoms: Sequence[Tensor], blobs: Sequence[Tensor], *, reverse: bool, num_output: int,
         bias_term: bool, kernel: tuple[int, ...], stride: tuple[int, ...], pad: tuple[int, ...],
         dilation: tuple[int, ...], group: int, axis: int) -> list[Tensor]:
    shape = tuple(bottoms[0].shape)
    channel_axis, kernel, stride, pad, dilation = conv_geometry(
        shape, kernel=kernel, stride=stride, pad=pad, dilation=dilation, axis=axis)
    weight = blobs[0]
    bias = blobs[1] if bias_term else None
    op = (_DECONV if reverse else _CONV)[len(kernel)]
    tops = []
    for x in bottoms:
        lead = x.shape[:channel_axis]
        batched = x.reshape(-1, *x.shape[channel_axis:])
        if reverse:
            y = op(batched, weight, bias, stride=stride, padding=pad, output_padding=0, groups=group,
                   dilation=dilation)
        else:
            y = op(batched, weight, bias, stride=stride, padding=pad, dilation=dilation, groups=group)
        tops.append(y.reshape(*lead, *y.shape[1:]))
    return tops


def convolution(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], num_output: int, bias_term: bool,
                kernel: tuple[int, ...], stride: tuple[int, ...], pad: tuple[int, ...],
                dilation: tuple[int, ...], group: int, axis: int) -> list[Tensor]:
    """Caffe Convolution (cross-correlation, symmetric zero padding per axis, floor output size)."""
    return _run(bottoms, blobs, reverse=False, num_output=num_output, bias_term=bias_term, kernel=kernel,
                stride=stride, pad=pad, dilation=dilation, group=group, axis=axis)


def deconvolution(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], num_output: int, bias_term: bool,
                  kernel: tuple[int, ...], stride: tuple[int, ...], pad: tuple[int, ...],
                  dilation: tuple[int, ...], group: int, axis: int) -> list[Tensor]:
    """Caffe Deconvolution: the transpose of Convolution, output `stride*(in-1) + extent - 2*pad`."""
    return _run(bottoms, blobs, reverse=True, num_output=num_output, bias_term=bias_term, kernel=kernel,
                stride=stride, pad=pad, dilation=dilation, group=group, axis=axis)


__all__ = ["conv_geometry", "convolution", "convolution_shapes", "deconvolution", "deconvolution_shapes"]
