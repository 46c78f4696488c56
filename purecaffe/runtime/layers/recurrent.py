"""LSTM and RNN (recurrent_layer.cpp, lstm_layer.cpp, rnn_layer.cpp, lstm_unit_layer.cpp).

Bottoms: `x` (T, N, ...), `cont` (T, N) (0 marks the start of a sequence), optionally a
static input (N, ...), and with `expose_hidden` the initial states (1, N, H) (LSTM: h0, c0).
Top: (T, N, H) (`h` for LSTM, `o` for RNN), plus the final states with `expose_hidden`.
An LSTM of `x` alone is the form RKNN-Toolkit2 and OpenCV read (real Caffe needs `cont`): one
sequence per sample, from t = 0 (the same as cont 0 at t = 0 and 1 after).
Without `expose_hidden` the initial state is 0 (a freshly created net; Caffe carries the
last state over between forward calls, which a one-shot runtime never sees).

Parameter blobs, in Caffe's order (D = count of x per step, Ds = count of the static input):
  LSTM: W_xc (4H, D), b_c (4H,), [W_xc_static (4H, Ds)], W_hc (4H, H); gates i, f, o, g.
  RNN:  W_xh (H, D), b_h (H,), [W_xh_static (H, Ds)], W_hh (H, H), W_ho (H, H), b_o (H,).
OpenCV stores a cont-less LSTM's blobs as W_hc, W_xc, b_c, h0 (N, H), c0 (N, H) (its LSTMLayer asserts
five; recurrent_layers.cpp); `lstm_stored` reads that layout back as Caffe's three (the states zero).
LSTM step: `h' = cont * h`; `g = W_hc h' + W_xc x_t + b_c (+ W_xc_static s)`;
`c = cont * sigmoid(f) * c + sigmoid(i) * tanh(g)`; `h = sigmoid(o) * tanh(c)`.
RNN step: `h = tanh(W_hh (cont * h) + W_xh x_t + b_h (+ static))`; `o = tanh(W_ho h + b_o)`.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from purecaffe.runtime.layers.base import LayerProblem, LayerShapes, Shape, Tensor, count, format_shape


def _split_bottoms(bottoms: Sequence[Shape], expose_hidden: bool, n_states: int) -> tuple[bool, int]:
    """(has a static input, index of the first state bottom); an LSTM (n_states 2) may take x alone."""
    if not bottoms or (len(bottoms) < 2 and n_states != 2):
        raise LayerProblem("takes x (T, N, ...) and cont (T, N) bottoms")
    x = bottoms[0]
    if len(x) < 2:
        raise LayerProblem(f"bottom 0 must have at least 2 axes (T, N, ...), got {format_shape(x)}")
    if len(bottoms) == 1:
        if expose_hidden:
            raise LayerProblem("expose_hidden needs the cont bottom and the state bottoms")
        return False, 1
    cont = bottoms[1]
    if tuple(cont) != tuple(x[:2]):
        raise LayerProblem(f"cont {format_shape(cont)} must be (T, N) = {format_shape(x[:2])}")
    exposed = n_states if expose_hidden else 0
    static = len(bottoms) > 2 + exposed
    if len(bottoms) != 2 + int(static) + exposed:
        raise LayerProblem(f"unexpected number of bottoms ({len(bottoms)})")
    if static and bottoms[2][0] != x[1]:
        raise LayerProblem(f"static input {format_shape(bottoms[2])} must have N = {x[1]} first")
    return static, 2 + int(static)


def _shapes(bottoms: Sequence[Shape], *, num_output: int, expose_hidden: bool, lstm: bool) -> LayerShapes:
    if num_output <= 0:
        raise LayerProblem("num_output must be positive")
    n_states = 2 if lstm else 1
    static, first_state = _split_bottoms(bottoms, expose_hidden, n_states)
    t, n = bottoms[0][:2]
    hidden = num_output
    state = (1, n, hidden)
    for shape in bottoms[first_state:]:
        if tuple(shape) != state:
            raise LayerProblem(f"initial state {format_shape(shape)} must be {format_shape(state)}")
    d = count(bottoms[0], 2)
    gates = 4 * hidden if lstm else hidden
    params: list[Shape] = [(gates, d), (gates,)]
    if static:
        params.append((gates, count(bottoms[2], 1)))
    params.append((gates, hidden))
    if not lstm:
        params += [(hidden, hidden), (hidden,)]
    tops = [(t, n, hidden)] + ([state] * n_states if expose_hidden else [])
    return LayerShapes(tops=tuple(tops), params=tuple(params))


def lstm_shapes(bottoms: Sequence[Shape], *, num_output: int, expose_hidden: bool) -> LayerShapes:
    return _shapes(bottoms, num_output=num_output, expose_hidden=expose_hidden, lstm=True)


def rnn_shapes(bottoms: Sequence[Shape], *, num_output: int, expose_hidden: bool) -> LayerShapes:
    return _shapes(bottoms, num_output=num_output, expose_hidden=expose_hidden, lstm=False)


def lstm_stored(stored: Sequence[Tensor], expected: Sequence[Shape]) -> Sequence[Tensor]:
    """OpenCV's blobs of a cont-less LSTM (W_hc, W_xc, b_c, h0, c0, zero states) as Caffe's (W_xc, b_c, W_hc);
    any other list as it is (the interpreter checks it against `expected`)."""
    if len(stored) != 5 or len(expected) != 3:
        return stored
    w_h, w_x, bias, h0, c0 = stored
    if tuple(w_h.shape) != tuple(expected[2]) or tuple(w_x.shape) != tuple(expected[0]):
        return stored
    if bool(torch.any(h0 != 0)) or bool(torch.any(c0 != 0)):
        raise LayerProblem("OpenCV-layout LSTM with non-zero stored states h0/c0: the runtime starts from zero")
    return [w_x, bias.reshape(expected[1]), w_h]


def _sequence_start(t_steps: int, n: int, dtype: torch.dtype) -> Tensor:
    """cont of one sequence per sample: 0 at t = 0, 1 after."""
    cont = torch.ones(t_steps, n, dtype=dtype)
    cont[0] = 0
    return cont


def lstm(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], num_output: int,
         expose_hidden: bool) -> list[Tensor]:
    x = bottoms[0]
    cont = bottoms[1] if len(bottoms) > 1 else _sequence_start(x.shape[0], x.shape[1], x.dtype)
    static, first_state = _split_bottoms([tuple(b.shape) for b in bottoms], expose_hidden, 2)
    t_steps, n = x.shape[:2]
    hidden = num_output
    w_x, b_x = blobs[0], blobs[1]
    w_h = blobs[3] if static else blobs[2]
    x_gates = torch.nn.functional.linear(x.reshape(t_steps, n, -1), w_x, b_x)
    if static:
        x_gates = x_gates + (bottoms[2].reshape(n, -1) @ blobs[2].T)[None]
    if expose_hidden:
        h, c = bottoms[first_state][0], bottoms[first_state + 1][0]
    else:
        h = c = torch.zeros(n, hidden, dtype=x.dtype)
    outputs = []
    for t in range(t_steps):
        keep = cont[t].reshape(n, 1)
        gates = (h * keep) @ w_h.T + x_gates[t]
        i = torch.sigmoid(gates[:, :hidden])
        f = torch.where(keep == 0, torch.zeros_like(keep), keep * torch.sigmoid(gates[:, hidden:2 * hidden]))
        o = torch.sigmoid(gates[:, 2 * hidden:3 * hidden])
        g = torch.tanh(gates[:, 3 * hidden:])
        c = f * c + i * g
        h = o * torch.tanh(c)
        outputs.append(h)
    tops = [torch.stack(outputs)]
    return tops + ([h[None], c[None]] if expose_hidden else [])


def rnn(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], num_output: int,
        expose_hidden: bool) -> list[Tensor]:
    x, cont = bottoms[0], bottoms[1]
    static, first_state = _split_bottoms([tuple(b.shape) for b in bottoms], expose_hidden, 1)
    t_steps, n = x.shape[:2]
    offset = 1 if static else 0
    w_xh, b_h = blobs[0], blobs[1]
    w_hh, w_ho, b_o = blobs[2 + offset], blobs[3 + offset], blobs[4 + offset]
    x_in = torch.nn.functional.linear(x.reshape(t_steps, n, -1), w_xh, b_h)
    if static:
        x_in = x_in + (bottoms[2].reshape(n, -1) @ blobs[2].T)[None]
    h = bottoms[first_state][0] if expose_hidden else torch.zeros(n, num_output, dtype=x.dtype)
    outputs = []
    for t in range(t_steps):
        h = torch.tanh((h * cont[t].reshape(n, 1)) @ w_hh.T + x_in[t])
        outputs.append(torch.tanh(torch.nn.functional.linear(h, w_ho, b_o)))
    tops = [torch.stack(outputs)]
    return tops + ([h[None]] if expose_hidden else [])
