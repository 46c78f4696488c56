"""Legalization rules that move a computation to a blob shape or form the target reads: a two-bottom
Scale or Bias made a same-shape Eltwise, an InnerProduct over trailing axes made a 2-D one, a Scale on
a 3-D blob made 4-D, a Reduction past 4 axes made 3-D, a rectangular dilation and a grouped
Deconvolution written out.

Measured: MNN 3.6.1's converter reads a Scale's gamma from its blobs only (a two-bottom Scale, the
squeeze-excitation gate, aborts it: "Check failed: w0->blobs_size() >= 1"); tpu-mlir 1.30.2 pads the
second bottom of a two-bottom Scale with trailing 1s, which broadcasts right only from axis 0, has no
Bias, and flattens every InnerProduct's input to (N, K) (an `axis: 2` one fails in `tpuc-opt`).  The
limits are `limits.SOPHGO_LIMITS` and `limits.MNN_LIMITS`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, builders
from purecaffe.runtime.layers.base import canonical_axis
from purecaffe.targets.limits import (BROADCAST, DECONVOLUTION_GROUPS, DILATION_PAIR, ELTWISE_RANK,
                                      INNER_PRODUCT_AXIS, POOLING_AS_GLOBAL, REDUCTION_RANK, SCALE_RANK,
                                      SLICE_POINTS)
from purecaffe.targets.rules import MAX_CONCAT_COPIES
from purecaffe.targets.rules_affine import breaks
from purecaffe.targets.target import Applied, Declined, Outcome, Target

# A broadcast made by a Deconvolution holds one weight per (input channel, output position of
# its window); past this many floats (16 MB) the rewrite is declined.
MAX_BROADCAST_WEIGHTS = 1 << 22


def _part(layer: CaffeLayer, part: str) -> str:
    return f"{layer.name}/{part}"


def _hw(values: Sequence[int], default: int) -> tuple[int, int]:
    """A convolution parameter as (h, w): Caffe's repeated field holds none (the default), one or two."""
    if not values:
        return default, default
    return (int(values[0]), int(values[-1]))


def _origin(layers: Sequence[CaffeLayer], source: CaffeLayer) -> Applied:
    return Applied(tuple(dataclasses.replace(made, origin=source.origin) for made in layers))



def broadcast_layers(name: str, small: Blob, like: Blob, axis: int) -> list[CaffeLayer] | None:
    """`small` (bottom[1] of a Scale/Bias along `axis` of `like`) copied to `like`'s 4-D shape.

    A Reshape to 4-D (1 on every axis it does not cover), then a Deconvolution of ones whose kernel
    spans each broadcast axis (kernel 1 elsewhere; group C when the channels are there, else one input
    channel to C outputs): each output is one input times 1.0, so the copy is exact.  None where it
    cannot be done this way (not 4-D, the batch broadcast, too many weights).
    """
    if len(like.shape) != 4:
        return None
    n, c, h, w = (int(d) for d in like.shape)
    covered = list(small.shape)
    full = [1] * axis + covered + [1] * (4 - axis - len(covered))
    if len(full) != 4 or full[0] != n:
        return None
    c0, h0, w0 = full[1:]
    kernel = (h if h0 == 1 else 1, w if w0 == 1 else 1)
    group = c if c0 == c else 1
    if c0 * (c // group) * kernel[0] * kernel[1] > MAX_BROADCAST_WEIGHTS:
        return None
    made: list[CaffeLayer] = []
    current = small
    if tuple(small.shape) != tuple(full):
        made.append(builders.reshape_to(f"{name}/as4d", small, f"{name}/as4d", full))
        current = made[-1].top
    if tuple(full) == (n, c, h, w):
        return made
    copy = builders.deconvolution(f"{name}/copies", current, f"{name}/copies", num_output=c, kernel=kernel,
                                  group=group, bias_term=False)
    ones = np.ones((c0, c // group, *kernel), dtype=np.float32)
    made.append(copy.with_weights([ones]))
    return made


def broadcast_as_eltwise(layer: CaffeLayer, target: Target) -> Outcome:
    """Scale/Bias of x by a second bottom the target does not broadcast -> that bottom copied to x's
    shape (`broadcast_layers`) and Eltwise PROD/SUM: the same one product or sum per element.  A blob of
    fewer than 4 axes is made 4-D by trailing 1s around it (Reshapes move no value)."""
    if layer.type not in ("Scale", "Bias") or len(layer.bottoms) != 2:
        return None
    if not (breaks(layer, target, BROADCAST) if layer.type == "Scale" else not target.has("Bias")):
        return None
    if layer.type == "Scale" and layer.params["bias_term"]:
        return Declined("a learned beta with a second-bottom gamma has no Eltwise form")
    x, small = layer.bottoms
    if not 1 < len(x.shape) <= 4:
        return Declined(f"the broadcast is built for blobs of 2 to 4 axes (this one: {list(x.shape)})")
    axis = canonical_axis(int(layer.params["axis"]), len(x.shape))
    made: list[CaffeLayer] = []
    wide = x
    if len(x.shape) < 4:
        made.append(builders.reshape_to(_part(layer, "x4d"), x, _part(layer, "x4d"),
                                        (*x.shape, *[1] * (4 - len(x.shape)))))
        wide = made[-1].top
    copies = broadcast_layers(layer.name, small, wide, axis)
    if copies is None:
        return Declined(f"a Deconvolution cannot copy {list(small.shape)} over {list(x.shape)} from axis {axis} "
                        f"(the batch broadcast, or more than {MAX_BROADCAST_WEIGHTS} weights)")
    made += copies
    operation = "PROD" if layer.type == "Scale" else "SUM"
    other = made[-1].top if copies else small
    if wide is x:
        made.append(builders.eltwise(layer.name, [x, other], layer.top.name, operation=operation))
    else:
        combined = _part(layer, "combined")
        made.append(builders.eltwise(combined, [wide, other], combined, operation=operation))
        made.append(builders.reshape_to(layer.name, made[-1].top, layer.top.name, layer.top.shape))
    return _origin(made, layer)


def inner_product_as_2d(layer: CaffeLayer, target: Target) -> Outcome:
    """InnerProduct over the axes from `axis` > 1 -> Reshape to (M, K), InnerProduct (axis 1), Reshape to
    the top's shape: the same dot products (a Reshape moves no value).  Over K = 1: a 1x1 Convolution of
    (M, 1, 1, 1) instead (the same product and bias per output)."""
    if layer.type != "InnerProduct" or not breaks(layer, target, INNER_PRODUCT_AXIS):
        return None
    x = layer.bottoms[0]
    axis = canonical_axis(int(layer.params["axis"]), len(x.shape))
    if axis == 0:
        return Declined("an InnerProduct from axis 0 has no rows to keep")
    rows, depth = math.prod(x.shape[:axis]), math.prod(x.shape[axis:])
    outputs, bias = int(layer.params["num_output"]), bool(layer.params["bias_term"])
    if depth > 1:
        flat = builders.reshape_to(_part(layer, "rows"), x, _part(layer, "rows"), (rows, depth))
        product = builders.inner_product(_part(layer, "product"), flat.top, _part(layer, "product"),
                                         num_output=outputs, axis=1, bias_term=bias)
        weights = layer.weights
    else:
        flat = builders.reshape_to(_part(layer, "rows"), x, _part(layer, "rows"), (rows, 1, 1, 1))
        product = builders.convolution(_part(layer, "product"), flat.top, _part(layer, "product"),
                                       num_output=outputs, kernel=1, bias_term=bias)
        weights = (np.asarray(layer.weights[0], dtype=np.float32).reshape(outputs, 1, 1, 1), *layer.weights[1:])
    back = builders.reshape_to(layer.name, product.top, layer.top.name, layer.top.shape)
    return _origin([flat, product.with_weights(weights), back], layer)


def scale_as_4d(layer: CaffeLayer, target: Target) -> Outcome:
    """A Scale of a blob whose rank the target's Scale refuses (tpu-mlir: 2-D and 4-D only, with one bottom
    or two) -> Reshape to 4-D, the same Scale, Reshape back (a Reshape moves no value).  A channel Scale
    takes (N, C, rest, 1); a second bottom y broadcast from axis 0 takes x's shape padded with 1s (or its
    axes past y's and past the third merged), so y still meets x's leading axes."""
    if layer.type != "Scale" or not breaks(layer, target, SCALE_RANK):
        return None
    x = layer.bottoms[0]
    axis, num_axes = int(layer.params["axis"]), int(layer.params["num_axes"])
    if len(layer.bottoms) == 2:
        lead = len(layer.bottoms[1].shape)
        if canonical_axis(axis, len(x.shape)) != 0 or lead > 3 or not x.shape:
            return Declined(f"only a second bottom broadcast from axis 0 over at most 3 axes moves to 4-D (this "
                            f"one: axis {axis}, {list(layer.bottoms[1].shape)} over {list(x.shape)})")
        shape = tuple(x.shape)
        four = shape + (1,) * (4 - len(shape)) if len(shape) < 4 else (*shape[:3], math.prod(shape[3:]))
    elif len(x.shape) < 2 or axis != 1 or num_axes != 1:
        return Declined(f"only a channel Scale moves to 4-D (this one: axis {layer.params['axis']}, "
                        f"{layer.params['num_axes']} axes of {list(x.shape)})")
    else:
        four = (x.shape[0], x.shape[1], math.prod(x.shape[2:]), 1)
    flat = builders.reshape_to(_part(layer, "as4d"), x, _part(layer, "as4d"), four)
    inner = _part(layer, "scaled")
    scaled = builders.scale(inner, [flat.top, *layer.bottoms[1:]], inner, axis=axis if len(layer.bottoms) == 2 else 1,
                            num_axes=num_axes if len(layer.bottoms) == 2 else 1,
                            bias_term=bool(layer.params["bias_term"]))
    back = builders.reshape_to(layer.name, scaled.top, layer.top.name, layer.top.shape)
    return _origin([flat, scaled.with_weights(layer.weights), back], layer)


def reduction_as_lower_rank(layer: CaffeLayer, target: Target) -> Outcome:
    """A Reduction of a blob with more axes than the target reduces (MNN: 4) -> Reshape to (N, M, L) (or
    (N, L) from axis 1), the same Reduction from the axis that holds L, Reshape to the top's shape: the
    same elements in the same order are reduced (a Reshape moves no value)."""
    if layer.type != "Reduction" or not breaks(layer, target, REDUCTION_RANK):
        return None
    x = layer.bottoms[0]
    axis = canonical_axis(int(layer.params["axis"]), len(x.shape))
    if axis == 0:
        return Declined("a Reduction of every axis (from 0) has no leading axis to keep")
    lower = (x.shape[0], math.prod(x.shape[axis:])) if axis == 1 else \
        (x.shape[0], math.prod(x.shape[1:axis]), math.prod(x.shape[axis:]))
    flat = builders.reshape_to(_part(layer, "lower"), x, _part(layer, "lower"), lower)
    inner = _part(layer, "reduced")
    reduced = builders.reduction(inner, flat.top, inner, operation=layer.params["operation"], axis=len(lower) - 1,
                                 coeff=float(layer.params["coeff"]))
    back = builders.reshape_to(layer.name, reduced.top, layer.top.name, layer.top.shape)
    return _origin([flat, reduced, back], layer)


def rectangular_dilation_as_dense_kernel(layer: CaffeLayer, target: Target) -> Outcome:
    """A Convolution dilated differently along H and W, for targets that read Caffe's two-valued `dilation`
    as [W, H] (MNN and tpu-mlir both: it has no dilation_h/dilation_w to spell it otherwise) -> the same
    Convolution with the dilated kernel written out (zeros between the taps) and dilation 1: the same
    products, plus products by zero, which add nothing (finite inputs)."""
    if layer.type != "Convolution" or not breaks(layer, target, DILATION_PAIR):
        return None
    params = layer.params
    dilation = _hw(params["dilation"], 1)
    weight = np.asarray(layer.weights[0], dtype=np.float32)
    kh, kw = weight.shape[2:]
    dense = np.zeros((*weight.shape[:2], dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1), np.float32)
    dense[:, :, ::dilation[0], ::dilation[1]] = weight
    conv = builders.convolution(layer.name, layer.bottoms[0], layer.top.name, num_output=int(params["num_output"]),
                                kernel=dense.shape[2:], stride=_hw(params["stride"], 1), pad=_hw(params["pad"], 0),
                                group=int(params["group"]), bias_term=bool(params["bias_term"]))
    return _origin([conv.with_weights([dense, *layer.weights[1:]])], layer)


def full_max_pooling_as_two(layer: CaffeLayer, target: Target) -> Outcome:
    """A stride-1 "same" MAX Pooling whose k x k kernel equals its input (YOLO's SPPF on a small map), for a
    target that reads that as global -> a 3 x 3 pad-1 Pooling, then a (k-2) x (k-2) pad-(k-3)/2 one: the
    max over each clipped k x k window is the max over the clipped 3 x 3 windows' maxima (identical)."""
    if layer.type != "Pooling" or not breaks(layer, target, POOLING_AS_GLOBAL):
        return None
    params = layer.params
    k = int(params["kernel"][0])
    if params["pool"] != "MAX" or len(set(params["kernel"])) != 1 or k < 5 or k % 2 == 0 or \
            tuple(params["stride"]) != (1, 1) or tuple(params["pad"]) != ((k - 1) // 2,) * 2:
        return Declined("only a stride-1 MAX Pooling with an odd kernel >= 5 and (k - 1) / 2 padding splits exactly")
    first = builders.pooling(_part(layer, "first"), layer.bottoms[0], _part(layer, "first"), method="MAX", kernel=3,
                             stride=1, pad=1, round_mode=params["round_mode"])
    second = builders.pooling(layer.name, first.top, layer.top.name, method="MAX", kernel=k - 2, stride=1,
                              pad=(k - 3) // 2, round_mode=params["round_mode"])
    return _origin([first, second], layer)


def even_slice_as_points(layer: CaffeLayer, target: Target) -> Outcome:
    """A Slice into equal parts (no slice_point), for a target that needs the points (MNN crashes) -> the
    same Slice with its points written out (Caffe's equal split: identical)."""
    if layer.type != "Slice" or not breaks(layer, target, SLICE_POINTS):
        return None
    x = layer.bottoms[0]
    axis = canonical_axis(int(layer.params["axis"]), len(x.shape))
    size = x.shape[axis] // len(layer.tops)
    points = [size * (k + 1) for k in range(len(layer.tops) - 1)]
    cut = builders.slice_layer(layer.name, x, list(layer.top_names), axis=int(layer.params["axis"]), slice_point=points)
    return _origin([cut], layer)


def grouped_deconvolution_as_groups(layer: CaffeLayer, target: Target) -> Outcome:
    """A grouped Deconvolution with several outputs per group, where the target reads only one per group
    (tpu-mlir permutes the weight as if group were 1) -> Slice the input by group, one Deconvolution per
    group (group 1, its slice of the weights), Concat: the same products and sums."""
    if layer.type != "Deconvolution" or not breaks(layer, target, DECONVOLUTION_GROUPS):
        return None
    params = layer.params
    group, outputs = int(params["group"]), int(params["num_output"])
    x = layer.bottoms[0]
    per_in, per_out = x.shape[1] // group, outputs // group
    parts = [f"{layer.name}/in{g}" for g in range(group)]
    made: list[CaffeLayer] = [builders.slice_layer(_part(layer, "split"), x, parts, axis=1)]
    weight, bias = layer.weights[0], (layer.weights[1] if params["bias_term"] else None)
    tops = []
    for g, part in enumerate(made[0].tops):
        name = f"{layer.name}/group{g}"
        deconv = builders.deconvolution(name, part, name, num_output=per_out, kernel=_hw(params["kernel"], 1),
                                        stride=_hw(params["stride"], 1), pad=_hw(params["pad"], 0),
                                        dilation=_hw(params["dilation"], 1), bias_term=bias is not None)
        blobs = [weight[g * per_in:(g + 1) * per_in]]
        if bias is not None:
            blobs.append(bias[g * per_out:(g + 1) * per_out])
        made.append(deconv.with_weights(blobs))
        tops.append(deconv.top)
    made.append(builders.concat(layer.name, tops, layer.top.name, axis=1))
    return _origin(made, layer)


def tile_of_one_as_convolution(layer: CaffeLayer, target: Target) -> Outcome:
    """Tile of a one-channel blob along the channels (an `expand_as` of a per-position norm), where the target
    has no Tile and the copies are more than one Concat takes (one layer rather than a tree of Concats) -> a
    1x1 Convolution with weights 1 and no bias, in 4-D (a Reshape around it for 2-D and 3-D blobs): each
    output is 1 x the one input, exact."""
    if layer.type != "Tile" or target.allows(layer) or not target.has("Convolution"):
        return None
    x = layer.bottoms[0]
    tiles = int(layer.params["tiles"])
    if canonical_axis(int(layer.params["axis"]), len(x.shape)) != 1 or not 2 <= len(x.shape) <= 4 \
            or int(x.shape[1]) != 1 or tiles <= MAX_CONCAT_COPIES:
        return None
    shape = tuple(int(d) for d in x.shape)
    four = shape + (1,) * (4 - len(shape))
    made: list[CaffeLayer] = []
    current = x
    if four != shape:
        made.append(builders.reshape_to(_part(layer, "as4d"), x, _part(layer, "as4d"), four))
        current = made[-1].top
    inner = _part(layer, "copies") if four != shape else layer.name
    conv = builders.convolution(inner, current, inner if four != shape else layer.top.name, num_output=tiles,
                                kernel=1, bias_term=False)
    made.append(conv.with_weights([np.ones((tiles, 1, 1, 1), dtype=np.float32)]))
    if four != shape:
        made.append(builders.reshape_to(layer.name, made[-1].top, layer.top.name, layer.top.shape))
    return _origin(made, layer)


def eltwise_as_4d(layer: CaffeLayer, target: Target) -> Outcome:
    """An Eltwise of blobs with more axes than the target's Eltwise runs (OpenCV: 5) -> every bottom through a
    Reshape to (N, C, rest, 1), the same Eltwise, a Reshape back: its bottoms have one shape, so the same
    elements meet in the same order (a Reshape moves no value) and each output is the same one operation."""
    if layer.type != "Eltwise" or not breaks(layer, target, ELTWISE_RANK):
        return None
    shape = tuple(int(d) for d in layer.top.shape)
    four = (shape[0], shape[1], math.prod(shape[2:]), 1)
    flats = [builders.reshape_to(_part(layer, f"as4d{i}"), bottom, _part(layer, f"as4d{i}"), four)
             for i, bottom in enumerate(layer.bottoms)]
    inner = _part(layer, "flat")
    combined = builders.eltwise(inner, [flat.top for flat in flats], inner,
                                operation=str(layer.params["operation"]), coeff=tuple(layer.params.get("coeff") or ()))
    back = builders.reshape_to(layer.name, combined.top, layer.top.name, layer.top.shape)
    return _origin([*flats, combined, back], layer)


__all__ = ["MAX_BROADCAST_WEIGHTS", "broadcast_as_eltwise", "broadcast_layers", "eltwise_as_4d", "even_slice_as_points",
           "full_max_pooling_as_two", "grouped_deconvolution_as_groups", "inner_product_as_2d",
           "rectangular_dilation_as_dense_kernel", "reduction_as_lower_rank", "scale_as_4d",
           "tile_of_one_as_convolution"]
