"""Softmax, ArgMax and Reduction (softmax_layer.cpp, argmax_layer.cpp, reduction_layer.cpp).

* Softmax over `axis` (default 1), max-subtracted.
* ArgMax: with `axis`, top is the bottom with that axis shrunk to `top_k` and holds indices
  (or values with `out_max_val`).  Without `axis`, each sample (axis 0) is flattened; the top is
  `(N, 1, top_k)` of indices, or `(N, 2, top_k)` holding indices then values with `out_max_val`,
  padded to at least 3 axes.  Ties go to the larger index (Caffe sorts (value, index) pairs
  with std::greater).
* Reduction: every axis from `axis` (default 0) is reduced: SUM, ASUM (sum of |x|), SUMSQ, MEAN;
  the result is multiplied by `coeff`; the top keeps the axes before `axis` (a scalar `()` for 0).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from purecaffe.runtime.layers.base import (LayerProblem, LayerShapes, Shape, Tensor, canonical_axis, count,
                                           need_bottoms, same)


def softmax_shapes(bottoms: Sequence[Shape], *, axis: int) -> LayerShapes:
    need_bottoms(bottoms, 1)
    canonical_axis(axis, len(bottoms[0]))
    return same(bottoms[0])


def softmax(bottoms: Sequence[Tensor], *, axis: int) -> list[Tensor]:
    x = bottoms[0]
    return [torch.softmax(x, dim=canonical_axis(axis, x.dim()))]


def argmax_shapes(bottoms: Sequence[Shape], *, out_max_val: bool, top_k: int, axis: int | None) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    if top_k < 1:
        raise LayerProblem("top_k must not be less than 1")
    if axis is not None:
        axis = canonical_axis(axis, len(shape))
        if top_k > shape[axis]:
            raise LayerProblem(f"top_k {top_k} is larger than axis {axis} of size {shape[axis]}")
        top = list(shape)
        top[axis] = top_k
        return LayerShapes(tops=(tuple(top),))
    if top_k > count(shape, 1):
        raise LayerProblem(f"top_k {top_k} is larger than the {count(shape, 1)} values per sample")
    top = [1] * max(len(shape), 3)
    top[0], top[1], top[2] = shape[0], 2 if out_max_val else 1, top_k
    return LayerShapes(tops=(tuple(top),))


def _top_k(values: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-k along the last dim, ties to the larger index (sort of the reversed row, stable)."""
    size = values.shape[-1]
    ordered, where = torch.sort(values.flip(-1), dim=-1, descending=True, stable=True)
    return ordered[..., :k], (size - 1 - where[..., :k])


def argmax(bottoms: Sequence[Tensor], *, out_max_val: bool, top_k: int, axis: int | None) -> list[Tensor]:
    x = bottoms[0]
    top = argmax_shapes([tuple(x.shape)], out_max_val=out_max_val, top_k=top_k, axis=axis).tops[0]
    if axis is not None:
        axis = canonical_axis(axis, x.dim())
        values, where = _top_k(x.movedim(axis, -1), top_k)
        result = values if out_max_val else where.to(torch.float32)
        return [result.movedim(-1, axis).contiguous()]
    values, where = _top_k(x.reshape(x.shape[0], -1), top_k)
    parts = [where.to(torch.float32)] + ([values] if out_max_val else [])
    return [torch.stack(parts, dim=1).reshape(top)]


def reduction_shapes(bottoms: Sequence[Shape], *, operation: str, axis: int, coeff: float) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    axis = canonical_axis(axis, len(shape))
    if operation not in ("SUM", "ASUM", "SUMSQ", "MEAN"):
        raise LayerProblem(f"unknown reduction operation {operation}")
    return LayerShapes(tops=(tuple(shape[:axis]),))


def reduction(bottoms: Sequence[Tensor], *, operation: str, axis: int, coeff: float) -> list[Tensor]:
    x = bottoms[0]
    axis = canonical_axis(axis, x.dim())
    rows = x.reshape(count(tuple(x.shape), 0, axis), -1)
    if operation in ("SUM", "MEAN"):
        y = rows.sum(dim=1)
    elif operation == "ASUM":
        y = rows.abs().sum(dim=1)
    elif operation == "SUMSQ":
        y = (rows * rows).sum(dim=1)
    else:
        raise LayerProblem(f"unknown reduction operation {operation}")
    factor = coeff / rows.shape[1] if operation == "MEAN" else coeff
    if factor != 1:
        y = y * factor
    return [y.reshape(x.shape[:axis])]
