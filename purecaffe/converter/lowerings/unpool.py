"""max_unpool2d (ENet's decoder) -> Deconvolution scatters, index comparisons and selects.

PyTorch writes each value v[j] of window j to the input position idx[j] (a flat h * W + w from
`max_pool2d_with_indices`, here the Pooling's mask top: the same first-maximum argmax) and zeros
elsewhere.  Where overlapping windows chose the same position, the later window in row-major order
wins in PyTorch's sequential order (single-threaded; its CPU kernel writes from parallel chunks of
the input, so with several threads the winner at a shared position depends on the split).  With the pooling's kernel k, stride s, pad p,
window j's offset o in [0, k) x [0, k) lands at q = j * s + o of a grid padded by p; so:

* one Deconvolution (kernel k, stride s, weight 1 at (o, c) -> channel o * C + c, 0 elsewhere)
  spreads v into V (N, k*k*C, H', W'): V_o[q] = v[j] of the window whose offset o is at q, or 0;
  the same Deconvolution of idx + 1 (Power shift 1) gives I_o[q] = idx[j] + 1, or 0;
* E_o = [I_o == position(q) + 1] = ReLU(1 - |I_o - position - 1|) (Scale with a constant bias,
  AbsVal, Power, ReLU; exact on integers below 2**24);
* the offsets are taken from the lowest priority (the earliest window, the largest offset) to the
  highest: acc = acc * (1 - E_o) + E_o * V_o (each product is by exactly 0 or 1);
* Crop at (p, p) to the output size, against the pooling input's blob.

Every step only copies values or multiplies them by exactly 0 or 1: the result is PyTorch's bit
for bit (for finite values).  The indices must come from a max_pool2d_with_indices in the same
graph whose input has the unpooled size (then idx[j] lies in window j); anything else is refused.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, builders
from purecaffe.converter import weights
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import GETITEM, Node, Ref
from purecaffe.converter.lowerings._support import hw_pair
from purecaffe.converter.registry import lowering

# Integers float32 holds exactly: the flat indices compared must stay below it.
_FLOAT32_EXACT_INT = 2 ** 24


def _pooling_of(ctx: LoweringContext, indices: object) -> Node:
    """The max_pool2d_with_indices node whose indices (output 1) `indices` are."""
    by_name = {n.name: n for n in ctx.graph.nodes}
    getter = by_name.get(indices.name) if isinstance(indices, Ref) else None
    pool = by_name.get(getter.arg("self").name) if getter is not None and getter.op == GETITEM \
        and isinstance(getter.args.get("self"), Ref) else None
    if pool is None or pool.op != "aten.max_pool2d_with_indices" or getter.arg("index") != 1:
        raise ctx.unsupported("max_unpool2d's indices do not come from a max_pool2d(return_indices=True) of this "
                              "model: Caffe has no layer that scatters by arbitrary indices")
    return pool


def _emit(ctx: LoweringContext, layer: CaffeLayer, blobs: Sequence[np.ndarray] = ()) -> Blob:
    """Emit an intermediate layer; its (first) top."""
    return ctx.emit(layer, blobs)[0]


@lowering("aten.max_unpool2d")
def lower_max_unpool2d(ctx: LoweringContext, node: Node) -> None:
    self, indices, output_size = node.unpack("self", "indices", "output_size")
    pool = _pooling_of(ctx, indices)
    v, idx = ctx.blob(self), ctx.blob(indices)
    kernel = hw_pair(ctx, pool.arg("kernel_size"), "kernel_size")
    stride = hw_pair(ctx, pool.arg("stride"), "stride", kernel)
    pad = hw_pair(ctx, pool.arg("padding"), "padding")
    pooled_input = ctx.blob(pool.arg("self"))
    n, channels, h, w = v.shape
    out_h, out_w = (int(d) for d in output_size)
    if tuple(pooled_input.shape[2:]) != (out_h, out_w):
        raise ctx.unsupported(f"max_unpool2d to {out_h}x{out_w} of indices from pooling a "
                              f"{pooled_input.shape[2]}x{pooled_input.shape[3]} input: the indices would land "
                              f"in other windows")
    if tuple(idx.shape) != tuple(v.shape):
        raise ctx.unsupported(f"max_unpool2d of {list(v.shape)} with indices {list(idx.shape)}")
    if out_h * out_w >= _FLOAT32_EXACT_INT:
        raise ctx.unsupported(f"an {out_h}x{out_w} plane has indices float32 cannot hold exactly")
    grid = ((h - 1) * stride[0] + kernel[0], (w - 1) * stride[1] + kernel[1])
    if grid[0] < out_h + pad[0] or grid[1] < out_w + pad[1]:
        raise ctx.unsupported(f"the last rows or columns of the {out_h}x{out_w} output lie in no pooling window")
    offsets = [(oy, ox) for oy in range(kernel[0]) for ox in range(kernel[1])]
    spread = np.zeros((channels, len(offsets) * channels, *kernel), dtype=np.float32)
    for k, (oy, ox) in enumerate(offsets):
        spread[np.arange(channels), k * channels + np.arange(channels), oy, ox] = 1.0

    def deconvolution(part: str, x: Blob) -> Blob:
        name = ctx.name(node, part)
        layer = builders.deconvolution(name, x, name, num_output=len(offsets) * channels, kernel=kernel,
                                       stride=stride, bias_term=False)
        return _emit(ctx, layer, weights.deconvolution_blobs(spread, None))

    def power(part: str, x: Blob, **kwargs: float) -> Blob:
        name = ctx.name(node, part)
        return _emit(ctx, builders.power(name, x, name, **kwargs))

    values = deconvolution("spread", v)
    spread_indices = deconvolution("spread_indices", power("indices1", idx, shift=1.0))
    rows = np.arange(grid[0]) - pad[0]
    cols = np.arange(grid[1]) - pad[1]
    position1 = (rows[:, None] * out_w + cols[None, :] + 1).astype(np.float32)
    name = ctx.name(node, "offset")
    layer = builders.scale(name, [spread_indices], name, axis=2, num_axes=2, bias_term=True)
    difference = _emit(ctx, layer, weights.scale_blobs(np.ones(grid, np.float32), -position1, shape=grid))
    name = ctx.name(node, "distance")
    distance = _emit(ctx, builders.absval(name, difference, name))
    name = ctx.name(node, "equal")
    equal = _emit(ctx, builders.relu(name, power("closeness", distance, scale=-1.0, shift=1.0), name))
    other = power("unequal", equal, scale=-1.0, shift=1.0)
    points = [k * channels for k in range(1, len(offsets))]

    def parts(part: str, x: Blob) -> tuple[Blob, ...]:
        if len(offsets) == 1:
            return (x,)
        name = ctx.name(node, part)
        tops = [f"{name}/{k}" for k in range(len(offsets))]
        return ctx.emit(builders.slice_layer(name, x, tops, axis=1, slice_point=points))

    value_parts, equal_parts, other_parts = parts("values", values), parts("equals", equal), parts("others", other)
    def take(k: int) -> Blob:
        name = ctx.name(node, f"take{k}")
        return _emit(ctx, builders.eltwise(name, [equal_parts[k], value_parts[k]], name, operation="PROD"))

    # The largest offset belongs to the earliest window: lowest priority first, offset 0 last.
    acc = take(len(offsets) - 1)
    for k in reversed(range(len(offsets) - 1)):
        name = ctx.name(node, f"keep{k}")
        kept = _emit(ctx, builders.eltwise(name, [acc, other_parts[k]], name, operation="PROD"))
        name = ctx.name(node, f"select{k}")
        acc = _emit(ctx, builders.eltwise(name, [kept, take(k)], name, operation="SUM"))
    ctx.emit(builders.crop(ctx.name(node), [acc, pooled_input], ctx.name(node), axis=2, offset=pad), result=node)
