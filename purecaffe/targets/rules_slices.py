"""A part cut out of a blob, on targets without Silence: a picking Convolution instead of a Slice.

`builders.slice_keep` cuts x[start:end] along an axis as one Slice whose other tops
(`<name>/unused_<lo>_<hi>`) nobody reads; where the target has Silence they end there.  RKNN has
none, and an unread top becomes an extra net output (which it mishandles: `checks.unread_tops`),
so tf_efficientnet_lite's "same" convolutions, ReXNet's and DPN's channel splits were refused, and
so were the pads (`lowerings/pad.py` cuts out the rows its border copies; the others are unused parts:
BlazeFace's channel pad, Real-CUGAN's reflect pad, KeyNet's Sobel pad).  Here each kept part of such a
Slice becomes a Convolution whose weights are 0 and 1 (a blob that is not 4-D, or cut along its batch
axis, is cut as the 4-D (1, product of the axes before, the axis, product of the axes after), through
Reshapes):

* channels (axis 1): a 1x1 Convolution, output channel k reads input channel start + k with
  weight 1, every other weight 0;
* rows or columns (axis 2 or 3): a depthwise Convolution with a (L, 1) or (1, L) kernel,
  L = size - (end - start) + 1, weight 1 at tap `start`: output row i is input row start + i.

Each output is 1 x one input plus zeros: exact in float32 and in fp16 (for finite inputs).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, builders
from purecaffe.runtime.layers.base import canonical_axis
from purecaffe.targets.target import Applied, Declined, Outcome, Rule, Target

UNUSED = "/unused_"
# A channel pick costs kept x channels weights; past this many it is declined (the unread top is then refused).
MAX_PICK_WEIGHTS = 1 << 22


def kept_parts(layer: CaffeLayer) -> tuple[int, list[tuple[int, int, Blob]]] | None:
    """(axis, [(start, end, top), ...]) of the kept tops of a Slice with unused parts (tops named
    `<name>/unused_<lo>_<hi>`, as `builders.slice_keep` and the pad lowering name the rows nobody reads),
    else None."""
    if layer.type != "Slice" or len(layer.bottoms) != 1 or len(layer.tops) < 2:
        return None
    axis = canonical_axis(int(layer.params["axis"]), len(layer.bottoms[0].shape))
    size = int(layer.bottoms[0].shape[axis])
    points = [int(p) for p in layer.params["slice_point"]] or \
        [size // len(layer.tops) * k for k in range(1, len(layer.tops))]  # Caffe's equal parts
    bounds = [0, *points, size]
    if len(bounds) != len(layer.tops) + 1:
        return None
    kept = [(bounds[i], bounds[i + 1], top) for i, top in enumerate(layer.tops)
            if not top.name.startswith(layer.name + UNUSED)]
    if not kept or len(kept) == len(layer.tops):
        return None
    return axis, kept


def kept_part(layer: CaffeLayer) -> tuple[int, int, int] | None:
    """(axis, start, end) of a `slice_keep` Slice (one kept top, the others its unused parts), else None."""
    parts = kept_parts(layer)
    if parts is None or len(parts[1]) != 1:
        return None
    axis, ((start, end, _),) = parts
    return axis, start, end


def slice_as_picking_convolution(layer: CaffeLayer, target: Target) -> Outcome:
    """The kept parts of a Slice with unused parts as 0/1 Convolutions, one per part, on a target without
    Silence.  A blob that is not 4-D, or cut along its batch axis, is picked from as the 4-D
    (1, product of the axes before, the axis, product of the axes after) through Reshapes."""
    parts = kept_parts(layer)
    if parts is None or target.has("Silence") or not target.has("Convolution"):
        return None
    axis, kept = parts
    x = layer.bottoms[0]
    shape = tuple(int(d) for d in x.shape)
    direct = len(shape) == 4 and axis in (1, 2, 3)
    if not direct and not target.has("Reshape"):
        return None
    picked_axis = axis if direct else 2
    channels = shape[1] if direct else math.prod(shape[:axis])
    if picked_axis == 1:
        weights = sum(end - start for start, end, _ in kept) * channels
        if weights > MAX_PICK_WEIGHTS:
            return Declined(f"picking {len(kept)} parts of {channels} channels takes {weights} weights (more than "
                            f"{MAX_PICK_WEIGHTS})", weights)
    made: list[CaffeLayer] = []
    source = x
    if not direct:
        as4d = (1, channels, shape[axis], math.prod(shape[axis + 1:]))
        made.append(builders.reshape_to(f"{layer.name}/as4d", x, f"{layer.name}/as4d", as4d))
        source = made[-1].top
    for start, end, top in kept:
        one = len(kept) == 1
        name = layer.name if one and direct else f"{layer.name}/pick_{start}_{end}"
        picked = top.name if direct else f"{layer.name}/pick_{start}_{end}"
        made.append(_pick(name, source, picked, picked_axis, start, end))
        if not direct:
            made.append(builders.reshape_to(layer.name if one else f"{layer.name}/part_{start}_{end}",
                                            made[-1].top, top.name, tuple(int(d) for d in top.shape)))
    return Applied(tuple(dataclasses.replace(m, origin=layer.origin) for m in made))


def _pick(name: str, x: Blob, top: str, axis: int, start: int, end: int) -> CaffeLayer:
    """x[start:end] along axis 1, 2 or 3 of a 4-D blob as one Convolution of 0/1 weights."""
    channels = x.shape[1]
    if axis == 1:
        weight = np.zeros((end - start, channels, 1, 1), dtype=np.float32)
        weight[np.arange(end - start), np.arange(start, end), 0, 0] = 1.0
        conv = builders.convolution(name, x, top, num_output=end - start, kernel=1, bias_term=False)
    else:
        length = x.shape[axis] - (end - start) + 1
        kernel = (length, 1) if axis == 2 else (1, length)
        weight = np.zeros((channels, 1, *kernel), dtype=np.float32)
        weight[(slice(None), 0, start, 0) if axis == 2 else (slice(None), 0, 0, start)] = 1.0
        conv = builders.convolution(name, x, top, num_output=channels, kernel=kernel, group=channels,
                                    bias_term=False)
    return conv.with_weights([weight])


RULES: tuple[Rule, ...] = (slice_as_picking_convolution,)

__all__ = ["MAX_PICK_WEIGHTS", "RULES", "kept_part", "kept_parts", "slice_as_picking_convolution"]
