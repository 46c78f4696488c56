"""Neuron layers against Caffe's formulas, written in float64 numpy."""
from __future__ import annotations

import numpy as np
import pytest
from runtime_case import layer_shapes, rng, run_layer

# float32 transcendental functions vs float64 numpy: a few ulps relative.
RTOL = 1e-5
ATOL = 1e-6


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


CASES = [
    ('type: "ReLU"', lambda x: np.maximum(x, 0)),
    ('type: "ReLU" relu_param { negative_slope: 0.1 }', lambda x: np.where(x > 0, x, 0.1 * x)),
    ('type: "ELU" elu_param { alpha: 0.5 }', lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    ('type: "Sigmoid"', sigmoid),
    ('type: "Swish" swish_param { beta: 1.5 }', lambda x: x * sigmoid(1.5 * x)),
    ('type: "TanH"', np.tanh),
    ('type: "AbsVal"', np.abs),
    ('type: "BNLL"', lambda x: np.where(x > 0, x + np.log1p(np.exp(-x)), np.log1p(np.exp(x)))),
    ('type: "Exp"', np.exp),
    ('type: "Exp" exp_param { base: 2 scale: 0.5 shift: 1 }', lambda x: 2.0 ** (1 + 0.5 * x)),
    ('type: "Log" log_param { shift: 20 }', lambda x: np.log(20 + x)),
    ('type: "Log" log_param { base: 10 scale: 0.5 shift: 10 }', lambda x: np.log10(10 + 0.5 * x)),
    ('type: "Power" power_param { power: 2 scale: 0.5 shift: 1 }', lambda x: (1 + 0.5 * x) ** 2),
    ('type: "Power" power_param { power: -1 shift: 10 }', lambda x: 1 / (10 + x)),
    ('type: "Power" power_param { power: 3 scale: 0 shift: 2 }', lambda x: np.full_like(x, 8.0)),
    ('type: "Power" power_param { power: 0 scale: 3 }', lambda x: np.ones_like(x)),
    ('type: "Threshold" threshold_param { threshold: 0.2 }', lambda x: (x > 0.2).astype(np.float64)),
    ('type: "Clip" clip_param { min: -0.5 max: 1.5 }', lambda x: np.clip(x, -0.5, 1.5)),
    ('type: "Dropout" dropout_param { dropout_ratio: 0.7 }', lambda x: x),
]


@pytest.mark.parametrize("text, formula", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 7)])
def test_neuron(text, formula, shape) -> None:
    x = rng(len(shape)).standard_normal(shape).astype(np.float32) * 3
    (y,) = run_layer(text, x)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, formula(x.astype(np.float64)), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("shared", [False, True])
def test_prelu(shared: bool) -> None:
    r = rng(2)
    x = r.standard_normal((2, 3, 4, 4)).astype(np.float32)
    slope = np.array(0.3) if shared else r.uniform(0, 0.5, 3)
    text = f'type: "PReLU" prelu_param {{ channel_shared: {str(shared).lower()} }}'
    (y,) = run_layer(text, x, blobs=[slope])
    view = slope if shared else slope.reshape(1, 3, 1, 1)
    np.testing.assert_allclose(y, np.where(x > 0, x, view * x), rtol=RTOL)
    assert layer_shapes(text, (2, 3, 4, 4))[1] == ([()] if shared else [(3,)])


def test_prelu_on_two_axes() -> None:
    x = np.array([[-1.0, -2.0], [3.0, -4.0]], dtype=np.float32)
    (y,) = run_layer('type: "PReLU"', x, blobs=[np.array([0.5, 0.25])])
    np.testing.assert_allclose(y, [[-0.5, -0.5], [3.0, -1.0]])
