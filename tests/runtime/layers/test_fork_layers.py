"""Fork layers: Upsample, Interp, PriorBox, DetectionOutput (shapes), and LSTM/RNN."""
from __future__ import annotations

import numpy as np
import pytest
from runtime_case import layer_shapes, rng, run_layer

from purecaffe.errors import UnsupportedError


def test_upsample_nearest() -> None:
    x = np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)
    (y,) = run_layer('type: "Upsample" upsample_param { scale: 2 }', x)
    np.testing.assert_array_equal(y[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


def test_upsample_with_mask_unpools() -> None:
    x = np.array([[[[5, 6]]]], dtype=np.float32)
    mask = np.array([[[[1, 6]]]], dtype=np.float32)      # positions in the 2x4 output plane
    (y,) = run_layer('type: "Upsample" upsample_param { scale: 2 }', x, mask)
    np.testing.assert_array_equal(y[0, 0], [[0, 5, 0, 0], [0, 0, 6, 0]])


def test_interp_align_corners_hand_checked() -> None:
    x = np.array([[[[0, 1], [2, 3]]]], dtype=np.float32)
    (y,) = run_layer('type: "Interp" interp_param { zoom_factor: 2 }', x)
    np.testing.assert_allclose(y[0, 0], [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])


@pytest.mark.parametrize("param, bottom, expected", [
    ("zoom_factor: 8", (1, 150, 60, 60), (1, 150, 473, 473)),     # PSPNet conv6_interp
    ("shrink_factor: 2", (1, 3, 473, 473), (1, 3, 237, 237)),
    ("shrink_factor: 2 zoom_factor: 3", (1, 3, 9, 9), (1, 3, 13, 13)),
    ("height: 60 width: 50", (1, 3, 1, 1), (1, 3, 60, 50)),
])
def test_interp_sizes(param, bottom, expected) -> None:
    assert layer_shapes(f'type: "Interp" interp_param {{ {param} }}', bottom)[0] == [expected]


def test_interp_from_one_pixel_repeats_it() -> None:
    (y,) = run_layer('type: "Interp" interp_param { height: 3 width: 2 }', np.full((1, 2, 1, 1), 7, np.float32))
    np.testing.assert_array_equal(y, np.full((1, 2, 3, 2), 7))


def test_prior_box_shape_and_values() -> None:
    text = ('type: "PriorBox" prior_box_param { min_size: 30 max_size: 60 aspect_ratio: 2 flip: true clip: false '
            'variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step: 8 offset: 0.5 }')
    assert layer_shapes(text, (1, 512, 38, 38), (1, 3, 300, 300))[0] == [(1, 2, 38 * 38 * 4 * 4)]
    feature, image = np.zeros((1, 1, 1, 1), np.float32), np.zeros((1, 3, 100, 100), np.float32)
    (y,) = run_layer('type: "PriorBox" prior_box_param { min_size: 20 }', feature, image)
    np.testing.assert_allclose(y, [[[0.4, 0.4, 0.6, 0.6], [0.1, 0.1, 0.1, 0.1]]], rtol=1e-6)


def test_detection_output_is_shape_only() -> None:
    text = 'type: "DetectionOutput" detection_output_param { num_classes: 21 }'
    assert layer_shapes(text, (1, 100), (1, 50), (1, 2, 100))[0] == [(1, 1, 1, 7)]
    with pytest.raises(UnsupportedError, match="shape inference only"):
        run_layer(text, np.zeros((1, 100)), np.zeros((1, 50)), np.zeros((1, 2, 100)))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_lstm_against_caffe_unit_equations() -> None:
    r = rng(7)
    t_steps, n, d, h = 3, 2, 4, 5
    x = r.standard_normal((t_steps, n, d)).astype(np.float32)
    cont = np.array([[0, 0], [1, 1], [1, 0]], dtype=np.float32)
    w_xc, b_c, w_hc = (r.standard_normal(s).astype(np.float32) * 0.5 for s in ((4 * h, d), (4 * h,), (4 * h, h)))
    text = 'type: "LSTM" recurrent_param { num_output: 5 }'
    (y,) = run_layer(text, x, cont, blobs=[w_xc, b_c, w_hc])
    hid, cell, outs = np.zeros((n, h)), np.zeros((n, h)), []
    for t in range(t_steps):
        keep = cont[t][:, None]
        g = (hid * keep) @ w_hc.T + x[t] @ w_xc.T + b_c
        i, f = sigmoid(g[:, :h]), keep * sigmoid(g[:, h:2 * h])
        o, c_in = sigmoid(g[:, 2 * h:3 * h]), np.tanh(g[:, 3 * h:])
        cell = f * cell + i * c_in
        hid = o * np.tanh(cell)
        outs.append(hid)
    np.testing.assert_allclose(y, np.stack(outs), atol=1e-5)   # float32 vs float64, values of order 1
    assert layer_shapes(text, (3, 2, 4), (3, 2)) == ([(3, 2, 5)], [(20, 4), (20,), (20, 5)])


def test_rnn_param_shapes_and_forward() -> None:
    r = rng(8)
    x = r.standard_normal((2, 1, 3)).astype(np.float32)
    cont = np.array([[0], [1]], dtype=np.float32)
    text = 'type: "RNN" recurrent_param { num_output: 4 }'
    _, shapes = layer_shapes(text, (2, 1, 3), (2, 1))
    assert shapes == [(4, 3), (4,), (4, 4), (4, 4), (4,)]
    w_xh, b_h, w_hh, w_ho, b_o = (r.standard_normal(s).astype(np.float32) * 0.5 for s in shapes)
    (y,) = run_layer(text, x, cont, blobs=[w_xh, b_h, w_hh, w_ho, b_o])
    hid, outs = np.zeros((1, 4)), []
    for t in range(2):
        hid = np.tanh((hid * cont[t][:, None]) @ w_hh.T + x[t] @ w_xh.T + b_h)
        outs.append(np.tanh(hid @ w_ho.T + b_o))
    np.testing.assert_allclose(y, np.stack(outs), atol=1e-5)
