"""Eltwise (SUM with coeff, PROD, MAX) and Scale/Bias broadcasting (axis, num_axes, second bottom)."""
from __future__ import annotations

import numpy as np
import pytest
from runtime_case import layer_shapes, rng, run_layer

from purecaffe.errors import ShapeError

RTOL = 1e-6  # one or two float32 operations per element


@pytest.fixture
def abc() -> list[np.ndarray]:
    return list(rng(0).standard_normal((3, 2, 3, 4)).astype(np.float32))


def test_sum_with_coefficients(abc) -> None:
    (y,) = run_layer('type: "Eltwise" eltwise_param { operation: SUM coeff: 1 coeff: -0.5 coeff: 2 }', *abc)
    np.testing.assert_allclose(y, abc[0] - 0.5 * abc[1] + 2 * abc[2], rtol=RTOL, atol=1e-6)


def test_default_is_sum(abc) -> None:
    (y,) = run_layer('type: "Eltwise"', abc[0], abc[1])
    np.testing.assert_allclose(y, abc[0] + abc[1], rtol=RTOL)


def test_prod_and_max(abc) -> None:
    (p,) = run_layer('type: "Eltwise" eltwise_param { operation: PROD }', *abc)
    np.testing.assert_allclose(p, abc[0] * abc[1] * abc[2], rtol=RTOL)
    (m,) = run_layer('type: "Eltwise" eltwise_param { operation: MAX }', *abc)
    np.testing.assert_array_equal(m, np.maximum(np.maximum(abc[0], abc[1]), abc[2]))


def test_integer_enum_operation(abc) -> None:
    # SphereFace writes SUM as 1
    (y,) = run_layer('type: "Eltwise" eltwise_param { operation: 1 }', abc[0], abc[1])
    np.testing.assert_allclose(y, abc[0] + abc[1], rtol=RTOL)


@pytest.mark.parametrize("text, shapes, message", [
    ('eltwise_param { operation: PROD coeff: 1 coeff: 2 }', [(1, 2), (1, 2)], "only for SUM"),
    ('eltwise_param { coeff: 1 }', [(1, 2), (1, 2)], "one per bottom"),
    ('', [(1, 2), (1, 3)], "identical shapes"),
])
def test_eltwise_errors(text, shapes, message) -> None:
    with pytest.raises(ShapeError, match=message):
        layer_shapes(f'type: "Eltwise" {text}', *shapes)


@pytest.mark.parametrize("axis, num_axes, factor_shape, view", [
    (1, 1, (3,), (1, 3, 1, 1)),
    (1, 2, (3, 4), (1, 3, 4, 1)),
    (1, -1, (3, 4, 5), (1, 3, 4, 5)),
    (-2, 1, (4,), (1, 1, 4, 1)),
    (0, 0, (), ()),
    (2, 2, (4, 5), (1, 1, 4, 5)),
])
@pytest.mark.parametrize("bias_term", [False, True])
def test_scale_with_own_blob(axis, num_axes, factor_shape, view, bias_term) -> None:
    r = rng(1)
    x = r.standard_normal((2, 3, 4, 5)).astype(np.float32)
    factor = r.standard_normal(factor_shape).astype(np.float32)
    bias = r.standard_normal(factor_shape).astype(np.float32)
    text = f'type: "Scale" scale_param {{ axis: {axis} num_axes: {num_axes} bias_term: {str(bias_term).lower()} }}'
    (y,) = run_layer(text, x, blobs=[factor, bias] if bias_term else [factor])
    expected = x * factor.reshape(view) + (bias.reshape(view) if bias_term else 0)
    np.testing.assert_allclose(y, expected, rtol=RTOL, atol=1e-6)
    assert layer_shapes(text, x.shape)[1] == [factor_shape] * (2 if bias_term else 1)


@pytest.mark.parametrize("axis, second, view", [(0, (2, 3), (2, 3, 1, 1)), (1, (3, 4), (1, 3, 4, 1)),
                                                (2, (4, 5), (1, 1, 4, 5)), (1, (3,), (1, 3, 1, 1))])
def test_scale_and_bias_with_second_bottom(axis, second, view) -> None:
    r = rng(2)
    x = r.standard_normal((2, 3, 4, 5)).astype(np.float32)
    factor = r.standard_normal(second).astype(np.float32)
    bias = r.standard_normal(second).astype(np.float32)
    (y,) = run_layer(f'type: "Scale" scale_param {{ axis: {axis} bias_term: true }}', x, factor, blobs=[bias])
    np.testing.assert_allclose(y, x * factor.reshape(view) + bias.reshape(view), rtol=RTOL, atol=1e-6)
    _, params = layer_shapes(f'type: "Scale" scale_param {{ axis: {axis} bias_term: true }}', x.shape, second)
    assert params == [second]
    (z,) = run_layer(f'type: "Bias" bias_param {{ axis: {axis} }}', x, factor)
    np.testing.assert_allclose(z, x + factor.reshape(view), rtol=RTOL)
    assert layer_shapes(f'type: "Bias" bias_param {{ axis: {axis} }}', x.shape, second)[1] == []


def test_bias_with_own_blob() -> None:
    x = np.zeros((1, 2, 2), dtype=np.float32)
    (y,) = run_layer('type: "Bias" bias_param { axis: 1 num_axes: 2 }', x, blobs=[np.array([[1, 2], [3, 4]])])
    np.testing.assert_array_equal(y, [[[1, 2], [3, 4]]])


def test_scale_mismatch_is_an_error() -> None:
    with pytest.raises(ShapeError, match="does not match"):
        layer_shapes('type: "Scale" scale_param { axis: 1 }', (2, 3, 4), (4,))
