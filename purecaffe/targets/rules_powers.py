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
import math
from collections.abc import Sequence

import numpy as np

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
    as4d = shape + (1,) * (4 - len(shape)) if len(shape) <= 4 else (*shape[:3], math.prod(shape[3:]))
    if as4d != shape:
        made.append(builders.reshape_to(_part(layer, "as4d"), x, _part(layer, "as4d"), as4d))
        x = made[-1].top
    name = _part(layer, "lrn") if as4d != shape else layer.name
    made.append(builders.lrn(name, x, name if as4d != shape else layer.top.name, local_size=1, alpha=1.0,
                             beta=(1.0 - power) / 2.0, k=0.0))
    if as4d != shape:
        made.append(builders.reshape_to(layer.name, made[-1].top, layer.top.name, shape))
    return _origin(made, layer)


def root_before_scale(layer: CaffeLayer, target: Target) -> Outcome:
    """Power (scale x)^p with scale > 1, 0 < p < 1 (a vector norm's (L mean)^(1/p), `lowerings/stats.py`) ->
    the root first, Power(power p), then Power(scale scale^p): the same value for every x (scale > 0, so
    (scale x)^p = scale^p x^p, NaN for x < 0 in both), one float32 rounding more (scale^p's and the product's,
    about an ulp), and no intermediate larger than either end.

    For a consumer whose arithmetic is fp16: RKNN's simulator forms scale x first, so the norm of 2048
    features of mean square 59 (torchreid's PCB, its F.normalize) was inf there, past fp16's 65504, where the
    norm itself is 347 (measured on rknn-toolkit2 2.5.0)."""
    if layer.type != "Power":
        return None
    power, scale, shift = (float(layer.params[k]) for k in ("power", "scale", "shift"))
    if shift != 0.0 or not scale > 1.0 or not 0.0 < power < 1.0:
        return None
    x = layer.bottoms[0]
    root = builders.power(_part(layer, "root"), x, _part(layer, "root"), power=power)
    factor = float(np.float32(scale ** power))
    return _origin([root, builders.power(layer.name, root.top, layer.top.name, scale=factor)], layer)


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


def absval_as_max(layer: CaffeLayer, target: Target) -> Outcome:
    """AbsVal where the target has none: max(x, -x), an Eltwise MAX of x and its negation (a Power of scale -1):
    both exact, so |x| is exact (NaN stays NaN, -0 gives +-0)."""
    if layer.type != "AbsVal" or target.has("AbsVal") or not target.has("Eltwise"):
        return None
    x = layer.bottoms[0]
    negated = builders.power(_part(layer, "neg"), x, _part(layer, "neg"), scale=-1.0)
    return _origin([negated, builders.eltwise(layer.name, [x, negated.top], layer.top.name, operation="MAX")], layer)


def gelu_exp_as_sigmoids(layer: CaffeLayer, target: Target) -> Outcome:
    """The Exp of an exact GELU (`lowerings/gelu.py`) where the target has no Exp: e^y = sigmoid(y) /
    sigmoid(-y), the product of sigmoid(y) and the reciprocal (a Power of power -1) of sigmoid(-y).

    Only there: the GELU's exponent y = -z^2 + w Q(w) is <= 0 by construction, so e^y is in (0, 1] and
    enters the result as the tail 0.5 |x| t e^y, next to relu(x).  Caffe's own Sigmoid (0.5 tanh(y / 2) +
    0.5, which the runtime follows) is accurate to about 2^-24 absolute, not relative, for y << 0, so e^y
    comes out within about 2^-24 (1 + e^y) absolute, which the tail (t <= 1) turns into at most about
    2^-25 |x|.  Measured in the runtime on 2,000,001 evenly spaced float32 in [-16, 16] against float64
    erf: worst 2.52e-7 absolute and 2.17 ulps of x (sophgo's form; 1.91 for rknn and mnn), where the
    Exp form gives 2.38e-7 and 1.50 ulps on the same grid; each target's judge runs case `gelu` of
    tests/targets/test_rules.py.  A torch.exp of a positive argument would lose its relative accuracy this way
    (sigmoid(-y) is then a small number known only absolutely), so any other Exp is left for the
    target's checks to refuse."""
    if layer.type != "Exp" or target.has("Exp") or not all(target.has(t) for t in ("Sigmoid", "Eltwise")):
        return None
    if layer.origin is None or layer.origin.op.split(".")[:2] != ["aten", "gelu"]:
        return Declined("only the Exp of an exact GELU (its argument is <= 0) has an exact form here, as "
                        "sigmoid(y) / sigmoid(-y)")
    base, scale, shift = (float(layer.params[k]) for k in ("base", "scale", "shift"))
    if (base, scale, shift) != (-1.0, 1.0, 0.0):
        return None  # cannot happen: the GELU's Exp is e^y
    x = layer.bottoms[0]
    negated = builders.power(_part(layer, "neg"), x, _part(layer, "neg"), scale=-1.0)
    below = builders.sigmoid(_part(layer, "sigmoid_neg"), negated.top, _part(layer, "sigmoid_neg"))
    inverse = builders.power(_part(layer, "inverse"), below.top, _part(layer, "inverse"), power=-1.0)
    above = builders.sigmoid(_part(layer, "sigmoid"), x, _part(layer, "sigmoid"))
    product = builders.eltwise(layer.name, [above.top, inverse.top], layer.top.name, operation="PROD")
    return _origin([negated, below, inverse, above, product], layer)


__all__ = ["absval_as_max", "elu_as_sigmoid", "gelu_exp_as_sigmoids", "lrn_exponent", "power_as_lrn", "root_before_scale"]
