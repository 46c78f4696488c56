"""Layers that move data without arithmetic: Concat, Slice, Split, Flatten, Reshape, Crop,
Tile, Permute (SSD fork), Silence, Parameter.

Caffe rules (concat_layer.cpp, slice_layer.cpp, reshape_layer.cpp, crop_layer.cpp, ...):

* Concat: every bottom has the same number of axes and the same size on every axis but
  `axis` (legacy `concat_dim` wins when set).  One bottom is allowed (a copy).
* Slice: `slice_point`s (strictly increasing, one fewer than tops) or an even split.
* Flatten: axes `axis .. end_axis` (inclusive, default 1 .. -1) become one.
* Reshape: `shape` replaces axes `axis .. axis + num_axes` (`num_axes: -1` = to the end;
  a negative `axis` counts from the end with -1 meaning *after* the last axis); a `0` copies
  the bottom's dim at that position, one `-1` is inferred from the count.
* Crop: bottom 0 cropped to bottom 1's size on every axis from `axis` on, starting at
  `offset` (one value for all cropped axes, one per cropped axis, or 0).
* Tile: axis `axis` repeated `tiles` times as whole blocks (`np.tile`, not `np.repeat`).
* Permute: axes reordered by `order`; axes not named are appended in their original order.
"""
from __future__ import annotations

import builtins
from collections.abc import Sequence

import torch

from purecaffe.runtime.layers.base import (LayerProblem, LayerShapes, Shape, Tensor, canonical_axis, count,
                                           format_shape, need_bottoms, same)


def concat_shapes(bottoms: Sequence[Shape], *, axis: int) -> LayerShapes:
    need_bottoms(bottoms, 1, -1)
    first = bottoms[0]
    axis = canonical_axis(axis, len(first))
    top = list(first)
    for i, shape in enumerate(bottoms[1:], 1):
        if len(shape) != len(first) or any(a != b for j, (a, b) in enumerate(zip(first, shape)) if j != axis):
            raise LayerProblem(f"bottoms must have the same shape except on concat axis {axis}: bottom 0 "
                               f"{format_shape(first)} vs bottom {i} {format_shape(shape)}")
        top[axis] += shape[axis]
    return LayerShapes(tops=(tuple(top),))


def concat(bottoms: Sequence[Tensor], *, axis: int) -> list[Tensor]:
    return [torch.cat(list(bottoms), dim=canonical_axis(axis, bottoms[0].dim()))]


def _slice_sizes(shape: Shape, axis: int, slice_point: tuple[int, ...], n_tops: int) -> tuple[int, list[int]]:
    axis = canonical_axis(axis, len(shape))
    total = shape[axis]
    if slice_point:
        if len(slice_point) != n_tops - 1:
            raise LayerProblem(f"{len(slice_point)} slice points for {n_tops} tops (need one fewer)")
        if n_tops > total:
            raise LayerProblem(f"{n_tops} tops but axis {axis} of {format_shape(shape)} has size {total}")
        sizes, prev = [], 0
        for point in slice_point:
            if point <= prev:
                raise LayerProblem(f"slice points {slice_point} must be strictly increasing and positive")
            sizes.append(point - prev)
            prev = point
        if prev >= total:
            raise LayerProblem(f"slice point {prev} beyond axis {axis} of size {total}")
        return axis, sizes + [total - prev]
    if total % n_tops:
        raise LayerProblem(f"{n_tops} tops do not evenly divide axis {axis} of size {total}")
    return axis, [total // n_tops] * n_tops


def slice_shapes(bottoms: Sequence[Shape], *, axis: int, slice_point: tuple[int, ...],
                 n_tops: int) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    axis, sizes = _slice_sizes(shape, axis, slice_point, n_tops)
    return LayerShapes(tops=tuple((*shape[:axis], size, *shape[axis + 1:]) for size in sizes))


def slice(bottoms: Sequence[Tensor], *, axis: int, slice_point: tuple[int, ...],  # noqa: A001
          n_tops: int) -> list[Tensor]:
    x = bottoms[0]
    axis, sizes = _slice_sizes(tuple(x.shape), axis, slice_point, n_tops)
    return list(torch.split(x, sizes, dim=axis))


def split_shapes(bottoms: Sequence[Shape], *, n_tops: int) -> LayerShapes:
    need_bottoms(bottoms, 1)
    return same(bottoms[0], n_tops=n_tops)


def split(bottoms: Sequence[Tensor], *, n_tops: int) -> list[Tensor]:
    return [bottoms[0]] * n_tops


def silence_shapes(bottoms: Sequence[Shape]) -> LayerShapes:
    return LayerShapes(tops=())


def silence(bottoms: Sequence[Tensor]) -> list[Tensor]:
    return []


def flatten_shapes(bottoms: Sequence[Shape], *, axis: int, end_axis: int) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    start = canonical_axis(axis, len(shape))
    end = canonical_axis(end_axis, len(shape), what="end_axis")
    return LayerShapes(tops=((*shape[:start], count(shape, start, end + 1), *shape[end + 1:]),))


def flatten(bottoms: Sequence[Tensor], *, axis: int, end_axis: int) -> list[Tensor]:
    top = flatten_shapes([tuple(bottoms[0].shape)], axis=axis, end_axis=end_axis).tops[0]
    return [bottoms[0].reshape(top)]


def reshape_shapes(bottoms: Sequence[Shape], *, shape: Shape, axis: int, num_axes: int) -> LayerShapes:
    need_bottoms(bottoms, 1)
    bottom = bottoms[0]
    start = axis if axis >= 0 else len(bottom) + axis + 1
    if not 0 <= start <= len(bottom):
        raise LayerProblem(f"axis {axis} out of range for a {len(bottom)}-D bottom")
    if num_axes < -1:
        raise LayerProblem("num_axes must be >= 0, or -1 for all")
    end = len(bottom) if num_axes == -1 else start + num_axes
    if end > len(bottom):
        raise LayerProblem(f"axis + num_axes = {end} is out of range for a {len(bottom)}-D bottom")
    if list(shape).count(-1) > 1:
        raise LayerProblem("new shape contains more than one -1")
    top = list(bottom[:start]) + list(shape) + list(bottom[end:])
    for i, dim in enumerate(shape):
        if dim == 0:
            if start + i >= len(bottom):
                raise LayerProblem("new shape contains a 0, but there was no corresponding bottom axis to copy")
            top[start + i] = bottom[start + i]
        elif dim < -1:
            raise LayerProblem(f"invalid dimension {dim} in new shape")
    if -1 in shape:
        i = start + list(shape).index(-1)
        known = count(top[:i]) * count(top[i + 1:])
        if known == 0 or count(bottom) % known:
            raise LayerProblem(f"bottom count {count(bottom)} of {format_shape(bottom)} is not divisible by "
                               f"the product of the specified dimensions ({known})")
        top[i] = count(bottom) // known
    if count(top) != count(bottom):
        raise LayerProblem(f"output count {count(top)} of {format_shape(top)} does not match input count "
                           f"{count(bottom)} of {format_shape(bottom)}")
    return LayerShapes(tops=(tuple(top),))


def reshape(bottoms: Sequence[Tensor], *, shape: Shape, axis: int, num_axes: int) -> list[Tensor]:
    top = reshape_shapes([tuple(bottoms[0].shape)], shape=shape, axis=axis, num_axes=num_axes).tops[0]
    return [bottoms[0].reshape(top)]


def _crop_offsets(data: Shape, like: Shape, axis: int, offset: tuple[int, ...]) -> tuple[int, list[int]]:
    start = canonical_axis(axis, len(data))
    if len(like) != len(data):
        raise LayerProblem(f"bottom 1 {format_shape(like)} must have as many axes as bottom 0 "
                           f"{format_shape(data)}")
    if len(offset) > 1 and start + len(offset) != len(data):
        raise LayerProblem(f"{len(offset)} offsets given; need one, or one per axis from {start} "
                           f"({len(data) - start})")
    offsets = []
    for i in range(len(data)):
        off = 0 if i < start or not offset else offset[0] if len(offset) == 1 else offset[i - start]
        if i >= start and data[i] - off < like[i]:
            raise LayerProblem(f"crop of axis {i} out of bounds: size {like[i]} at offset {off} in "
                               f"{format_shape(data)}")
        offsets.append(off)
    return start, offsets


def crop_shapes(bottoms: Sequence[Shape], *, axis: int, offset: tuple[int, ...]) -> LayerShapes:
    need_bottoms(bottoms, 2)
    data, like = bottoms
    start, _ = _crop_offsets(data, like, axis, offset)
    return LayerShapes(tops=((*data[:start], *like[start:]),))


def crop(bottoms: Sequence[Tensor], *, axis: int, offset: tuple[int, ...]) -> list[Tensor]:
    data, like = bottoms
    start, offsets = _crop_offsets(tuple(data.shape), tuple(like.shape), axis, offset)
    index = tuple(builtins.slice(o, o + like.shape[i]) if i >= start else builtins.slice(None)
                  for i, o in enumerate(offsets))
    return [data[index]]


def tile_shapes(bottoms: Sequence[Shape], *, axis: int, tiles: int) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    axis = canonical_axis(axis, len(shape))
    if tiles <= 0:
        raise LayerProblem("number of tiles must be positive")
    return LayerShapes(tops=((*shape[:axis], shape[axis] * tiles, *shape[axis + 1:]),))


def tile(bottoms: Sequence[Tensor], *, axis: int, tiles: int) -> list[Tensor]:
    x = bottoms[0]
    axis = canonical_axis(axis, x.dim())
    reps = [1] * x.dim()
    reps[axis] = tiles
    return [x.repeat(*reps)]


def _full_order(order: tuple[int, ...], ndim: int) -> list[int]:
    full: list[int] = []
    for axis in order:
        if not 0 <= axis < ndim:
            raise LayerProblem(f"order {order} names axis {axis} of a {ndim}-D bottom")
        if axis in full:
            raise LayerProblem(f"order {order} repeats axis {axis}")
        full.append(axis)
    return full + [axis for axis in range(ndim) if axis not in full]


def permute_shapes(bottoms: Sequence[Shape], *, order: tuple[int, ...]) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    return LayerShapes(tops=(tuple(shape[a] for a in _full_order(order, len(shape))),))


def permute(bottoms: Sequence[Tensor], *, order: tuple[int, ...]) -> list[Tensor]:
    x = bottoms[0]
    return [x.permute(*_full_order(order, x.dim())).contiguous()]


def parameter_shapes(bottoms: Sequence[Shape], *, shape: Shape) -> LayerShapes:
    need_bottoms(bottoms, 0)
    return LayerShapes(tops=(shape,), params=(shape,))


def parameter(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], shape: Shape) -> list[Tensor]:
    """Caffe Parameter: the layer's one blob, exposed as its top."""
    return [blobs[0]]
