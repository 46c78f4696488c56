"""Padding that no convolution absorbs: reflect, replicate, circular and constant, on any axis but the batch.

Negative amounts of a constant pad (cropping) are Slices keeping the middle rows, done before the
positive amounts are padded (PyTorch's result is the same either way).

Each padded axis becomes one Slice (cutting out the rows the border copies) and one Concat
(border rows, the whole input, border rows), so every output value is a copy of an input value:

===========  ======================================================================
mode         border rows before | after, along an axis of length L
===========  ======================================================================
reflect      rows b, b-1, .., 1 | rows L-2, .., L-1-a (single-row pieces of the Slice)
replicate    row 0 tiled b times | row L-1 tiled a times (Tile: exact copies)
circular     rows L-b .. L-1    | rows 0 .. a-1
constant     Power(scale 0, shift value) of row 0, tiled (Caffe sets `value` exactly)
===========  ======================================================================

A piece the Concat takes twice (reflect of a short axis, replicate of a single row) goes through
an explicit Split.  Axes are padded one after the other, the last axis first: the corners are
then padded copies of padded rows, which is what PyTorch computes for all three modes.
Zero padding in front of a convolution never gets here (`passes.fold_zero_pad_into_conv`).
"""
from __future__ import annotations

from collections import Counter


from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import keep_range
from purecaffe.converter.registry import lowering

MODES = ("constant", "reflect", "replicate", "circular")

# A border piece: rows [start, stop) of the input (repeated `tiles` times), or a constant row
# (start = stop = -1) repeated `tiles` times.
Piece = tuple[int, int, int]


@lowering("aten.pad", aliases=("aten.constant_pad_nd", "aten.reflection_pad1d", "aten.reflection_pad2d",
                               "aten.reflection_pad3d", "aten.replication_pad1d", "aten.replication_pad2d",
                               "aten.replication_pad3d", "aten._pad_circular"))
def lower_pad(ctx: LoweringContext, node: Node) -> None:
    """aten.pad(self, pad, mode, value) and the per-mode ops (`padding` for the reflection/replication ones)."""
    self = node.arg("self")
    amounts = node.args.get("pad", node.args.get("padding"))
    mode, value = _mode(node)
    if mode not in MODES:
        raise ctx.unsupported(f"padding mode {mode!r}")
    x = ctx.blob(self)
    rank = len(x.shape)
    amounts = [int(p) for p in amounts]
    if len(amounts) % 2 or len(amounts) // 2 > rank - 1:
        raise ctx.unsupported(f"pad {amounts} of a {rank}-D tensor reaches the batch axis")
    # (axis, before, after), the last axis first, as torch lists them.
    axes = [(rank - 1 - k, amounts[2 * k], amounts[2 * k + 1]) for k in range(len(amounts) // 2)]
    if any(b < 0 or a < 0 for _, b, a in axes):
        if mode != "constant":
            raise ctx.unsupported(f"negative {mode} padding {amounts}")
        x = _crop(ctx, node, x, axes)
        axes = [(axis, max(b, 0), max(a, 0)) for axis, b, a in axes]
        if not any(b or a for _, b, a in axes):
            return
    axes = [(axis, b, a) for axis, b, a in axes if b or a]
    if not axes:
        ctx.alias(node, self)
        return
    for k, (axis, before, after) in enumerate(axes):
        x = _pad_axis(ctx, node, x, axis, before, after, mode, value, last=k == len(axes) - 1)


def _crop(ctx: LoweringContext, node: Node, x: Blob, axes: list[tuple[int, int, int]]) -> Blob:
    """The negative amounts of a constant pad: rows cut off each end by a Slice keeping the middle (copies
    only).  When nothing is padded afterwards, the last Slice is the node's own layer."""
    cuts = [(axis, max(-b, 0), max(-a, 0)) for axis, b, a in axes if b < 0 or a < 0]
    padded_after = any(b > 0 or a > 0 for _, b, a in axes)
    for k, (axis, start, stop) in enumerate(cuts):
        size = x.shape[axis]
        if start + stop >= size:
            raise ctx.unsupported(f"negative padding removes all {size} elements of axis {axis}")
        last = k == len(cuts) - 1 and not padded_after
        x = keep_range(ctx, node, x, axis, start, size - stop, part=None if last else f"crop{axis}")
    return x


def _mode(node: Node) -> tuple[str, float]:
    if node.op == "aten.pad":
        return str(node.args.get("mode", "constant")), float(node.args.get("value") or 0.0)
    if node.op == "aten.constant_pad_nd":
        return "constant", float(node.args.get("value") or 0.0)
    if node.op.startswith("aten.reflection_pad"):
        return "reflect", 0.0
    if node.op.startswith("aten.replication_pad"):
        return "replicate", 0.0
    return "circular", 0.0


def _pieces(ctx: LoweringContext, mode: str, size: int, before: int, after: int) -> tuple[list[Piece], list[Piece]]:
    if mode == "reflect":
        if before >= size or after >= size:
            raise ctx.unsupported(f"reflect padding ({before}, {after}) of an axis of {size}: must be < {size}")
        return ([(i, i + 1, 1) for i in range(before, 0, -1)],
                [(i, i + 1, 1) for i in range(size - 2, size - 2 - after, -1)])
    if mode == "replicate":
        return ([(0, 1, before)] if before else []), ([(size - 1, size, after)] if after else [])
    if mode == "circular":
        if before > size or after > size:
            raise ctx.unsupported(f"circular padding ({before}, {after}) of an axis of {size}: must be <= {size}")
        return ([(size - before, size, 1)] if before else []), ([(0, after, 1)] if after else [])
    return ([(-1, -1, before)] if before else []), ([(-1, -1, after)] if after else [])


def _pad_axis(ctx: LoweringContext, node: Node, x: Blob, axis: int, before: int, after: int, mode: str,
              value: float, *, last: bool) -> Blob:
    size = x.shape[axis]
    head, tail = _pieces(ctx, mode, size, before, after)
    pieces = head + tail
    # Rows to cut out; the constant row is computed from row 0.
    ranges = {(0, 1) if p[0] < 0 else (p[0], p[1]) for p in pieces}
    bounds = sorted({b for r in ranges for b in r if 0 < b < size})
    edges = [0, *bounds, size]
    if bounds:
        name = ctx.name(node, f"rows{axis}")
        # The segments no piece copies are named as `builders.slice_keep` names unused parts, which a
        # target without Silence picks around (`targets.rules_slices`).
        used = {k for k, (lo, hi) in enumerate(zip(edges, edges[1:])) if any(a <= lo and hi <= b for a, b in ranges)}
        tops = [f"{name}:{k}" if k in used else f"{name}/unused_{lo}_{hi}"
                for k, (lo, hi) in enumerate(zip(edges, edges[1:]))]
        segments = ctx.emit(builders.slice_layer(name, x, tops, axis=axis, slice_point=bounds))
    else:
        segments = (x,)
    starts = {start: k for k, start in enumerate(edges[:-1])}

    def rows(start: int, stop: int) -> list[Blob]:
        first, end = starts[start], starts.get(stop, len(segments))
        return list(segments[first:end])

    made: dict[Piece, list[Blob]] = {}
    constant_row: list[Blob] = []

    def piece_blobs(piece: Piece, index: int) -> list[Blob]:
        if piece in made:
            return made[piece]
        start, stop, tiles = piece
        if start < 0:
            if not constant_row:
                name = ctx.name(node, f"value{axis}")
                constant_row.append(ctx.emit(builders.power(name, rows(0, 1)[0], name, scale=0.0,
                                                            shift=value))[0])
            blobs = [constant_row[0]]
        else:
            blobs = rows(start, stop)
        if tiles > 1:
            name = ctx.name(node, f"tile{axis}_{index}")
            blobs = [ctx.emit(builders.tile(name, blobs[0], name, axis=axis, tiles=tiles))[0]]
        made[piece] = blobs
        return blobs

    parts: list[Blob] = []
    for k, piece in enumerate(head):
        parts.extend(piece_blobs(piece, k))
    parts.append(x)
    for k, piece in enumerate(tail):
        parts.extend(piece_blobs(piece, len(head) + k))
    parts = _split_repeats(ctx, node, parts, axis)
    if last:
        return ctx.emit(builders.concat(ctx.name(node), parts, ctx.name(node), axis=axis),
                        result=node)[0]
    name = ctx.name(node, f"pad{axis}")
    return ctx.emit(builders.concat(name, parts, name, axis=axis))[0]


def _split_repeats(ctx: LoweringContext, node: Node, parts: list[Blob], axis: int) -> list[Blob]:
    """Give each blob the Concat takes more than once its own copy through a Split."""
    counts = Counter(b.name for b in parts)
    copies: dict[str, list[Blob]] = {}
    for blob in parts:
        if counts[blob.name] > 1 and blob.name not in copies:
            name = ctx.name(node, f"split{axis}_{len(copies)}")
            tops = [f"{name}:{k}" for k in range(counts[blob.name])]
            copies[blob.name] = list(ctx.emit(builders.split(name, blob, tops)))
    if not copies:
        return parts
    return [copies[b.name].pop(0) if b.name in copies else b for b in parts]


