"""Neuron layers: one top shaped like the one bottom, applied element by element.

Formulas are Caffe's CPU forwards (relu_layer.cpp, sigmoid_layer.cpp, ...):

* ReLU: `max(x, 0) + negative_slope * min(x, 0)`.
* PReLU: per-channel (axis 1) slope, or one slope with `channel_shared` (blob shape `()`).
* Sigmoid: `0.5 * tanh(0.5 * x) + 0.5`; Swish: `x * sigmoid(beta * x)` with the same sigmoid.
* ELU: `x` if `x > 0` else `alpha * (exp(x) - 1)`.  BNLL: `x + log(1 + exp(-x))` for `x > 0`,
  else `log(1 + exp(x))`.  AbsVal, TanH as named.
* Exp: `base^(shift + scale * x)` (base -1 means e); Log: `log_base(shift + scale * x)`.
* Power: `(shift + scale * x)^power`; when `power * scale == 0` the input is ignored and the
  top is `1` (power 0) or `shift^power`.
* Threshold: `1` where `x > threshold`, else `0`.  Clip: `min(max(x, min), max)`.
* ReLU6 (RKNN, OpenCV): `min(max(x, 0), 6)`.  HardSwish (RKNN; ONNX's with alpha 1/6, beta 1/2):
  `x * min(max(x / 6 + 1/2, 0), 1)`, which is PyTorch's `x * relu6(x + 3) / 6` to rounding.
* Dropout is the identity: the runtime always runs Caffe's TEST phase.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from purecaffe.runtime.layers.base import LayerProblem, LayerShapes, Shape, Tensor, need_bottoms, same


def neuron_shapes(bottoms: Sequence[Shape], **_: object) -> LayerShapes:
    """One top shaped like the one bottom; the neuron's own parameters do not matter."""
    need_bottoms(bottoms, 1)
    return same(bottoms[0])


def _caffe_sigmoid(x: Tensor) -> Tensor:
    return 0.5 * torch.tanh(0.5 * x) + 0.5


def relu(bottoms: Sequence[Tensor], *, negative_slope: float) -> list[Tensor]:
    x = bottoms[0]
    if negative_slope == 0:
        return [torch.relu(x)]
    return [torch.clamp(x, min=0) + negative_slope * torch.clamp(x, max=0)]


def prelu_shapes(bottoms: Sequence[Shape], *, channel_shared: bool) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    if len(shape) < 2:
        raise LayerProblem("number of axes of bottom blob must be >= 2")
    return same(shape, params=((),) if channel_shared else ((shape[1],),))


def prelu(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], channel_shared: bool) -> list[Tensor]:
    x = bottoms[0]
    slope = blobs[0].reshape(-1)
    slope = slope[:1] if channel_shared else slope
    slope = slope.reshape(1, -1, *([1] * (x.dim() - 2)))
    return [torch.clamp(x, min=0) + slope * torch.clamp(x, max=0)]


def elu(bottoms: Sequence[Tensor], *, alpha: float) -> list[Tensor]:
    x = bottoms[0]
    return [torch.where(x > 0, x, alpha * (torch.exp(torch.clamp(x, max=0)) - 1))]  # exp - 1, as Caffe


def sigmoid(bottoms: Sequence[Tensor]) -> list[Tensor]:
    return [_caffe_sigmoid(bottoms[0])]


def swish(bottoms: Sequence[Tensor], *, beta: float) -> list[Tensor]:
    x = bottoms[0]
    return [x * _caffe_sigmoid(beta * x)]


def tanh(bottoms: Sequence[Tensor]) -> list[Tensor]:
    return [torch.tanh(bottoms[0])]


def absval(bottoms: Sequence[Tensor]) -> list[Tensor]:
    return [torch.abs(bottoms[0])]


def bnll(bottoms: Sequence[Tensor]) -> list[Tensor]:
    x = bottoms[0]
    return [torch.clamp(x, min=0) + torch.log1p(torch.exp(-torch.abs(x)))]


def exp(bottoms: Sequence[Tensor], *, base: float, scale: float, shift: float) -> list[Tensor]:
    if base != -1 and base <= 0:
        raise LayerProblem("base must be strictly positive")
    log_base = 1.0 if base == -1 else math.log(base)
    inner = log_base * scale
    outer = 1.0 if shift == 0 else (math.exp(shift) if base == -1 else base ** shift)
    y = torch.exp(bottoms[0] if inner == 1 else inner * bottoms[0])
    return [y if outer == 1 else outer * y]


def log(bottoms: Sequence[Tensor], *, base: float, scale: float, shift: float) -> list[Tensor]:
    if base != -1 and base <= 0:
        raise LayerProblem("base must be strictly positive")
    base_scale = 1.0 if base == -1 else 1.0 / math.log(base)
    x = bottoms[0]
    y = torch.log(x if (scale == 1 and shift == 0) else x * scale + shift)
    return [y if base_scale == 1 else base_scale * y]


def power(bottoms: Sequence[Tensor], *, power: float, scale: float, shift: float) -> list[Tensor]:
    x = bottoms[0]
    if power * scale == 0:
        value = 1.0 if power == 0 else float(torch.tensor(shift, dtype=torch.float32) ** power)
        return [torch.full_like(x, value)]
    y = x
    if scale != 1:
        y = y * scale
    if shift != 0:
        y = y + shift
    if power != 1:
        y = torch.pow(y, power)
    return [y]


def threshold(bottoms: Sequence[Tensor], *, threshold: float) -> list[Tensor]:
    return [(bottoms[0] > threshold).to(torch.float32)]


def clip(bottoms: Sequence[Tensor], *, min: float, max: float) -> list[Tensor]:  # noqa: A002 - Caffe's names
    return [torch.clamp(bottoms[0], min=min, max=max)]


def relu6(bottoms: Sequence[Tensor]) -> list[Tensor]:
    return [torch.clamp(bottoms[0], min=0.0, max=6.0)]


def hardswish(bottoms: Sequence[Tensor]) -> list[Tensor]:
    x = bottoms[0]
    return [x * torch.clamp(x / 6.0 + 0.5, min=0.0, max=1.0)]


def dropout(bottoms: Sequence[Tensor]) -> list[Tensor]:
    """Identity: Caffe's Dropout scales at training time only (TEST phase here)."""
    return [bottoms[0]]
