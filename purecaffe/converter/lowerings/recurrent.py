"""Recurrent layers: LSTM -> Caffe's LSTM layer, GRU unrolled (any number of layers, bidirectional, batch_first).

The LSTM layer is emitted over the sequence x (T, N, I) alone: one sequence per sample, from a
zero state (the form RKNN-Toolkit2 and OpenCV read); for real Caffe, which needs its `cont`
bottom, the target stage adds the constant (`targets.rules_recurrent`).  The
weights are PyTorch's with the gates reordered (i, f, g, o -> i, f, o, g) and the two biases
summed (`weights.lstm_blobs`).  A reverse direction runs on the sequence reversed in time
(a Slice into T steps and a Concat in the opposite order, which only copies) and is reversed
back; the directions are concatenated on the feature axis, as PyTorch does.

GRU: Caffe has no GRU layer, so it is unrolled over time from InnerProduct, Slice, Eltwise,
Sigmoid and TanH layers (`_gru_direction`), about 12 layers per step; refused past
MAX_GRU_STEPS steps with the count.

Refused with the reason: non-zero initial states (Caffe's LSTM starts from zero without exposed
states), dropout between layers in training mode, projections (proj_size), and plain RNN cells
(Caffe's RNN is not PyTorch's).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node, Ref
from purecaffe.converter.registry import lowering
from purecaffe.converter.weights import inner_product_blobs, lstm_blobs, parameter_blobs


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


# An unrolled GRU emits about 12 layers per time step and direction; past this many steps the
# prototxt is unreasonable and the op is refused with the count.
MAX_GRU_STEPS = 256


def _recurrent(ctx: LoweringContext, node: Node, cell: str) -> None:
    """LSTM and GRU: unpack, check, then run `cell` per layer and direction; bind output 0."""
    if "batch_sizes" in node.args:
        raise ctx.unsupported(f"{cell} over a packed sequence (pack_padded_sequence): Caffe takes one dense "
                              f"(T, N, I) sequence")
    x_ref, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first = node.unpack(
        "input", "hx", "params", "has_biases", "num_layers", "dropout", "train", "bidirectional", "batch_first")
    _zero_state(ctx, hx if isinstance(hx, (list, tuple)) else [hx])
    if train and float(dropout) > 0:
        raise ctx.unsupported(f"{cell} with dropout in training mode is random; put the model in eval()")
    x = ctx.blob(x_ref)
    if len(x.shape) != 3:
        raise ctx.unsupported(f"{cell} input {list(x.shape)}: only a batched (T, N, I) sequence is converted")
    directions = 2 if bidirectional else 1
    per_layer = 4 if has_biases else 2
    weights = [ctx.constant(p) for p in params]
    if len(weights) != int(num_layers) * directions * per_layer:
        raise ctx.unsupported(f"{cell} with {len(weights)} parameter tensors for {num_layers} layers x {directions} "
                              f"directions (a projection, proj_size, has no Caffe counterpart)")
    if batch_first:
        x = ctx.emit(builders.permute(ctx.name(node, "time_major"), x, ctx.name(node, "time_major"),
                                      order=(1, 0, 2)))[0]
    steps = x.shape[0]
    if cell == "GRU" and steps > MAX_GRU_STEPS:
        raise ctx.unsupported(f"GRU over {steps} steps: unrolled, it needs about {12 * steps} layers per layer and "
                              f"direction (more than {MAX_GRU_STEPS} steps is unreasonable)")
    current = x
    for layer in range(int(num_layers)):
        outs = []
        for direction in range(directions):
            group = weights[(layer * directions + direction) * per_layer:][:per_layer]
            w_ih, w_hh = group[0], group[1]
            b_ih, b_hh = (group[2], group[3]) if has_biases else (None, None)
            tag = f"l{layer}" + ("_reverse" if direction else "")
            source = _reverse_time(ctx, node, current, f"{tag}/reversed_in") if direction else current
            if cell == "LSTM":
                name = ctx.name(node, tag)
                h = ctx.emit(builders.lstm(name, [source], name, num_output=w_hh.shape[1]),
                             lstm_blobs(w_ih, w_hh, b_ih, b_hh))[0]
            else:
                h = _gru_direction(ctx, node, tag, source, w_ih, w_hh, b_ih, b_hh)
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


def _gru_direction(ctx: LoweringContext, node: Node, tag: str, x: Blob, w_ih: np.ndarray, w_hh: np.ndarray,
                   b_ih: np.ndarray | None, b_hh: np.ndarray | None) -> Blob:
    """One GRU direction unrolled over time (PyTorch's gates r, z, n):

        gx = W_ih x + b_ih (all steps at once), gh = W_hh h + b_hh,
        r, z = sigmoid(gx_rz + gh_rz),  n = tanh(gx_n + r * gh_n),  h' = n + z * (h - n)

    (= (1 - z) * n + z * h), h_0 = 0, each from InnerProduct/Slice/Eltwise/Sigmoid/TanH layers."""
    steps, batch = x.shape[0], x.shape[1]
    hidden = w_hh.shape[1]

    def name(part: str) -> str:
        return ctx.name(node, f"{tag}/{part}")

    def emit(layer: object, weights: list[np.ndarray] | None = None) -> tuple[Blob, ...]:
        return ctx.emit(layer, weights or ())

    gx_all = emit(builders.inner_product(name("gx"), x, name("gx"), num_output=3 * hidden, axis=2,
                                         bias_term=b_ih is not None),
                  inner_product_blobs(w_ih, b_ih))[0]
    gx_steps = emit(builders.slice_layer(name("gx_steps"), gx_all, [name(f"gx{t}") for t in range(steps)], axis=0)) \
        if steps > 1 else (gx_all,)
    h = emit(builders.parameter(name("h0"), name("h0"), (1, batch, hidden)),
             parameter_blobs(np.zeros((1, batch, hidden), dtype=np.float32)))[0]
    outputs = []
    for t, gx in enumerate(gx_steps):
        step = f"t{t}"
        gh = emit(builders.inner_product(name(f"{step}/gh"), h, name(f"{step}/gh"), num_output=3 * hidden, axis=2,
                                         bias_term=b_hh is not None), inner_product_blobs(w_hh, b_hh))[0]
        gx_rz, gx_n = emit(builders.slice_layer(name(f"{step}/gx_split"), gx,
                                                [name(f"{step}/gx_rz"), name(f"{step}/gx_n")], axis=2,
                                                slice_point=[2 * hidden]))
        gh_rz, gh_n = emit(builders.slice_layer(name(f"{step}/gh_split"), gh,
                                                [name(f"{step}/gh_rz"), name(f"{step}/gh_n")], axis=2,
                                                slice_point=[2 * hidden]))
        pre = emit(builders.eltwise(name(f"{step}/rz_in"), [gx_rz, gh_rz], name(f"{step}/rz_in")))[0]
        rz = emit(builders.sigmoid(name(f"{step}/rz"), pre, name(f"{step}/rz")))[0]
        r, z = emit(builders.slice_layer(name(f"{step}/rz_split"), rz, [name(f"{step}/r"), name(f"{step}/z")],
                                         axis=2, slice_point=[hidden]))
        gated = emit(builders.eltwise(name(f"{step}/r_gh"), [r, gh_n], name(f"{step}/r_gh"), operation="PROD"))[0]
        n_in = emit(builders.eltwise(name(f"{step}/n_in"), [gx_n, gated], name(f"{step}/n_in")))[0]
        n = emit(builders.tanh(name(f"{step}/n"), n_in, name(f"{step}/n")))[0]
        diff = emit(builders.eltwise(name(f"{step}/h_minus_n"), [h, n], name(f"{step}/h_minus_n"),
                                     coeff=(1.0, -1.0)))[0]
        moved = emit(builders.eltwise(name(f"{step}/z_diff"), [z, diff], name(f"{step}/z_diff"),
                                      operation="PROD"))[0]
        h = emit(builders.eltwise(name(f"{step}/h"), [n, moved], name(f"{step}/h")))[0]
        outputs.append(h)
    if len(outputs) == 1:
        return outputs[0]
    return emit(builders.concat(name("h"), outputs, name("h"), axis=0))[0]


@lowering("aten.lstm")
def lower_lstm(ctx: LoweringContext, node: Node) -> None:
    """lstm.input(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)."""
    _recurrent(ctx, node, "LSTM")


@lowering("aten.gru")
def lower_gru(ctx: LoweringContext, node: Node) -> None:
    """gru.input(input, hx, params, ...): unrolled over time (Caffe has no GRU layer)."""
    _recurrent(ctx, node, "GRU")


@lowering("aten.rnn_tanh", aliases=("aten.rnn_relu",))
def lower_rnn_tanh(ctx: LoweringContext, node: Node) -> None:
    raise ctx.unsupported(f"{node.op.split('.', 1)[1]}: Caffe's RNN layer computes another recurrence (an "
                          f"output layer after the state); use nn.LSTM or nn.GRU")
