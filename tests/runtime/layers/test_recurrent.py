"""LSTM and RNN against Caffe's unit equations."""
from __future__ import annotations
import numpy as np
import pytest

from purecaffe.errors import PurecaffeError
from runtime_case import layer_shapes, rng, run_layer


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


def _lstm_case(seed: int, t_steps: int, n: int, d: int, h: int) -> tuple[np.ndarray, list[np.ndarray]]:
    r = rng(seed)
    x = r.standard_normal((t_steps, n, d)).astype(np.float32)
    blobs = [r.standard_normal(s).astype(np.float32) * 0.5 for s in ((4 * h, d), (4 * h,), (4 * h, h))]
    return x, blobs


def test_lstm_of_x_alone_is_one_sequence_from_zero() -> None:
    """The cont-less form (what RKNN and OpenCV read): the same numbers as cont 0 at t = 0, 1 after."""
    x, blobs = _lstm_case(9, 5, 3, 4, 6)
    text = 'type: "LSTM" recurrent_param { num_output: 6 }'
    cont = np.ones((5, 3), dtype=np.float32)
    cont[0] = 0.0
    (alone,) = run_layer(text, x, blobs=blobs)
    (with_cont,) = run_layer(text, x, cont, blobs=blobs)
    np.testing.assert_array_equal(alone, with_cont)   # the same float32 arithmetic, step by step
    assert layer_shapes(text, (5, 3, 4)) == ([(5, 3, 6)], [(24, 4), (24,), (24, 6)])


def test_lstm_reads_opencvs_five_blobs() -> None:
    """OpenCV's stored layout W_hc, W_xc, b_c, h0, c0 (zero states) is read as Caffe's W_xc, b_c, W_hc."""
    x, (w_xc, b_c, w_hc) = _lstm_case(10, 4, 2, 3, 5)
    text = 'type: "LSTM" recurrent_param { num_output: 5 }'
    zeros = np.zeros((2, 5), dtype=np.float32)
    (caffe,) = run_layer(text, x, blobs=[w_xc, b_c, w_hc])
    (opencv,) = run_layer(text, x, blobs=[w_hc, w_xc, b_c, zeros, zeros])
    np.testing.assert_array_equal(opencv, caffe)


def test_lstm_refuses_opencv_blobs_with_a_stored_state() -> None:
    x, (w_xc, b_c, w_hc) = _lstm_case(11, 2, 1, 3, 2)
    state = np.ones((1, 2), dtype=np.float32)
    with pytest.raises(PurecaffeError, match="non-zero stored states h0/c0"):
        run_layer('type: "LSTM" recurrent_param { num_output: 2 }', x, blobs=[w_hc, w_xc, b_c, state, state])
