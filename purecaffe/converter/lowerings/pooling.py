"""max/avg pooling (floor and ceil mode), adaptive pooling -> Pooling.

Window placement is the same in Caffe and PyTorch (start i*s - p); what can
differ is how many windows there are and what AVE divides by:

* Count.  Caffe rounds up unless `round_mode: FLOOR`, and drops a last window
  starting at or beyond H + p only when the layer has padding; PyTorch drops
  it in ceil mode always.  We pick the round mode that gives PyTorch's count,
  and where neither does (kernel < stride without padding) take CEIL and
  Slice off the surplus window.
* Divisor.  Caffe AVE divides by the window clipped to [-p, H + p): exactly
  PyTorch's count_include_pad=True rule (aten's avg_pool2d clips the same
  way).  For count_include_pad=False the two differ only where windows cover
  padding; an exact construction multiplies Caffe's averages by the constant
  map caffe_divisor / valid_count (Scale over H and W).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import builders
from purecaffe.converter import weights
from purecaffe.canonical import Blob
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import hw_pair
from purecaffe.converter.registry import lowering
from purecaffe.runtime.layers.pool import pooled_size


def _check_4d(ctx: LoweringContext, x: Blob) -> None:
    if len(x.shape) != 4:
        raise ctx.unsupported(f"pooling on a {len(x.shape)}-D input {list(x.shape)}; only (N, C, H, W) is converted")


def _round_mode(ctx: LoweringContext, size: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                pad: tuple[int, int], wanted: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    """(Caffe's round mode, Caffe's output size) that gives exactly `wanted` windows, else the CEIL
    size when it has more windows than `wanted` (the extra ones are cut off); Caffe's sizes are the
    runtime's (`pooled_size`).  Targets without a round mode legalize FLOOR."""
    padded = pad != (0, 0)

    def out(mode: str) -> tuple[int, int]:
        return (pooled_size(size[0], kernel[0], stride[0], pad[0], mode, padded=padded),
                pooled_size(size[1], kernel[1], stride[1], pad[1], mode, padded=padded))

    for mode in ("CEIL", "FLOOR"):
        if out(mode) == wanted:
            return mode, wanted
    got = out("CEIL")
    if got[0] < wanted[0] or got[1] < wanted[1]:
        raise ctx.unsupported(f"Caffe pooling gives {list(got)} windows where PyTorch has {list(wanted)}")
    return "CEIL", got


def _pool(ctx: LoweringContext, node: Node, x: Blob, *, method: str, kernel: tuple[int, int],
          stride: tuple[int, int], pad: tuple[int, int], outputs: tuple[int, ...] | None,
          divisor_map: np.ndarray | None = None) -> None:
    """Pooling whose windows are PyTorch's; the node's shape tells how many windows to keep."""
    for axis in (0, 1):
        if pad[axis] >= kernel[axis]:
            raise ctx.unsupported(f"padding {pad[axis]} >= kernel {kernel[axis]} (Caffe requires pad < kernel)")
    out_shape = node.info.shape if outputs is None else node.outputs[outputs[0]].shape  # type: ignore[index]
    wanted = (out_shape[2], out_shape[3])
    mode, got = _round_mode(ctx, (x.shape[2], x.shape[3]), kernel, stride, pad, wanted)
    cuts = [axis for axis in (2, 3) if got[axis - 2] != wanted[axis - 2]]
    steps = len(cuts) + (divisor_map is not None)
    layer = builders.pooling(ctx.name(node, None if steps == 0 else "pool"), x,
                             ctx.name(node, None if steps == 0 else "pool"), method=method, kernel=kernel,
                             stride=stride, pad=pad, round_mode=mode)
    if steps == 0:
        ctx.emit(layer, result=node, outputs=outputs)
        return
    current = ctx.emit(layer)[0]
    for k, axis in enumerate(cuts):
        last = k == steps - 1
        name = ctx.name(node, None if last else f"crop{axis}")
        cut = builders.slice_keep(name, current, name, axis=axis, start=0, end=wanted[axis - 2])
        index = outputs[0] if outputs else 0
        current = ctx.emit(cut, result=node if last else None,
                           outputs=[index if t.name == name else None for t in cut.tops] if last else None)[0]
    if divisor_map is not None:
        factor = divisor_map[: current.shape[2], : current.shape[3]]
        layer = builders.scale(ctx.name(node), [current], ctx.name(node), axis=2, num_axes=2)
        ctx.emit(layer, weights.scale_blobs(factor, None, shape=factor.shape), result=node, outputs=outputs)


@lowering("aten.max_pool2d", aliases=("aten.max_pool2d_with_indices",))
def lower_max_pool2d(ctx: LoweringContext, node: Node) -> None:
    self, kernel_size, stride, padding, dilation, ceil_mode = node.unpack(
        "self", "kernel_size", "stride", "padding", "dilation", "ceil_mode")
    x = ctx.blob(self)
    _check_4d(ctx, x)
    kernel = hw_pair(ctx, kernel_size, "kernel_size")
    if hw_pair(ctx, dilation, "dilation") != (1, 1):
        raise ctx.unsupported(f"max pooling with dilation {list(dilation)}; Caffe's Pooling has no dilation")
    del ceil_mode  # the captured output shape already says how many windows there are
    outputs = (0,) if node.op == "aten.max_pool2d_with_indices" else None
    _pool(ctx, node, x, method="MAX", kernel=kernel, stride=hw_pair(ctx, stride, "stride", kernel),
          pad=hw_pair(ctx, padding, "padding"),
          outputs=outputs)


def _valid_counts(size: int, kernel: int, stride: int, pad: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output index: Caffe's divisor extent (clipped to [-p, H+p)) and the valid extent (clipped to [0, H))."""
    start = np.arange(count) * stride - pad
    caffe = np.minimum(start + kernel, size + pad) - start
    valid = np.minimum(start + kernel, size) - np.maximum(start, 0)
    return caffe.astype(np.float64), valid.astype(np.float64)


@lowering("aten.avg_pool2d")
def lower_avg_pool2d(ctx: LoweringContext, node: Node) -> None:
    self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override = node.unpack(
        "self", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
    x = ctx.blob(self)
    _check_4d(ctx, x)
    del ceil_mode
    kernel, pad = hw_pair(ctx, kernel_size, "kernel_size"), hw_pair(ctx, padding, "padding")
    stride_hw = hw_pair(ctx, stride, "stride", kernel)
    oh, ow = node.shape[2], node.shape[3]
    caffe_h, valid_h = _valid_counts(x.shape[2], kernel[0], stride_hw[0], pad[0], oh)
    caffe_w, valid_w = _valid_counts(x.shape[3], kernel[1], stride_hw[1], pad[1], ow)
    caffe_div = np.outer(caffe_h, caffe_w)
    if divisor_override is not None:
        target = np.full_like(caffe_div, float(divisor_override))
    elif count_include_pad:
        target = caffe_div  # Caffe's own rule
    else:
        target = np.outer(valid_h, valid_w)
    if np.any(target <= 0):
        raise ctx.unsupported("a pooling window covers no input")
    divisor_map = None
    if not np.array_equal(target, caffe_div):
        divisor_map = (caffe_div / target).astype(np.float32)
    _pool(ctx, node, x, method="AVE", kernel=kernel, stride=stride_hw, pad=pad, outputs=None,
          divisor_map=divisor_map)


def _adaptive(ctx: LoweringContext, node: Node, self: object, output_size: Sequence[int] | None, method: str,
              outputs: tuple[int, ...] | None) -> None:
    x = ctx.blob(self)
    _check_4d(ctx, x)
    out_shape = node.info.shape if outputs is None else node.outputs[outputs[0]].shape  # type: ignore[index]
    oh, ow = out_shape[2], out_shape[3]
    h, w = x.shape[2], x.shape[3]
    if (oh, ow) == (1, 1):
        layer = builders.pooling(ctx.name(node), x, ctx.name(node), method=method, global_pooling=True)
        ctx.emit(layer, result=node, outputs=outputs)
        return
    if h % oh or w % ow:
        raise ctx.unsupported(f"adaptive pooling from {h}x{w} to {oh}x{ow}: not divisible, so PyTorch's windows "
                              f"vary in size and overlap, which one Caffe Pooling cannot express")
    kernel = (h // oh, w // ow)
    layer = builders.pooling(ctx.name(node), x, ctx.name(node), method=method, kernel=kernel,
                             stride=kernel)
    ctx.emit(layer, result=node, outputs=outputs)


@lowering("aten.adaptive_avg_pool2d", aliases=("aten._adaptive_avg_pool2d",))
def lower_adaptive_avg_pool2d(ctx: LoweringContext, node: Node) -> None:
    self, output_size = node.unpack("self", "output_size")
    _adaptive(ctx, node, self, output_size, "AVE", None)


@lowering("aten.adaptive_max_pool2d")
def lower_adaptive_max_pool2d(ctx: LoweringContext, node: Node) -> None:
    """(values, indices); only the values have a Caffe blob."""
    self, output_size = node.unpack("self", "output_size")
    _adaptive(ctx, node, self, output_size, "MAX", (0,))
