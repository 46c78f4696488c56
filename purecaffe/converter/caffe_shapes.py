"""Caffe's output-size arithmetic, as plain integer functions (BVLC master sources).

`builders` uses these to know each emitted top's shape, so `ctx.emit` can
check it against the captured torch shape.  They say what *Caffe* computes,
which is the point: a lowering that picks the wrong rounding fails here at
conversion time instead of producing a file that loads and is off.
"""
from __future__ import annotations

import math

from purecaffe.errors import ShapeError


def conv_out(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """ConvolutionLayer::compute_output_shape: (H + 2p - (d(k-1)+1)) / s + 1, integer division."""
    extent = dilation * (kernel - 1) + 1
    out = (size + 2 * pad - extent) // stride + 1
    if out <= 0:
        raise ShapeError(f"convolution output size {out} <= 0 (input {size}, kernel {kernel}, pad {pad})")
    return out


def deconv_out(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """DeconvolutionLayer::compute_output_shape: s(H-1) + d(k-1)+1 - 2p."""
    out = stride * (size - 1) + dilation * (kernel - 1) + 1 - 2 * pad
    if out <= 0:
        raise ShapeError(f"deconvolution output size {out} <= 0")
    return out


def pool_out(size: int, kernel: int, stride: int, pad: int, *, ceil: bool, any_pad: bool) -> int:
    """PoolingLayer::Reshape.

    ceil (or floor with round_mode FLOOR) of (H + 2p - k)/s, plus one; then, if
    the layer has any padding (pad_h or pad_w), minus one when the last window
    would start at or beyond H + p.
    """
    if pad >= kernel:
        raise ShapeError(f"Caffe pooling needs pad < kernel (pad {pad}, kernel {kernel})")
    span = size + 2 * pad - kernel
    out = (math.ceil(span / stride) if ceil else span // stride) + 1
    if any_pad and (out - 1) * stride >= size + pad:
        out -= 1
    if out <= 0:
        raise ShapeError(f"pooling output size {out} <= 0 (input {size}, kernel {kernel})")
    return out


def canonical_axis(axis: int, rank: int) -> int:
    """Blob::CanonicalAxisIndex: negative axes count from the end."""
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} out of range for a blob of rank {rank}")
    return axis % rank
