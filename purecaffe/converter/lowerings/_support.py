"""Helpers shared by several lowering families (a private module: the registry skips it).

* `tensor_blob`: a tensor argument as a Caffe blob, a constant becoming a `Parameter` layer;
* `scalar_value`: a Python number or single-element constant as a float, else None;
* `reshape_to`: the Flatten or Reshape layer that gives a blob another shape;
* `expand_to`: the Reshape + Tile layers that broadcast a blob to a bigger shape (exact copies);
* `keep_range`: x[start:end] along one axis, cut out with one Slice (`slice_bounds`: torch's clamped bounds);
* `subsample_layer`: every s-th row/column of a 4-D blob (a depthwise 1x1 Convolution of ones).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer as Layer, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node, Ref, TensorInfo
from purecaffe.converter.weights import convolution_blobs, parameter_blobs

Shape = tuple[int, ...]

_INT64_MAX = 2 ** 63 - 1

# float32 holds every integer up to 2**24 exactly; an integer constant beyond that would change.
_FLOAT32_EXACT_INT = 2 ** 24


def per_axis(ctx: LoweringContext, value: int | Sequence[int], what: str, axes: int,
             default: Sequence[int] | None = None) -> tuple[int, ...]:
    """A per-axis argument of an `axes`-D op (`3`, `[3]` or one value per axis) as one int per axis;
    `[]` takes `default` (pooling's stride defaults to its kernel).  Anything else is refused
    naming `what`.  The one normaliser of torch's per-axis arguments."""
    values = [int(v) for v in ([value] if isinstance(value, int) else value)]
    if not values and default is not None:
        values = [int(v) for v in default]
    if len(values) == 1:
        values = values * axes
    if len(values) != axes:
        raise ctx.unsupported(f"{what} {values}: only 2-D (H, W) operations are converted" if axes == 2
                              else f"{what} {values} of a {axes}-D operation")
    return tuple(values)


def hw_pair(ctx: LoweringContext, value: int | Sequence[int], what: str,
            default: Sequence[int] | None = None) -> tuple[int, int]:
    """An (H, W) argument of a 2-D op (`per_axis` with two axes)."""
    h, w = per_axis(ctx, value, what, 2, default)
    return h, w


def single(ctx: LoweringContext, value: int | Sequence[int], what: str, default: Sequence[int] | None = None) -> int:
    """The one value of a 1-D op's per-axis argument (`per_axis` with one axis)."""
    return per_axis(ctx, value, what, 1, default)[0]


def require_float(ctx: LoweringContext, node: Node, what: str) -> None:
    """Refuse a node whose (first) result is not a float tensor: Caffe blobs are float32."""
    info = node.outputs[0] if isinstance(node.outputs, tuple) else node.outputs
    dtype = info.dtype if isinstance(info, TensorInfo) else "float32"
    if not dtype.startswith("float"):
        raise ctx.unsupported(f"{what} producing {dtype}: Caffe blobs are float32")


def float_constant(ctx: LoweringContext, array: np.ndarray, what: str) -> np.ndarray:
    """`array` as float32, refusing values float32 cannot hold exactly (large integers)."""
    if array.dtype.kind in "biu":
        if array.size and np.abs(array.astype(np.int64)).max() > _FLOAT32_EXACT_INT:
            raise ctx.unsupported(f"{what} holds integers beyond 2**24, which float32 Caffe blobs cannot "
                                  f"represent exactly")
        return array.astype(np.float32)
    if array.dtype.kind != "f":
        raise ctx.unsupported(f"{what} has dtype {array.dtype}; Caffe blobs are float32")
    return array.astype(np.float32)


def tensor_blob(ctx: LoweringContext, node: Node, value: Any, part: str) -> Blob:
    """The blob holding tensor argument `value`; a constant is emitted as a Parameter layer
    (named `<layer>/<part>`) whose one blob stores it, exactly, in the caffemodel."""
    if ctx.is_constant(value):
        array = float_constant(ctx, ctx.constant(value), f"constant {value.name}")
        if array.ndim == 0:
            array = array.reshape(1)
        name = ctx.name(node, part)
        return ctx.emit(builders.parameter(name, name, tuple(array.shape)), parameter_blobs(array))[0]
    return ctx.blob(value)


def scalar_value(ctx: LoweringContext, value: Any) -> float | None:
    """A Python number, or a constant tensor with exactly one element, as a float; else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Ref) and ctx.is_constant(value):
        array = ctx.constant(value)
        if array.size == 1:
            return float(float_constant(ctx, array, f"constant {value.name}").reshape(()))
    return None


def reshape_layer(name: str, x: Blob, top: str, shape: Sequence[int]) -> Layer:
    """Flatten when `shape` merges a run of axes after the batch (`end_axis` only when the run
    does not reach the last axis: plain Flatten is the most portable form), otherwise Reshape with
    explicit dims (`builders.reshape_to`: the batch kept as 0 when it is unchanged)."""
    shape = tuple(int(d) for d in shape)
    rank = len(x.shape)
    for axis in range(1, rank - 1):
        for end in range(rank - 1, axis, -1):
            if shape == x.shape[:axis] + (math.prod(x.shape[axis:end + 1]),) + x.shape[end + 1:]:
                return builders.flatten(name, x, top, axis=axis, end_axis=-1 if end == rank - 1 else end)
    return builders.reshape_to(name, x, top, shape)


def reshape_to(ctx: LoweringContext, node: Node, x: Blob, shape: Sequence[int], part: str) -> Blob:
    """`x` with `shape` (an intermediate blob `<layer>/<part>`); no layer when it already has it."""
    if tuple(x.shape) == tuple(shape):
        return x
    name = ctx.name(node, part)
    return ctx.emit(reshape_layer(name, x, name, shape))[0]


def expand_to(ctx: LoweringContext, node: Node, x: Blob, shape: Sequence[int], part: str,
              *, result: bool = False) -> Blob:
    """Broadcast `x` to `shape` with Tile layers (each copies values, so it is exact).

    `x` is first given `shape`'s rank (leading 1s); every axis where `x` has 1 and `shape` more
    is tiled.  With `result=True` the last layer's top is bound to `node`.
    """
    shape = tuple(shape)
    full = (1,) * (len(shape) - len(x.shape)) + tuple(x.shape)
    if len(full) != len(shape) or any(a != b and a != 1 for a, b in zip(full, shape)):
        raise ctx.unsupported(f"cannot broadcast {list(x.shape)} to {list(shape)}")
    axes = [i for i, (a, b) in enumerate(zip(full, shape)) if a != b]
    if not axes:
        raise ValueError("expand_to called without anything to expand")
    if full != tuple(x.shape):
        x = reshape_to(ctx, node, x, full, f"{part}_rank")
    current = list(full)
    for k, axis in enumerate(axes):
        current[axis] = shape[axis]
        last = k == len(axes) - 1
        if last and result:
            return ctx.emit(builders.tile(ctx.name(node), x, ctx.name(node), axis=axis,
                                          tiles=shape[axis]), result=node)[0]
        name = ctx.name(node, f"{part}_tile{axis}")
        x = ctx.emit(builders.tile(name, x, name, axis=axis, tiles=shape[axis]))[0]
    return x


def keep_range(ctx: LoweringContext, node: Node, x: Blob, axis: int, start: int, end: int, *,
               part: str | None = None) -> Blob:
    """x[start:end] along `axis` (`builders.slice_keep`).  Without `part` the Slice is the node's
    own layer and its kept top the node's value; with `part` an intermediate `<name>/<part>`."""
    name = ctx.name(node, part)
    layer = builders.slice_keep(name, x, name, axis=axis, start=start, end=end)
    outputs = [0 if top.name == name else None for top in layer.tops]
    tops = ctx.emit(layer, result=node if part is None else None, outputs=outputs if part is None else None)
    return next(top for top in tops if top.name == name)


def normalize_dims(dims: Any, rank: int) -> tuple[int, ...]:
    """Sorted non-negative axes from an int, a list, or None/[] (meaning every axis)."""
    if dims is None or (isinstance(dims, (list, tuple)) and len(dims) == 0):
        return tuple(range(rank))
    if isinstance(dims, int):
        dims = [dims]
    return tuple(sorted({int(d) % rank if rank else 0 for d in dims}))


def subsample_layer(name: str, x: Blob, top: str, stride: tuple[int, int]) -> tuple[Layer, list[np.ndarray]]:
    """Every stride-th row/column of a 4-D blob, from the first: a depthwise 1x1 Convolution with
    weight 1.0 and no bias (each output is 1.0 * one input, exact; Convolution floors its output
    size, unlike ceil-mode Pooling, so the count always matches `x[..., ::s]`)."""
    channels = x.shape[1]
    layer = builders.convolution(name, x, top, num_output=channels, kernel=1, stride=stride, group=channels,
                                 bias_term=False)
    return layer, convolution_blobs(np.ones((channels, 1, 1, 1), dtype=np.float32), None)


def slice_bounds(size: int, start: int | None, end: int | None) -> tuple[int, int]:
    """Python slice bounds clamped the way torch does."""
    start = 0 if start is None else int(start)
    end = size if end is None or end >= _INT64_MAX else int(end)
    if start < 0:
        start += size
    if end < 0:
        end += size
    return max(0, min(start, size)), max(0, min(end, size))
