"""Eltwise, and the broadcasting Scale and Bias layers (eltwise_layer.cpp, scale_layer.cpp, bias_layer.cpp).

* Eltwise needs identical bottom shapes.  SUM: `sum_i coeff_i * x_i` (coeff default 1, one per
  bottom); PROD: product (coefficients are an error); MAX: element-wise maximum.
* Scale/Bias: the factor (bottom 1, or the layer's own blob) covers bottom 0's axes
  `axis .. axis + factor.ndim` and is broadcast over the rest.  With one bottom the blob shape
  is `bottom.shape[axis : axis + num_axes]` (`num_axes: -1` = to the end, `0` = a scalar and
  then `axis` is ignored).  Scale with `bias_term` adds a bias blob of the same shape (blob 1 with
  one bottom, blob 0 when the scale comes from bottom 1).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from purecaffe.runtime.layers.base import (LayerProblem, LayerShapes, Shape, Tensor, canonical_axis,
                                           format_shape, need_bottoms, same)


def eltwise_shapes(bottoms: Sequence[Shape], *, operation: str, coeff: tuple[float, ...]) -> LayerShapes:
    need_bottoms(bottoms, 2, -1)
    if coeff and len(coeff) != len(bottoms):
        raise LayerProblem(f"{len(coeff)} coefficients for {len(bottoms)} bottoms (need one per bottom)")
    if coeff and operation != "SUM":
        raise LayerProblem("Eltwise takes coefficients only for SUM")
    for i, shape in enumerate(bottoms[1:], 1):
        if shape != bottoms[0]:
            raise LayerProblem(f"bottom 0 {format_shape(bottoms[0])} and bottom {i} {format_shape(shape)} "
                               f"differ (Eltwise needs identical shapes)")
    return same(bottoms[0])


def eltwise(bottoms: Sequence[Tensor], *, operation: str, coeff: tuple[float, ...]) -> list[Tensor]:
    if operation == "SUM":
        coeffs = coeff or (1.0,) * len(bottoms)
        total = bottoms[0] if coeffs[0] == 1 else coeffs[0] * bottoms[0]
        for c, x in zip(coeffs[1:], bottoms[1:]):
            total = total + x if c == 1 else total + c * x
        return [total]
    if operation == "PROD":
        total = bottoms[0] * bottoms[1]
        for x in bottoms[2:]:
            total = total * x
        return [total]
    if operation == "MAX":
        total = torch.maximum(bottoms[0], bottoms[1])
        for x in bottoms[2:]:
            total = torch.maximum(total, x)
        return [total]
    raise LayerProblem(f"unknown Eltwise operation {operation}")


def _factor_shape(bottom: Shape, axis: int, num_axes: int, what: str) -> Shape:
    axis = canonical_axis(axis, len(bottom)) if len(bottom) else 0
    if num_axes < -1:
        raise LayerProblem("num_axes must be non-negative, or -1 to extend to the end of bottom 0")
    if num_axes >= 0 and len(bottom) < axis + num_axes:
        raise LayerProblem(f"{what} blob's shape extends past bottom 0 {format_shape(bottom)} when applied "
                           f"from axis {axis}")
    return tuple(bottom[axis:] if num_axes == -1 else bottom[axis: axis + num_axes])


def _check_broadcast(bottom: Shape, factor: Shape, axis: int, what: str) -> int:
    start = 0 if len(factor) == 0 else canonical_axis(axis, len(bottom))
    if tuple(bottom[start: start + len(factor)]) != tuple(factor):
        raise LayerProblem(f"{what} shape {format_shape(factor)} does not match bottom 0 "
                           f"{format_shape(bottom)} from axis {start}")
    return start


def scale_shapes(bottoms: Sequence[Shape], *, axis: int, num_axes: int, bias_term: bool) -> LayerShapes:
    need_bottoms(bottoms, 1, 2)
    bottom = bottoms[0]
    if len(bottoms) == 2:
        factor = bottoms[1]
        params: tuple[Shape, ...] = (factor,) if bias_term else ()
    else:
        factor = _factor_shape(bottom, axis, num_axes, "scale")
        params = (factor, factor) if bias_term else (factor,)
    _check_broadcast(bottom, factor, axis, "scale")
    return same(bottom, params=params)


def bias_shapes(bottoms: Sequence[Shape], *, axis: int, num_axes: int) -> LayerShapes:
    need_bottoms(bottoms, 1, 2)
    bottom = bottoms[0]
    factor = bottoms[1] if len(bottoms) == 2 else _factor_shape(bottom, axis, num_axes, "bias")
    _check_broadcast(bottom, factor, axis, "bias")
    return same(bottom, params=() if len(bottoms) == 2 else (factor,))


def _broadcast(factor: Tensor, ndim: int, start: int) -> Tensor:
    return factor.reshape(*([1] * start), *factor.shape, *([1] * (ndim - start - factor.dim())))


def scale(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], axis: int, num_axes: int,
          bias_term: bool) -> list[Tensor]:
    x = bottoms[0]
    if len(bottoms) == 2:
        factor, bias_blob = bottoms[1], (blobs[0] if bias_term else None)
    else:
        factor, bias_blob = blobs[0], (blobs[1] if bias_term else None)
    start = _check_broadcast(tuple(x.shape), tuple(factor.shape), axis, "scale")
    y = x * _broadcast(factor, x.dim(), start)
    if bias_blob is not None:
        y = y + _broadcast(bias_blob.reshape(factor.shape), x.dim(), start)
    return [y]


def bias(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], axis: int, num_axes: int) -> list[Tensor]:
    x = bottoms[0]
    factor = bottoms[1] if len(bottoms) == 2 else blobs[0]
    start = _check_broadcast(tuple(x.shape), tuple(factor.shape), axis, "bias")
    return [x + _broadcast(factor, x.dim(), start)]
