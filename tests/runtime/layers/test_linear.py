"""InnerProduct (axis flattening, transpose) and Embed."""
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
