"""Legalization rules for a consumer with LRN but no Power or ELU (sophgo: tpu-mlir's Caffe front end raises
"not implemented" for every Power and has no ELU).

An LRN of local_size 1, alpha 1 and k 0 computes y * (0 + y^2)^-beta = sign(y) |y|^(1 - 2 beta): so
beta = (1 - p) / 2 gives y^p (measured on tpu-mlir 1.30.2's top-level interpreter: rsqrt, reciprocal and
square root within 1.2e-7 of float64, elementwise; its LRN is Caffe's own layer, which wants 4 axes).
That is PyTorch's y^p wherever PyTorch's is a number: everywhere for an odd integer p (the sign is y's);
for y > 0 for another p (PyTorch's is NaN for y < 0); and at y = 0 for p >= 1 (0 * 0).  At y = 0 a
negative p gives NaN where PyTorch gives inf; 0 < p < 1 would give NaN where PyTorch gives 0 (a square
root of a ReLU's zeros), so those are declined, as are even integers other than 2 (|y|^p's sign is y's).
Compiled for a chip, the LRN is right on CV18xx (BF16, measured); BM1684X's and BM1688's code generation
asserts on an LRN of few values, which per-row statistics are (README: tpu-mlir's quirks).

ELU then needs only ReLU, Sigmoid and a reciprocal: with r = relu(-x), s = sigmoid(r) = 1 / (1 + e^min(x, 0))
so 1 / s - 2 = e^min(x, 0) - 1, and elu(x) = relu(x) + alpha (1 / s - 2).  Every step is one float32
rounding of a value in [0.5, 2] or of x itself: within a few ulps of alpha (2.4e-7 alpha absolute) of
PyTorch's expm1; where e^min(x, 0) underflows (x < -17) s is 1 and the negative part is -alpha exactly.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from purecaffe.canonical import CaffeLayer, builders
from purecaffe.targets.target import Applied, Declined, Outcome, Target


def _part(layer: CaffeLayer, part: str) -> str:
    return f"{layer.name}/{part}"


def _origin(layers: Sequence[CaffeLayer], source: CaffeLayer) -> Applied:
    return Applied(tuple(dataclasses.replace(made, origin=source.origin) for made in layers))


def lrn_exponent(power: float) -> str | None:
    """Why y^power has no exact LRN form (None: it has one)."""
    if power in (1.0, 2.0):
        return "a plain Scale or product"  # power_as_scale's forms
    if power == int(power) and int(power) % 2 == 0:
        return f"y^{power:g} is even in y, and LRN's y (y^2)^-beta takes y's sign"
    if 0.0 < power < 1.0:
        return f"y^{power:g} through LRN is NaN at y = 0 (0 x 0^-beta), where PyTorch gives 0"
    return None


def power_as_lrn(layer: CaffeLayer, target: Target) -> Outcome:
    """Power (shift + scale x)^p where the target has no Power but LRN: the affine part as a Power (which
    `power_as_scale` makes a Scale), then an LRN of local_size 1, alpha 1, k 0, beta (1 - p) / 2, in 4-D
    (the blob's shape with trailing 1s, or its last axes merged: the window is one value, any layout
    gives the same values)."""
    if layer.type != "Power" or target.has("Power") or not target.has("LRN"):
        return None
    power, scale, shift = (float(layer.params[k]) for k in ("power", "scale", "shift"))
    if power in (1.0, 2.0):
        return None
    why = lrn_exponent(power)
    if why is not None:
        return Declined(f"no exact form without Power: {why}")
    x = layer.bottoms[0]
    if not x.shape:
        return Declined("a 0-D blob has no 4-D form for LRN")
    made: list[CaffeLayer] = []
    if (scale, shift) != (1.0, 0.0):
        made.append(builders.power(_part(layer, "affine"), x, _part(layer, "affine"), scale=scale, shift=shift))
        x = made[-1].top
    shape = tuple(int(d) for d in x.shape)
    as4d = shape + (1,) * (4 - len(shape)) if len(shape) <= 4 else (*shape[:3], _product(shape[3:]))
    if as4d != shape:
        made.append(builders.reshape_to(_part(layer, "as4d"), x, _part(layer, "as4d"), as4d))
        x = made[-1].top
    name = _part(layer, "lrn") if as4d != shape else layer.name
    made.append(builders.lrn(name, x, name if as4d != shape else layer.top.name, local_size=1, alpha=1.0,
                             beta=(1.0 - power) / 2.0, k=0.0))
    if as4d != shape:
        made.append(builders.reshape_to(layer.name, made[-1].top, layer.top.name, shape))
    return _origin(made, layer)


def _product(values: Sequence[int]) -> int:
    total = 1
    for value in values:
        total *= value
    return total


def elu_as_sigmoid(layer: CaffeLayer, target: Target) -> Outcome:
    """ELU where the target has none: relu(x) + alpha (1 / sigmoid(relu(-x)) - 2) (the module says why that
    is exact); the negation, the reciprocal and the affine step as Powers, which `power_as_scale` and
    `power_as_lrn` then legalize."""
    if layer.type != "ELU" or target.has("ELU") or not all(target.has(t) for t in ("ReLU", "Sigmoid", "Eltwise")):
        return None
    alpha = float(layer.params["alpha"])
    x = layer.bottoms[0]
    negated = builders.power(_part(layer, "neg"), x, _part(layer, "neg"), scale=-1.0)
    below = builders.relu(_part(layer, "below"), negated.top, _part(layer, "below"))
    gate = builders.sigmoid(_part(layer, "gate"), below.top, _part(layer, "gate"))
    inverse = builders.power(_part(layer, "inverse"), gate.top, _part(layer, "inverse"), power=-1.0)
    negative = builders.power(_part(layer, "negative"), inverse.top, _part(layer, "negative"), scale=alpha,
                              shift=-2.0 * alpha)
    positive = builders.relu(_part(layer, "positive"), x, _part(layer, "positive"))
    total = builders.eltwise(layer.name, [positive.top, negative.top], layer.top.name, operation="SUM")
    return _origin([negated, below, gate, inverse, negative, positive, total], layer)


__all__ = ["elu_as_sigmoid", "lrn_exponent", "power_as_lrn"]
