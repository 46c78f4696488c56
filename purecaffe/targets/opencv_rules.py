"""OpenCV DNN's own arithmetic faults, legalized: its fast 3x3 depthwise kernel on small maps, and its
fusion of a Power into the affine layer after it.

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

With its default fusion (what `forward(names)` runs), OpenCV folds the layer after a Power into it
(`PowerFunctor::tryFuse`, modules/dnn/src/layers/elementwise_layers.cpp) when the Power has no shift
(or power 1) and is read by that one layer only, and that layer gives one scale a and shift b
(`getScaleShift`: a Power of power 1, a Scale or BatchNorm of one channel).  It sets the Power's scale
to s^p a and its shift to b, then computes (s^p a x + b)^p, not a (s x)^p + b: right only for power 1.
Measured with OpenCV 4.14: std over H, W plus 1, `Power(scale 1.029, power 0.5)` then `Power(shift 1)`,
came back 0.23 x max|torch| off; asked for the Power's own top (which OpenCV then keeps) it was right.
So such a Power is followed by a Reshape to its own shape, which gives no scale or shift, so the fusion
stops there (measured: right to float32 rounding; a one-top Split does the same on 4-D blobs, but on a
1-D one OpenCV's next layer then asserts "src.size == dst.size"): `FUSED_POWER`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Sequence

import numpy as np

from purecaffe.canonical import CaffeLayer, builders
from purecaffe.runtime.layers.conv import conv_geometry
from purecaffe.targets.rules_recurrent import lstm_in_opencv_blobs
from purecaffe.targets.target import Applied, Declined, Limit, NetLimit, Target, readers_of


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


def _one_scale_and_shift(layer: CaffeLayer) -> bool:
    """OpenCV's `getScaleShift` gives one scale and one shift for this layer (what a Power fuses)."""
    if layer.type == "Power":
        return float(layer.params["power"]) == 1.0
    if layer.type in ("Scale", "BatchNorm") and len(layer.bottoms) == 1:
        shapes = layer.param_shapes or tuple(np.shape(w) for w in layer.weights)
        return bool(shapes) and math.prod(shapes[0]) == 1
    return False


def fused_powers(layers: Sequence[CaffeLayer]) -> tuple[str, ...]:
    """The Powers OpenCV's fusion computes wrongly: power != 1, no shift, read by one layer that gives
    one scale and shift."""
    readers = readers_of(layers)
    return tuple(layer.name for layer in layers
                 if layer.type == "Power" and float(layer.params["power"]) != 1.0
                 and float(layer.params["shift"]) == 0.0 and len(readers.get(layer.top.name, ())) == 1
                 and _one_scale_and_shift(readers[layer.top.name][0]))


def guard_powers(layers: Sequence[CaffeLayer], names: Collection[str]) -> list[CaffeLayer]:
    """Each named Power followed by a Reshape to the same shape (`<name>/unfused`) that its reader reads
    instead: no value moves; the Power keeps its top (the torch records name it)."""
    guarded: dict[str, str] = {}
    out: list[CaffeLayer] = []
    for layer in layers:
        if guarded:
            layer = layer.renamed({b: guarded[b] for b in layer.bottom_names if b in guarded}) \
                if any(b in guarded for b in layer.bottom_names) else layer
        out.append(layer)
        if layer.name in names:
            name = f"{layer.name}/unfused"
            same = builders.reshape_to(name, layer.top, name, layer.top.shape)
            out.append(dataclasses.replace(same, origin=layer.origin))
            guarded[layer.top.name] = name
    return out


FUSED_POWER = NetLimit(
    "opencv-power-fusion", fused_powers, guard_powers,
    "{target} fuses this Power (power != 1, no shift) with the one-scale affine layer that alone reads it into "
    "(s^p a x + b)^p instead of a (s x)^p + b (measured: 0.23 x max|torch| off)",
    "OpenCV 4.x layers/elementwise_layers.cpp PowerFunctor::tryFuse; measured with OpenCV 4.14")

__all__ = ["FAST_DEPTHWISE", "FUSED_POWER", "RULES", "depthwise_off_fast_kernel", "fast_depthwise_fault",
           "fused_powers", "guard_powers"]
