"""A part cut out of a blob, on targets without Silence: a picking Convolution instead of a Slice.

`builders.slice_keep` cuts x[start:end] along an axis as one Slice whose other tops
(`<name>/unused_<lo>_<hi>`) nobody reads; where the target has Silence they end there.  RKNN has
none, and an unread top becomes an extra net output (which it mishandles: `checks.unread_tops`),
so tf_efficientnet_lite's "same" convolutions, ReXNet's and DPN's channel splits were refused.
Here such a Slice of a 4-D blob becomes a Convolution whose weights are 0 and 1:

* channels (axis 1): a 1x1 Convolution, output channel k reads input channel start + k with
  weight 1, every other weight 0;
* rows or columns (axis 2 or 3): a depthwise Convolution with a (L, 1) or (1, L) kernel,
  L = size - (end - start) + 1, weight 1 at tap `start`: output row i is input row start + i.

Each output is 1 x one input plus zeros: exact in float32 and in fp16 (for finite inputs).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from purecaffe.canonical import CaffeLayer, builders
from purecaffe.runtime.layers.base import canonical_axis
from purecaffe.targets.target import Applied, Declined, Outcome, Rule, Target

UNUSED = "/unused_"
# A channel pick costs kept x channels weights; past this many it is declined (the unread top is then refused).
MAX_PICK_WEIGHTS = 1 << 22


def kept_part(layer: CaffeLayer) -> tuple[int, int, int] | None:
    """(axis, start, end) of a `slice_keep` Slice (one kept top, the others its unused parts), else None."""
    if layer.type != "Slice" or len(layer.bottoms) != 1:
        return None
    kept = [i for i, top in enumerate(layer.tops) if not top.name.startswith(layer.name + UNUSED)]
    if len(kept) != 1 or len(layer.tops) < 2:
        return None
    axis = canonical_axis(int(layer.params["axis"]), len(layer.bottoms[0].shape))
    bounds = [0, *(int(p) for p in layer.params["slice_point"]), layer.bottoms[0].shape[axis]]
    return axis, bounds[kept[0]], bounds[kept[0] + 1]


def slice_as_picking_convolution(layer: CaffeLayer, target: Target) -> Outcome:
    """The kept part of a `slice_keep` Slice of a 4-D blob as a 0/1 Convolution, on a target without Silence."""
    part = kept_part(layer)
    if part is None or target.has("Silence") or not target.has("Convolution") or len(layer.bottoms[0].shape) != 4:
        return None
    axis, start, end = part
    x = layer.bottoms[0]
    top = next(t for t in layer.tops if not t.name.startswith(layer.name + UNUSED))
    channels = x.shape[1]
    if axis == 1:
        if (end - start) * channels > MAX_PICK_WEIGHTS:
            return Declined(f"picking {end - start} of {channels} channels takes {(end - start) * channels} "
                            f"weights (more than {MAX_PICK_WEIGHTS})", (end - start) * channels)
        weight = np.zeros((end - start, channels, 1, 1), dtype=np.float32)
        weight[np.arange(end - start), np.arange(start, end), 0, 0] = 1.0
        conv = builders.convolution(layer.name, x, top.name, num_output=end - start, kernel=1, bias_term=False)
    elif axis in (2, 3):
        length = x.shape[axis] - (end - start) + 1
        kernel = (length, 1) if axis == 2 else (1, length)
        weight = np.zeros((channels, 1, *kernel), dtype=np.float32)
        weight[(slice(None), 0, start, 0) if axis == 2 else (slice(None), 0, 0, start)] = 1.0
        conv = builders.convolution(layer.name, x, top.name, num_output=channels, kernel=kernel, group=channels,
                                    bias_term=False)
    else:
        return None
    return Applied((dataclasses.replace(conv.with_weights([weight]), origin=layer.origin),))


RULES: tuple[Rule, ...] = (slice_as_picking_convolution,)

__all__ = ["MAX_PICK_WEIGHTS", "RULES", "kept_part", "slice_as_picking_convolution"]
