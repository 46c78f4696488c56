"""OpenCV DNN's own arithmetic faults, legalized: its fast 3x3 depthwise kernel on small maps.

OpenCV 4.x (CPU backend, float32) runs a Convolution through `initFastConv`
(modules/dnn/src/layers/cpu_kernels/convolution.cpp), which picks its own 3x3 depthwise
kernel (CONV_TYPE_DEPTHWISE) when

    group == num_output == channels > 1, kernel 3x3, stride_w 1 (or 2 with dilation_w 1),
    pad_w <= min(1, max(stride_w, dilation_w)), pad_h <= min(1, max(stride_h, dilation_h)).

That kernel (`depthWiseBlockConv2D` in cpu_kernels/conv_depthwise.cpp and the AVX2/RVV
`fastDepthwiseConv` in conv_depthwise.simd.hpp, the same edge code) is wrong in two places:

* rows: for an output row whose window starts in the top padding (`in_i < 0`) it zeroes the
  top kernel row, and only `else if` the window passes the bottom edge does it zero the
  bottom row, so a window that covers both (pad_h 1 and H <= 2*dilation_h - 1: a 1-row map)
  multiplies the bottom kernel row by whatever lies after the plane (the next channel, or
  garbage: NaN measured);
* columns: with pad_w 1 it computes output column 0 as `in[0]*w01 + in[dilation_w]*w02`, the
  taps of columns 0 and 1, right only for dilation_w 1 and W >= 2 (a dilated kernel reads the
  wrong columns; a 1-column map reads the next row).

Measured with OpenCV 4.14 against PyTorch on 1494 cases (H 1-5 and 20, W 1-5 and 18-24, stride
1-3, pad 0-1 and dilation 1-2 per axis): exactly those cases are wrong, every other one is right to
float32 rounding (tests/targets/test_opencv_rules.py walks the boundary).  Nothing else is
needed: the same layer with any other kernel goes through OpenCV's general depthwise code
(CONV_TYPE_DEPTHWISE_REMAIN), which is right on all of them.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from purecaffe.canonical import CaffeLayer, builders
from purecaffe.runtime.layers.conv import conv_geometry
from purecaffe.targets.rules_recurrent import lstm_in_opencv_blobs
from purecaffe.targets.target import Applied, Declined, Limit, Target


def fast_depthwise_fault(layer: CaffeLayer) -> tuple[bool, bool]:
    """(rows wrong, columns wrong) for a Convolution that OpenCV's fast 3x3 depthwise kernel runs."""
    if layer.type != "Convolution" or len(layer.bottoms[0].shape) != 4:
        return False, False
    params = layer.params
    shape = layer.bottoms[0].shape
    channel_axis, kernel, stride, pad, dilation = conv_geometry(
        shape, kernel=params["kernel"], stride=params["stride"], pad=params["pad"],
        dilation=params["dilation"], axis=params["axis"])
    channels, group = shape[channel_axis], int(params["group"])
    (height, width), (sh, sw), (ph, pw), (dh, dw) = shape[2:], stride, pad, dilation
    fast = (channel_axis == 1 and group > 1 and group == int(params["num_output"]) == channels
            and kernel == (3, 3) and (sw == 1 or (sw == 2 and dw == 1))
            and pw <= min(1, max(sw, dw)) and ph <= min(1, max(sh, dh)))
    if not fast:
        return False, False
    return ph == 1 and height <= 2 * dh - 1, pw == 1 and (dw >= 2 or width == 1)


def depthwise_off_fast_kernel(layer: CaffeLayer, target: Target) -> Applied | Declined | None:
    """A 3x3 depthwise Convolution OpenCV's fast kernel gets wrong -> the same layer with 5 taps
    along the faulty axis (rows if both): a zero tap before and after the three, pad + dilation.

    Output size (in + 2(pad + d) - (4d + 1)) / s + 1 is the 3-tap one; every output sums the same
    products plus zero-weight ones, in OpenCV's general depthwise code: exact to float32 rounding.
    Applied only where `fast_depthwise_fault` holds, so every other layer keeps its fast kernel.
    """
    rows, columns = fast_depthwise_fault(layer)
    if not (rows or columns):
        return None
    axis = 0 if rows else 1
    _, kernel, stride, pad, dilation = conv_geometry(
        layer.bottoms[0].shape, kernel=layer.params["kernel"], stride=layer.params["stride"],
        pad=layer.params["pad"], dilation=layer.params["dilation"], axis=layer.params["axis"])
    new_kernel, new_pad = list(kernel), list(pad)
    new_kernel[axis] = 5
    new_pad[axis] = pad[axis] + dilation[axis]
    made = builders.convolution(layer.name, layer.bottoms[0], layer.top.name,
                                num_output=int(layer.params["num_output"]), kernel=(new_kernel[0], new_kernel[1]),
                                stride=(stride[0], stride[1]), pad=(new_pad[0], new_pad[1]),
                                dilation=(dilation[0], dilation[1]), group=int(layer.params["group"]),
                                bias_term=bool(layer.params["bias_term"]))
    if made.tops != layer.tops:
        return Declined("OpenCV's fast 3x3 depthwise kernel is wrong here, and the 5-tap form would change "
                        "the output size")  # cannot happen (same size by construction): refused, never a wrong file
    weights = list(layer.weights)
    if weights:
        widths = [(0, 0)] * 4
        widths[2 + axis] = (1, 1)
        weights[0] = np.pad(np.asarray(weights[0], dtype=np.float32), widths)
    return Applied((dataclasses.replace(made, weights=tuple(weights), origin=layer.origin),))


RULES = (depthwise_off_fast_kernel, lstm_in_opencv_blobs)

# The same fact as a limit: what `checks` refuses and `lint` reports in a hand-written prototxt.
FAST_DEPTHWISE = Limit(
    frozenset({"Convolution"}), "opencv-fast-depthwise", lambda layer: not any(fast_depthwise_fault(layer)),
    "{target}'s fast 3x3 depthwise kernel reads the wrong taps on this {bottom} map (pad 1 with a 1-row or "
    "1-column map, or a dilated kernel): measured 3e-2 to 2 off, or NaN",
    "OpenCV 4.x cpu_kernels/conv_depthwise.cpp depthWiseBlockConv2D (picked by convolution.cpp initFastConv); "
    "measured with OpenCV 4.14")

__all__ = ["FAST_DEPTHWISE", "RULES", "depthwise_off_fast_kernel", "fast_depthwise_fault"]
