"""Shared vocabulary of the layer modules: shapes, shape results, axis helpers.

Every layer family module holds, per Caffe type, a forward function
(`pooling(bottoms, *, ...) -> list[Tensor]`) and a shape function
(`pooling_shapes(bottoms, *, ...) -> LayerShapes`) that take the same keyword
arguments, unpacked once from the LayerParameter by `purecaffe.runtime.params`.
Shape functions raise `LayerProblem` with a plain message; the drivers add the
layer name and type.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

Shape = tuple[int, ...]
Tensor = torch.Tensor

# Caffe's -FLT_MAX, the value of a MAX pooling/Eltwise output nothing was compared into.
FLT_MAX = 3.4028234663852886e38


class LayerProblem(Exception):
    """A layer's parameters or bottoms are inconsistent (the driver names the layer)."""


@dataclass(frozen=True)
class LayerShapes:
    """What one layer does to shapes: its tops, and its parameter blobs as Caffe allocates them."""

    tops: tuple[Shape, ...]
    params: tuple[Shape, ...] = ()


def count(shape: Sequence[int], start: int = 0, end: int | None = None) -> int:
    """Caffe's Blob::count(start, end): the product of dims [start, end)."""
    return math.prod(shape[start:end])


def canonical_axis(axis: int, num_axes: int, *, what: str = "axis") -> int:
    """Caffe's CanonicalAxisIndex: negative axes count from the end; out of range is an error."""
    if not -num_axes <= axis < num_axes:
        raise LayerProblem(f"{what} {axis} out of range for a {num_axes}-D blob")
    return axis + num_axes if axis < 0 else axis


def need_bottoms(bottoms: Sequence[object], low: int, high: int | None = None) -> None:
    """Check the bottom count (high=None: exactly `low`; high=-1: at least `low`)."""
    n = len(bottoms)
    if high is None and n != low:
        raise LayerProblem(f"takes {low} bottom{'s' if low != 1 else ''}, got {n}")
    if high == -1 and n < low:
        raise LayerProblem(f"takes at least {low} bottom{'s' if low != 1 else ''}, got {n}")
    if high is not None and high >= 0 and not low <= n <= high:
        raise LayerProblem(f"takes {low} to {high} bottoms, got {n}")


def need_axes(shape: Shape, num_axes: int, what: str = "bottom") -> None:
    if len(shape) != num_axes:
        raise LayerProblem(f"{what} must have {num_axes} axes, got shape {format_shape(shape)}")


def format_shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ")"


def same(shape: Shape, n_tops: int = 1, params: tuple[Shape, ...] = ()) -> LayerShapes:
    """Tops shaped like the bottom (neuron layers, Dropout, Split)."""
    return LayerShapes(tops=(tuple(shape),) * n_tops, params=params)
