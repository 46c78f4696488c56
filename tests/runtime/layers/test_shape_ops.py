"""Reshape (0 / -1 / axis / num_axes), Flatten, Concat, Slice, Split, Crop, Tile, Permute, Parameter."""
from __future__ import annotations

import numpy as np
import pytest
from runtime_case import layer_shapes, rng, run_layer

from purecaffe.errors import ShapeError


def dims(*values: int) -> str:
    return " ".join(f"dim: {v}" for v in values)


@pytest.mark.parametrize("shape, axis, num_axes, bottom, expected", [
    ((0, -1), 0, -1, (2, 3, 4, 5), (2, 60)),
    ((0, 0, -1), 0, -1, (2, 3, 4, 5), (2, 3, 20)),
    ((-1, 3), 0, -1, (2, 3, 4), (8, 3)),
    ((0, 2, -1, 0), 0, -1, (6, 4, 5), None),          # the last 0 has no bottom axis 3 -> error
    ((2, 2), 1, 1, (3, 4, 5), (3, 2, 2, 5)),          # replace axis 1 only
    ((1,), 1, 0, (3, 4), (3, 1, 4)),                 # insert an axis
    ((-1,), -1, 0, (3, 4), (3, 4, 1)),               # axis -1 means after the last axis
    ((0, -1), 1, -1, (2, 3, 4, 5), (2, 3, 20)),       # 0 copies bottom axis 1 (axis + index)
    ((0, -1, 21), 0, -1, (1, 8732 * 21), (1, 8732, 21)),   # SSD mbox_conf_reshape
])
def test_reshape(shape, axis, num_axes, bottom, expected) -> None:
    text = f'type: "Reshape" reshape_param {{ shape {{ {dims(*shape)} }} axis: {axis} num_axes: {num_axes} }}'
    if expected is None:
        with pytest.raises(ShapeError, match="no corresponding bottom axis"):
            layer_shapes(text, bottom)
        return
    assert layer_shapes(text, bottom)[0] == [expected]
    if np.prod(bottom) < 10_000:
        x = rng().standard_normal(bottom).astype(np.float32)
        (y,) = run_layer(text, x)
        np.testing.assert_array_equal(y, x.reshape(expected))


@pytest.mark.parametrize("shape, message", [((-1, -1), "more than one -1"), ((7, -1), "not divisible"),
                                            ((5, 5), "does not match")])
def test_reshape_errors(shape, message) -> None:
    with pytest.raises(ShapeError, match=message):
        layer_shapes(f'type: "Reshape" reshape_param {{ shape {{ {dims(*shape)} }} }}', (2, 3, 4))


@pytest.mark.parametrize("axis, end_axis, expected", [(1, -1, (2, 60)), (0, -1, (120,)), (1, 2, (2, 12, 5)),
                                                      (2, 3, (2, 3, 20)), (-3, -2, (2, 12, 5))])
def test_flatten(axis, end_axis, expected) -> None:
    x = rng().standard_normal((2, 3, 4, 5)).astype(np.float32)
    (y,) = run_layer(f'type: "Flatten" flatten_param {{ axis: {axis} end_axis: {end_axis} }}', x)
    np.testing.assert_array_equal(y, x.reshape(expected))


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_concat(axis: int) -> None:
    r = rng(1)
    a = r.standard_normal((2, 3, 4)).astype(np.float32)
    shape_b = list(a.shape)
    shape_b[axis] = 5
    b = r.standard_normal(shape_b).astype(np.float32)
    (y,) = run_layer(f'type: "Concat" concat_param {{ axis: {axis} }}', a, b)
    np.testing.assert_array_equal(y, np.concatenate([a, b], axis=axis))


def test_concat_dim_and_single_bottom() -> None:
    a = np.ones((1, 2, 3), dtype=np.float32)
    (y,) = run_layer('type: "Concat" concat_param { concat_dim: 2 }', a, a)
    assert y.shape == (1, 2, 6)
    (z,) = run_layer('type: "Concat"', a)
    np.testing.assert_array_equal(z, a)


def test_concat_mismatch_names_both_shapes() -> None:
    with pytest.raises(ShapeError, match=r"\(1, 128, 24, 24\) vs bottom 1 \(1, 256, 26, 26\)"):
        layer_shapes('type: "Concat"', (1, 128, 24, 24), (1, 256, 26, 26))


def test_slice_points_and_even_split() -> None:
    x = np.arange(15 * 2, dtype=np.float32).reshape(1, 15, 2)
    points = " ".join(f"slice_point: {p}" for p in (3, 6, 9, 12))
    tops = run_layer(f'type: "Slice" slice_param {{ axis: 1 {points} }}', x, tops=5)
    assert [t.shape[1] for t in tops] == [3] * 5
    np.testing.assert_array_equal(np.concatenate(tops, axis=1), x)
    a, b = run_layer('type: "Slice" slice_param { slice_dim: 2 slice_point: 1 }', x.reshape(1, 5, 6), tops=2)
    assert a.shape == (1, 5, 1) and b.shape == (1, 5, 5)
    even = run_layer('type: "Slice" slice_param { axis: -1 }', x.reshape(1, 5, 6), tops=3)
    assert [t.shape for t in even] == [(1, 5, 2)] * 3
    with pytest.raises(ShapeError, match="evenly"):
        layer_shapes('type: "Slice"', (1, 5, 6), tops=2)


def test_split_copies_and_silence_has_no_tops() -> None:
    x = rng().standard_normal((2, 3)).astype(np.float32)
    a, b = run_layer('type: "Split"', x, tops=2)
    np.testing.assert_array_equal(a, x)
    np.testing.assert_array_equal(b, x)
    assert run_layer('type: "Silence"', x, tops=0) == []


@pytest.mark.parametrize("axis, offset, like, expected_index", [
    (2, (5,), (1, 2, 3, 4), (slice(None), slice(None), slice(5, 8), slice(5, 9))),          # FCN score crop
    (2, (1, 3), (1, 2, 3, 4), (slice(None), slice(None), slice(1, 4), slice(3, 7))),
    (1, (), (1, 2, 3, 4), (slice(None), slice(0, 2), slice(0, 3), slice(0, 4))),
    (-1, (2,), (1, 4, 10, 4), (slice(None), slice(None), slice(None), slice(2, 6))),
])
def test_crop(axis, offset, like, expected_index) -> None:
    x = rng().standard_normal((1, 4, 10, 12)).astype(np.float32)
    offsets = " ".join(f"offset: {o}" for o in offset)
    (y,) = run_layer(f'type: "Crop" crop_param {{ axis: {axis} {offsets} }}', x, np.zeros(like, np.float32))
    np.testing.assert_array_equal(y, x[expected_index])


def test_crop_out_of_bounds() -> None:
    with pytest.raises(ShapeError, match="out of bounds"):
        layer_shapes('type: "Crop" crop_param { axis: 2 offset: 8 }', (1, 4, 10, 12), (1, 4, 3, 3))


def test_tile_repeats_blocks() -> None:
    x = np.array([[1, 2], [3, 4]], dtype=np.float32)
    (y,) = run_layer('type: "Tile" tile_param { axis: 1 tiles: 3 }', x)
    np.testing.assert_array_equal(y, [[1, 2, 1, 2, 1, 2], [3, 4, 3, 4, 3, 4]])
    (z,) = run_layer('type: "Tile" tile_param { axis: 0 tiles: 2 }', x)
    np.testing.assert_array_equal(z, np.tile(x, (2, 1)))


@pytest.mark.parametrize("order, full", [((0, 2, 3, 1), (0, 2, 3, 1)), ((0, 3), (0, 3, 1, 2)), ((), (0, 1, 2, 3))])
def test_permute(order, full) -> None:
    x = rng().standard_normal((2, 3, 4, 5)).astype(np.float32)
    text = "type: \"Permute\" permute_param { " + " ".join(f"order: {o}" for o in order) + " }"
    (y,) = run_layer(text, x)
    np.testing.assert_array_equal(y, x.transpose(full))


def test_parameter_layer() -> None:
    from purecaffe.io.prototxt import parse_net_text
    from purecaffe.runtime import run
    net = parse_net_text('layer { name: "p" type: "Parameter" top: "p" '
                         '        parameter_param { shape { dim: 2 dim: 3 } } }')
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    result = run(net, {"p": [value]}, {})
    np.testing.assert_array_equal(result.blobs["p"], value)
    assert result.shapes.param_shapes == {"p": [(2, 3)]}
