"""Recurrent layers: LSTM (any number of layers, bidirectional, batch_first) -> Caffe's LSTM layer.

Caffe's LSTM takes the sequence x (T, N, I) and a constant `cont` (T, N) blob, 0 at t = 0 (the
start of every sequence: the state starts at zero) and 1 after; it is a Parameter layer.  The
weights are PyTorch's with the gates reordered (i, f, g, o -> i, f, o, g) and the two biases
summed (`weights.lstm_blobs`).  A reverse direction runs on the sequence reversed in time
(a Slice into T steps and a Concat in the opposite order, which only copies) and is reversed
back; the directions are concatenated on the feature axis, as PyTorch does.

Refused with the reason: non-zero initial states (Caffe's LSTM starts from zero without exposed
states), dropout between layers in training mode, projections (proj_size), and GRU/RNN cells
(Caffe has no GRU layer; its RNN is not PyTorch's).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node, Ref
from purecaffe.converter.registry import lowering
from purecaffe.converter.weights import lstm_blobs, parameter_blobs


def _reverse_time(ctx: LoweringContext, node: Node, x: Blob, part: str) -> Blob:
    """x (T, N, F) with the time axis reversed: Slice into steps, Concat them backwards."""
    steps = x.shape[0]
    if steps == 1:
        return x
    name = ctx.name(node, part)
    cut = builders.slice_layer(f"{name}/steps", x, [f"{name}/t{t}" for t in range(steps)], axis=0)
    tops = ctx.emit(cut)
    return ctx.emit(builders.concat(name, list(reversed(tops)), name, axis=0))[0]


def _zero_state(ctx: LoweringContext, hx: Sequence[object]) -> None:
    for state in hx:
        if not (isinstance(state, Ref) and ctx.is_constant(state)) or np.any(ctx.constant(state)):
            raise ctx.unsupported("LSTM with a given, non-zero initial state: Caffe's LSTM starts every "
                                  "sequence from zero (cont = 0 at t = 0)")


@lowering("aten.lstm")
def lower_lstm(ctx: LoweringContext, node: Node) -> None:
    """lstm.input(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)."""
    if "batch_sizes" in node.args:
        raise ctx.unsupported("LSTM over a packed sequence (pack_padded_sequence): Caffe's LSTM takes one "
                              "dense (T, N, I) sequence")
    x_ref, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first = node.unpack(
        "input", "hx", "params", "has_biases", "num_layers", "dropout", "train", "bidirectional", "batch_first")
    _zero_state(ctx, hx)
    if train and float(dropout) > 0:
        raise ctx.unsupported("LSTM with dropout in training mode is random; put the model in eval()")
    x = ctx.blob(x_ref)
    if len(x.shape) != 3:
        raise ctx.unsupported(f"LSTM input {list(x.shape)}: only a batched (T, N, I) sequence is converted")
    directions = 2 if bidirectional else 1
    per_layer = 4 if has_biases else 2
    weights = [ctx.constant(p) for p in params]
    if len(weights) != int(num_layers) * directions * per_layer:
        raise ctx.unsupported(f"LSTM with {len(weights)} parameter tensors for {num_layers} layers x {directions} "
                              f"directions (a projection, proj_size, has no Caffe counterpart)")
    if batch_first:
        x = ctx.emit(builders.permute(ctx.name(node, "time_major"), x, ctx.name(node, "time_major"),
                                      order=(1, 0, 2)))[0]
    steps, batch = x.shape[0], x.shape[1]
    cont_value = np.ones((steps, batch), dtype=np.float32)
    cont_value[0] = 0.0
    cont_name = ctx.name(node, "cont")
    cont = ctx.emit(builders.parameter(cont_name, cont_name, (steps, batch)), parameter_blobs(cont_value))[0]
    current = x
    for layer in range(int(num_layers)):
        outs = []
        for direction in range(directions):
            group = weights[(layer * directions + direction) * per_layer:][:per_layer]
            w_ih, w_hh = group[0], group[1]
            b_ih, b_hh = (group[2], group[3]) if has_biases else (None, None)
            hidden = w_hh.shape[1]
            tag = f"l{layer}" + ("_reverse" if direction else "")
            source = _reverse_time(ctx, node, current, f"{tag}/reversed_in") if direction else current
            name = ctx.name(node, tag)
            h = ctx.emit(builders.lstm(name, [source, cont], name, num_output=hidden),
                         lstm_blobs(w_ih, w_hh, b_ih, b_hh))[0]
            outs.append(_reverse_time(ctx, node, h, f"{tag}/reversed_out") if direction else h)
        last = layer == int(num_layers) - 1
        if len(outs) == 1:
            current = outs[0]
        else:
            name = ctx.name(node, None if last and not batch_first else f"l{layer}/both")
            current = ctx.emit(builders.concat(name, outs, name, axis=2),
                               result=node if last and not batch_first else None,
                               outputs=[0] if last and not batch_first else None)[0]
            if last and not batch_first:
                return
    if batch_first:
        ctx.emit(builders.permute(ctx.name(node), current, ctx.name(node), order=(1, 0, 2)), result=node,
                 outputs=[0])
    else:
        ctx.emit(builders.split(ctx.name(node), current, [ctx.name(node)]), result=node, outputs=[0])


@lowering("aten.gru", aliases=("aten.rnn_tanh", "aten.rnn_relu"))
def lower_gru(ctx: LoweringContext, node: Node) -> None:
    raise ctx.unsupported(f"{node.op.split('.', 1)[1]}: Caffe has no GRU layer and its RNN layer computes "
                          f"another recurrence (an output layer after the state); use nn.LSTM")
