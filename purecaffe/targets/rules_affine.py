"""Legalization rules for consumers that read fewer forms of the affine layers: Power, Eltwise's
coefficients, Bias, a shared PReLU slope, a Reduction's coefficient, per-position Scale parameters.

Measured on tpu-mlir 1.30.2 (its Caffe front end raises "not implemented" for every Power;
its top-level interpreter adds an Eltwise SUM's bottoms whatever `coeff` says; it has no
Bias; it asserts on a shared PReLU slope) and MNN 3.6.1 (an Eltwise SUM with coefficients
other than (1, -1) is wrong: near 1e37 for (0.5, -2), 2.3 x scale off for an explicit (1, 1); its
Reduction drops `coeff`); both read Scale parameters per channel only (`limits.SOPHGO_LIMITS`,
`limits.MNN_LIMITS`).  Each rewrite keeps the layer's bottoms and top names and is exact to
float32 rounding, as its docstring says.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, builders
from purecaffe.runtime.layers.base import canonical_axis
from purecaffe.targets.limits import ELTWISE_COEFF, NPU_CHANNEL_PARAMETERS, REDUCTION_COEFF, SHARED_SLOPE
from purecaffe.targets.target import Applied, Declined, Outcome, Target

# A Scale made a diagonal InnerProduct holds L x L weights for L scaled positions; past this many
# floats (16 MB) the rewrite is declined.
MAX_DIAGONAL_WEIGHTS = 1 << 22


def _part(layer: CaffeLayer, part: str) -> str:
    return f"{layer.name}/{part}"


def _origin(layers: Sequence[CaffeLayer], source: CaffeLayer) -> Applied:
    return Applied(tuple(dataclasses.replace(made, origin=source.origin) for made in layers))


def breaks(layer: CaffeLayer, target: Target, limit: str) -> bool:
    """`layer` breaks the target's limit with that id (`limits`)."""
    return any(broken.rule == limit for broken in target.broken(layer))


def constant_scale(name: str, x: Blob, top: str, *, scale: float, shift: float) -> list[CaffeLayer] | None:
    """x * scale + shift as a Scale over the channel axis holding C copies of each (a 1-D blob through a
    Reshape to (N, 1) and back; None for a 0-D one).  One product and one sum, as Power's."""
    if not x.shape:
        return None
    made: list[CaffeLayer] = []
    current = x
    if len(x.shape) == 1:
        made.append(builders.reshape_to(f"{name}/as2d", x, f"{name}/as2d", (x.shape[0], 1)))
        current = made[-1].top
    channels = int(current.shape[1])
    inner = f"{name}/scaled" if made else name
    layer = builders.scale(inner, [current], inner if made else top, axis=1, num_axes=1, bias_term=shift != 0.0)
    blobs = [np.full(channels, scale, dtype=np.float32)]
    if shift != 0.0:
        blobs.append(np.full(channels, shift, dtype=np.float32))
    made.append(layer.with_weights(blobs))
    if len(x.shape) == 1:
        made.append(builders.reshape_to(name, made[-1].top, top, x.shape))
    return made


def power_as_scale(layer: CaffeLayer, target: Target) -> Outcome:
    """Power (shift + scale x)^p for p in {1, 2}, where the target has no Power: the affine part as a
    Scale over channels (`constant_scale`), the square as Eltwise PROD of that with itself (Caffe's
    pow(y, 2) is y * y, correctly rounded).  Other exponents have no exact form without Power."""
    if layer.type != "Power" or target.has("Power") or not target.has("Scale"):
        return None
    power, scale, shift = (float(layer.params[k]) for k in ("power", "scale", "shift"))
    if power not in (1.0, 2.0):
        return Declined(f"only x and x^2 have an exact form without Power (this one: x^{power:g})")
    x = layer.bottoms[0]
    made: list[CaffeLayer] = []
    if (scale, shift) != (1.0, 0.0) or power == 1.0:
        last = power == 1.0
        scaled = constant_scale(layer.name if last else _part(layer, "affine"), x,
                                layer.top.name if last else _part(layer, "affine"), scale=scale, shift=shift)
        if scaled is None:
            return Declined("a 0-D blob has no channel axis to scale along")
        made.extend(scaled)
        x = scaled[-1].top
    if power == 2.0:
        made.append(builders.eltwise(layer.name, [x, x], layer.top.name, operation="PROD"))
    return _origin(made, layer)


def eltwise_coeff_as_power(layer: CaffeLayer, target: Target) -> Outcome:
    """Eltwise SUM with coefficients the target does not read (MNN: any but (1, -1), even (1, 1)) ->
    Power(scale c_i) on each bottom whose c_i != 1, then a SUM without coefficients: c_i x_i rounded
    once, then the sums (Caffe's axpy may fuse the product and the sum: within an ulp)."""
    if layer.type != "Eltwise" or not breaks(layer, target, ELTWISE_COEFF):
        return None
    bottoms: list[Blob] = []
    made: list[CaffeLayer] = []
    for index, (bottom, coeff) in enumerate(zip(layer.bottoms, layer.params["coeff"])):
        if float(coeff) == 1.0:
            bottoms.append(bottom)
            continue
        name = _part(layer, f"coeff{index}")
        made.append(builders.power(name, bottom, name, scale=float(coeff)))
        bottoms.append(made[-1].top)
    made.append(builders.eltwise(layer.name, bottoms, layer.top.name, operation="SUM"))
    return _origin(made, layer)


def bias_as_scale(layer: CaffeLayer, target: Target) -> Outcome:
    """Bias with a parameter blob, for a target without Bias -> Scale with gamma 1 and that blob as beta
    (x * 1 + b: exact)."""
    if layer.type != "Bias" or len(layer.bottoms) != 1 or target.has("Bias") or not target.has("Scale"):
        return None
    (beta,) = layer.weights
    scaled = builders.scale(layer.name, list(layer.bottoms), layer.top.name, axis=int(layer.params["axis"]),
                            num_axes=int(layer.params["num_axes"]), bias_term=True)
    gamma = np.ones_like(beta, dtype=np.float32)
    return _origin([scaled.with_weights([gamma, np.asarray(beta, dtype=np.float32)])], layer)


def scale_as_diagonal_product(layer: CaffeLayer, target: Target) -> Outcome:
    """Scale with parameters over trailing axes other than the channels alone (LayerNorm's affine,
    AVE pooling's divisors), for targets that read them per channel -> InnerProduct from that axis
    with diag(gamma) and beta (then a Reshape back when it covers several axes): each output is
    x_j * gamma_j + beta_j plus products by zero, which add nothing (finite inputs)."""
    if layer.type != "Scale" or not breaks(layer, target, NPU_CHANNEL_PARAMETERS):
        return None
    x = layer.bottoms[0]
    axis = canonical_axis(int(layer.params["axis"]), len(x.shape))
    num_axes = int(layer.params["num_axes"])
    num_axes = len(x.shape) - axis if num_axes == -1 else num_axes
    if axis + num_axes != len(x.shape) or axis == 0:
        return Declined(f"only parameters over trailing axes after the batch become an InnerProduct "
                        f"(these: axes {axis}..{axis + num_axes - 1} of {list(x.shape)})")
    length = int(np.prod(x.shape[axis:]))
    if length * length > MAX_DIAGONAL_WEIGHTS:
        return Declined(f"its exact rewrite (a diagonal InnerProduct) would need {length * length} weights, more "
                        f"than {MAX_DIAGONAL_WEIGHTS}", length * length)
    gamma = np.asarray(layer.weights[0], dtype=np.float32).reshape(-1)
    bias = bool(layer.params["bias_term"])
    last = num_axes == 1
    name = layer.name if last else _part(layer, "diagonal")
    product = builders.inner_product(name, x, layer.top.name if last else name, num_output=length, axis=axis,
                                     bias_term=bias)
    blobs = [np.diag(gamma).astype(np.float32)]
    if bias:
        blobs.append(np.asarray(layer.weights[1], dtype=np.float32).reshape(-1))
    made = [product.with_weights(blobs)]
    if not last:
        made.append(builders.reshape_to(layer.name, product.top, layer.top.name, layer.top.shape))
    return _origin(made, layer)


def shared_prelu_as_channels(layer: CaffeLayer, target: Target) -> Outcome:
    """PReLU with one shared slope -> PReLU with that slope repeated for every channel (identical)."""
    if layer.type != "PReLU" or not breaks(layer, target, SHARED_SLOPE):
        return None
    x = layer.bottoms[0]
    slope = np.full(int(x.shape[1]), np.asarray(layer.weights[0], dtype=np.float32).reshape(-1)[0], np.float32)
    per_channel = builders.prelu(layer.name, x, layer.top.name, channel_shared=False)
    return _origin([per_channel.with_weights([slope])], layer)


def reduction_coeff_as_power(layer: CaffeLayer, target: Target) -> Outcome:
    """Reduction with `coeff` != 1, for a target that drops it -> Reduction (coeff 1) + Power(scale coeff):
    Caffe multiplies the sum by coeff (by coeff / n for MEAN) once, this by 1/n then coeff: an ulp."""
    if layer.type != "Reduction" or not breaks(layer, target, REDUCTION_COEFF) or not target.has("Power"):
        return None
    inner = _part(layer, "plain")
    reduced = builders.reduction(inner, layer.bottoms[0], inner, operation=layer.params["operation"],
                                 axis=int(layer.params["axis"]))
    scaled = builders.power(layer.name, reduced.top, layer.top.name, scale=float(layer.params["coeff"]))
    return _origin([reduced, scaled], layer)


__all__ = ["MAX_DIAGONAL_WEIGHTS", "bias_as_scale", "breaks", "constant_scale", "eltwise_coeff_as_power",
           "power_as_scale", "reduction_coeff_as_power", "scale_as_diagonal_product", "shared_prelu_as_channels"]
