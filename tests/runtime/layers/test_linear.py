"""InnerProduct (axis flattening, transpose), Embed; Softmax, ArgMax, Reduction."""
from __future__ import annotations

import numpy as np
import pytest
from runtime_case import layer_shapes, rng, run_layer

from purecaffe.errors import PurecaffeError

# float32 GEMM over at most 60 products vs float64 numpy.
ATOL = 1e-5


@pytest.mark.parametrize("axis, bottom, top, k", [(1, (2, 3, 4, 5), (2, 7), 60), (2, (2, 3, 4, 5), (2, 3, 7), 20),
                                                  (-1, (2, 3, 4, 5), (2, 3, 4, 7), 5), (0, (3, 4), (7,), 12)])
@pytest.mark.parametrize("transpose", [False, True])
def test_inner_product_axis(axis, bottom, top, k, transpose) -> None:
    r = rng(k)
    x = r.standard_normal(bottom).astype(np.float32)
    w = r.standard_normal((k, 7) if transpose else (7, k)).astype(np.float32)
    b = r.standard_normal(7).astype(np.float32)
    text = (f'type: "InnerProduct" inner_product_param {{ num_output: 7 axis: {axis} '
            f'transpose: {str(transpose).lower()} }}')
    (y,) = run_layer(text, x, blobs=[w, b])
    rows = x.astype(np.float64).reshape(-1, k)
    expected = (rows @ (w if transpose else w.T) + b).reshape(top)
    np.testing.assert_allclose(y, expected, atol=ATOL)
    assert layer_shapes(text, bottom) == ([top], [w.shape, (7,)])


def test_inner_product_without_bias() -> None:
    _, params = layer_shapes('type: "InnerProduct" inner_product_param { num_output: 3 bias_term: false }', (1, 4))
    assert params == [(3, 4)]


def test_embed() -> None:
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    b = np.array([0.5, 0, -0.5], dtype=np.float32)
    text = 'type: "Embed" embed_param { num_output: 3 input_dim: 4 }'
    (y,) = run_layer(text, np.array([[3, 0], [1, 1]]), blobs=[w, b])
    np.testing.assert_array_equal(y, w[[[3, 0], [1, 1]]] + b)
    assert layer_shapes(text, (2, 2)) == ([(2, 2, 3)], [(4, 3), (3,)])
    with pytest.raises(PurecaffeError, match="outside"):
        run_layer(text, np.array([4.0]), blobs=[w, b])


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
