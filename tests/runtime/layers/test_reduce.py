"""Softmax (any axis), ArgMax (with and without axis, top_k, out_max_val), Reduction."""
from __future__ import annotations
import numpy as np
import pytest
from runtime_case import rng, run_layer


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_softmax_axis(axis: int) -> None:
    x = rng().standard_normal((2, 3, 4)).astype(np.float32) * 5
    (y,) = run_layer(f'type: "Softmax" softmax_param {{ axis: {axis} }}', x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=axis, keepdims=True), rtol=1e-5, atol=1e-7)


def test_argmax_without_axis() -> None:
    x = np.array([[[1, 5, 5, 2]], [[7, 0, 7, 7]]], dtype=np.float32)       # ties go to the larger index
    (y,) = run_layer('type: "ArgMax" argmax_param { top_k: 2 }', x)
    np.testing.assert_array_equal(y, [[[2, 1]], [[3, 2]]])
    (z,) = run_layer('type: "ArgMax" argmax_param { top_k: 2 out_max_val: true }', x)
    assert z.shape == (2, 2, 2)
    np.testing.assert_array_equal(z, [[[2, 1], [5, 5]], [[3, 2], [7, 7]]])


def test_argmax_with_axis() -> None:
    x = rng().standard_normal((2, 5, 3)).astype(np.float32)
    (y,) = run_layer('type: "ArgMax" argmax_param { axis: 1 }', x)
    np.testing.assert_array_equal(y, x.argmax(axis=1)[:, None, :])
    (v,) = run_layer('type: "ArgMax" argmax_param { axis: 1 top_k: 2 out_max_val: true }', x)
    np.testing.assert_array_equal(v, -np.sort(-x, axis=1)[:, :2])


@pytest.mark.parametrize("operation, formula", [
    ("SUM", lambda r: r.sum(1)), ("ASUM", lambda r: np.abs(r).sum(1)),
    ("SUMSQ", lambda r: (r * r).sum(1)), ("MEAN", lambda r: r.mean(1)),
])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_reduction(operation, formula, axis) -> None:
    x = rng().standard_normal((2, 3, 4)).astype(np.float32)
    (y,) = run_layer(f'type: "Reduction" reduction_param {{ operation: {operation} axis: {axis} coeff: 2 }}', x)
    keep = x.shape[:axis % 3]
    expected = 2 * formula(x.astype(np.float64).reshape(int(np.prod(keep)), -1)).reshape(keep)
    assert y.shape == keep
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
