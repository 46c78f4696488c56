"""Broadcast products and sums (two-bottom Scale, Bias) and Scale parameters where a target reads them differently.

Caffe's Scale(x, f) and Bias(x, f) place the second bottom f at axes `axis .. axis + f.ndim` of x
and broadcast it over the rest.  RKNN-Toolkit2 2.5 ignores `axis` (measured in its fp16 simulator,
gate nets of (1, 8, H, W) times a sigmoid map):

===========================  ==========================  ====================================
f, Caffe placement           RKNN reads it as            measured
===========================  ==========================  ====================================
(N, C) at axis 0 (SE gate)   (N, C, 1, 1)                right (cosine 0.9999998)
(W,) at axis 3               numpy's trailing axis       right (cosine 1.0)
(1,) at axis 0               one number                  right (cosine 0.9999998)
(H, W) at axis 2             (H, W, 1, 1)                "Incompatible dimensions" (LEDNet's
                                                         spatial gate); on 8 x 8 with C 8 a
                                                         (8, 4, 8, 8) output instead
(H,) at axis 2               along W                     refused; on 8 x 8: cosine 0.994,
                                                         max error 19 % (silently wrong)
(C,) at axis 1               along W                     refused; with W = C: cosine 0.991
(N, C, H) at axis 0          -                           "Incompatible dimensions"
===========================  ==========================  ====================================

and it has no Bias layer at all.  So where the target refuses a two-bottom Scale
(`limits.RKNN_SCALE_FACTOR_PLACEMENT`), it becomes
Reshape f to x's rank with 1s (`f_full`), Tile f_full along each axis where it has 1 and x more,
Eltwise PROD -- and on a target without Bias, every two-bottom Bias the same with Eltwise SUM.
Tile copies values and the product or sum is the same single operation per element: exact
(measured on RKNN: cosine >= 0.9999998, max error 4e-4 to 9e-4 of max|torch|, fp16's level,
for channel, spatial, row, (H, 1), (1, W) and one-element gates, products and sums).

RKNN also refuses Scale *parameters* off the channel axis (LayerNorm's affine over W or over the
features of (N, L, C) tokens): `scale_params_over_channels` reshapes x so the scaled axes are the
channels, scales them, and reshapes back (measured: cosine 1.0, 5e-4 on (1, 49, 32) tokens).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, builders
from purecaffe.runtime.layers.base import canonical_axis
from purecaffe.targets.limits import RKNN_CHANNEL_PARAMETERS, RKNN_SCALE_FACTOR_PLACEMENT
from purecaffe.targets.target import Applied, Outcome, Rule, Target


def _applied(made: Sequence[CaffeLayer], source: CaffeLayer) -> Applied:
    return Applied(tuple(dataclasses.replace(layer, origin=source.origin) for layer in made))


def full_shape(layer: CaffeLayer) -> tuple[int, ...]:
    """The factor's shape with x's rank: 1s on the axes Caffe broadcasts it over."""
    x, factor = layer.bottoms[0], layer.bottoms[1]
    axis = canonical_axis(int(layer.params["axis"]), len(x.shape))
    return (1,) * axis + tuple(factor.shape) + (1,) * (len(x.shape) - axis - len(factor.shape))


def tiled_factor(layer: CaffeLayer) -> tuple[list[CaffeLayer], Blob]:
    """The layers that copy the factor of a two-bottom Scale/Bias out to x's shape, and that blob."""
    x, factor = layer.bottoms[0], layer.bottoms[1]
    full = full_shape(layer)
    made: list[CaffeLayer] = []
    current = factor
    if tuple(factor.shape) != full:
        made.append(builders.reshape_to(f"{layer.name}/full", factor, f"{layer.name}/full", full))
        current = made[-1].top
    for axis, (have, want) in enumerate(zip(full, x.shape)):
        if have != want:
            name = f"{layer.name}/tile{axis}"
            made.append(builders.tile(name, current, name, axis=axis, tiles=want))
            current = made[-1].top
    return made, current


def _four_axes_at_most(layer: CaffeLayer) -> bool:
    """A Scale of more than 4 axes is first given a 4-D view (`rknn_rules.scale_in_four_axes`); these rules
    then see that."""
    return len(layer.bottoms[0].shape) <= 4


def _tiles(layer: CaffeLayer, target: Target) -> bool:
    return target.has("Tile") and target.has("Eltwise") and len(layer.bottoms) == 2 and _four_axes_at_most(layer) \
        and not (layer.type == "Scale" and layer.params.get("bias_term"))


def scale_as_tiled_product(layer: CaffeLayer, target: Target) -> Outcome:
    """Scale(x, f) in a placement the target reads differently -> Tile f out to x's shape, Eltwise PROD."""
    if layer.type != "Scale" or RKNN_SCALE_FACTOR_PLACEMENT not in target.broken(layer) or not _tiles(layer, target):
        return None
    made, tiled = tiled_factor(layer)
    made.append(builders.eltwise(layer.name, [layer.bottoms[0], tiled], layer.top.name, operation="PROD"))
    return _applied(made, layer)


def bias_as_tiled_sum(layer: CaffeLayer, target: Target) -> Outcome:
    """Bias(x, f) on a target without Bias -> Tile f out to x's shape, Eltwise SUM."""
    if layer.type != "Bias" or target.has("Bias") or not _tiles(layer, target):
        return None
    made, tiled = tiled_factor(layer)
    made.append(builders.eltwise(layer.name, [layer.bottoms[0], tiled], layer.top.name, operation="SUM"))
    return _applied(made, layer)


def _params_on_channels(layer: CaffeLayer) -> bool:
    rank = len(layer.bottoms[0].shape)
    axis, num_axes = canonical_axis(int(layer.params["axis"]), rank), int(layer.params["num_axes"])
    return axis == 1 and (num_axes == 1 or (num_axes == -1 and rank == 2))


def scale_params_over_channels(layer: CaffeLayer, target: Target) -> Outcome:
    """A one-bottom Scale (or Bias, as a Scale of ones with that bias) over axes the target takes no parameters
    on (a "channel-parameters-only" limit: RKNN, e.g. LayerNorm's affine over W; OpenCV, whose fusion into a
    preceding convolution takes one parameter per channel), or a Bias on a target without
    Bias -> Reshape x to (A, B, R, 1), A the axes before, B the scaled ones, R the rest; Scale over channels
    (B); Reshape back.  Reshapes move no value and each element is the same x * gamma + beta: exact.  The view
    is 4-D whatever x's rank (Swin's 5-D attention mask add, (B, windows, heads, N, N) + mask)."""
    if layer.type not in ("Scale", "Bias") or len(layer.bottoms) != 1 or not target.has("Scale") or \
            not target.has("Reshape"):
        return None
    if not any(limit.rule == RKNN_CHANNEL_PARAMETERS.rule for limit in target.broken(layer)) and \
            not (layer.type == "Bias" and not target.has("Bias")):
        return None
    x = layer.bottoms[0]
    rank = len(x.shape)
    axis = canonical_axis(int(layer.params["axis"]), rank)
    num_axes = int(layer.params["num_axes"])
    end = rank if num_axes == -1 else axis + num_axes
    before, covered, after = math.prod(x.shape[:axis]), math.prod(x.shape[axis:end]), math.prod(x.shape[end:])
    weights = [w.reshape(covered) for w in layer.weights]
    if layer.type == "Bias":
        weights = [np.ones(covered, dtype=np.float32), *weights]
    if _params_on_channels(layer):  # a Bias over channels: only the Scale of ones
        return _applied([builders.scale(layer.name, [x], layer.top.name, bias_term=True).with_weights(weights)],
                        layer)
    rows = builders.reshape(f"{layer.name}/rows", x, f"{layer.name}/rows", dims=(before, covered, after, 1))
    scaled = builders.scale(f"{layer.name}/channels", [rows.top], f"{layer.name}/channels",
                            bias_term=len(weights) == 2).with_weights(weights)
    back = builders.reshape_to(layer.name, scaled.top, layer.top.name, x.shape)
    return _applied([rows, scaled, back], layer)


def bias_as_scaled_ones(layer: CaffeLayer, target: Target) -> Outcome:
    """Bias(x, f) on a target without Bias or Tile whose two-bottom Scale broadcasts as Caffe's (OpenCV) ->
    ones = Power(x; power 0), spread = Scale(ones, f) (f copied over x's shape), Eltwise SUM(x, spread).

    Caffe's Power with power 0 fills 1 without reading x (power_layer.cpp; OpenCV's pow(y, 0) is 1 for any
    y, NaN and inf too), 1 * f is f, and x + f is the one sum Bias makes: identical, no weights held
    (a Deconvolution-of-ones copy holds one per copied element; a Concat of copies one bottom per copy).
    """
    if layer.type != "Bias" or len(layer.bottoms) != 2 or target.has("Bias") or target.has("Tile") or \
            not all(target.has(kind) for kind in ("Power", "Scale", "Eltwise")):
        return None
    x, factor = layer.bottoms
    ones = builders.power(f"{layer.name}/ones", x, f"{layer.name}/ones", power=0.0)
    spread = builders.scale(f"{layer.name}/spread", [ones.top, factor], f"{layer.name}/spread",
                            axis=int(layer.params["axis"]), num_axes=int(layer.params["num_axes"]))
    if not target.allows(spread):
        return None
    total = builders.eltwise(layer.name, [x, spread.top], layer.top.name, operation="SUM")
    return _applied([ones, spread, total], layer)


RULES: tuple[Rule, ...] = (scale_as_tiled_product, bias_as_tiled_sum, bias_as_scaled_ones,
                           scale_params_over_channels)

__all__ = ["RULES", "bias_as_scaled_ones", "bias_as_tiled_sum", "full_shape", "scale_as_tiled_product", "scale_params_over_channels",
           "tiled_factor"]
