"""max/avg pooling (floor and ceil mode), adaptive pooling (any sizes) -> Pooling (+ Slice, Concat).

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

from purecaffe.canonical import Blob, CaffeLayer as Layer, builders
from purecaffe.converter import weights
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import GETITEM, Node
from purecaffe.converter.lowerings._support import hw_pair, single
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
    out_shape = node.info.shape if outputs is None else node.outputs[outputs[0]].shape  # type: ignore[index]
    _pool_layers(ctx, node, x, method=method, kernel=kernel, stride=stride, pad=pad,
                 wanted=(out_shape[2], out_shape[3]), divisor_map=divisor_map, bind=True, outputs=outputs)


def _pool_layers(ctx: LoweringContext, node: Node, x: Blob, *, method: str, kernel: tuple[int, int],
                 stride: tuple[int, int], pad: tuple[int, int], wanted: tuple[int, int],
                 divisor_map: np.ndarray | None, bind: bool, outputs: tuple[int, ...] | None) -> Blob:
    """Pooling with Caffe's round mode that gives `wanted` windows (surplus ones sliced off, AVE
    divisors rescaled by `divisor_map`).  With `bind` the last layer is the node's own."""
    for axis in (0, 1):
        if pad[axis] >= kernel[axis]:
            raise ctx.unsupported(f"padding {pad[axis]} >= kernel {kernel[axis]} (Caffe requires pad < kernel)")
    mode, got = _round_mode(ctx, (x.shape[2], x.shape[3]), kernel, stride, pad, wanted)
    steps: list[str] = ["pool", *(f"crop{axis}" for axis in (2, 3) if got[axis - 2] != wanted[axis - 2])]
    if divisor_map is not None:
        steps.append("divisor")
    index = outputs[0] if outputs else 0

    def emit(layer: Layer, part: str, weights_: list[np.ndarray] | None = None) -> Blob:
        last = bind and part == steps[-1]
        name = ctx.name(node, None if last else part)
        tops = ctx.emit(layer, weights_ or (), result=node if last else None,
                        outputs=[index if t.name == name else None for t in layer.tops] if last else None)
        return next(t for t in tops if t.name == name)

    def name_of(part: str) -> str:
        return ctx.name(node, None if bind and part == steps[-1] else part)

    current = emit(builders.pooling(name_of("pool"), x, name_of("pool"), method=method, kernel=kernel,
                                    stride=stride, pad=pad, round_mode=mode), "pool")
    for axis in (2, 3):
        part = f"crop{axis}"
        if part in steps:
            current = emit(builders.slice_keep(name_of(part), current, name_of(part), axis=axis, start=0,
                                               end=wanted[axis - 2]), part)
    if divisor_map is not None:
        factor = divisor_map[: current.shape[2], : current.shape[3]]
        current = emit(builders.scale(name_of("divisor"), [current], name_of("divisor"), axis=2, num_axes=2),
                       "divisor", weights.scale_blobs(factor, None, shape=factor.shape))
    return current


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
    stride_hw, pad = hw_pair(ctx, stride, "stride", kernel), hw_pair(ctx, padding, "padding")
    if node.op == "aten.max_pool2d_with_indices" and _indices_read(ctx, node):
        _max_pool_with_mask(ctx, node, x, kernel=kernel, stride=stride_hw, pad=pad)
        return
    outputs = (0,) if node.op == "aten.max_pool2d_with_indices" else None
    _pool(ctx, node, x, method="MAX", kernel=kernel, stride=stride_hw, pad=pad, outputs=outputs)


def _indices_read(ctx: LoweringContext, node: Node) -> bool:
    """Whether anything reads the indices (output 1) of a max_pool2d_with_indices node."""
    users = ctx.graph.users()
    outputs = {ref.name for ref in ctx.graph.outputs}
    return any(user.op == GETITEM and user.args.get("index") == 1 and (users.get(user.name) or user.name in outputs)
               for user in users.get(node.name, []))


def _max_pool_with_mask(ctx: LoweringContext, node: Node, x: Blob, *, kernel: tuple[int, int],
                        stride: tuple[int, int], pad: tuple[int, int]) -> None:
    """Values and indices: Pooling MAX with a mask top (Caffe's argmax, the flat index h * W + w in
    the input plane, as PyTorch's indices; both keep the first maximum in the same row-major scan).
    Always Caffe's CEIL round mode (no rule has to rewrite a two-top Pooling); surplus windows are
    sliced off both tops."""
    for axis in (0, 1):
        if pad[axis] >= kernel[axis]:
            raise ctx.unsupported(f"padding {pad[axis]} >= kernel {kernel[axis]} (Caffe requires pad < kernel)")
    wanted = tuple(node.outputs[0].shape[2:])  # type: ignore[index]
    padded = pad != (0, 0)
    got = tuple(pooled_size(x.shape[axis], kernel[axis - 2], stride[axis - 2], pad[axis - 2], "CEIL", padded=padded)
                for axis in (2, 3))
    if got[0] < wanted[0] or got[1] < wanted[1]:
        raise ctx.unsupported(f"Caffe pooling gives {list(got)} windows where PyTorch has {list(wanted)}")
    cuts = [axis for axis in (2, 3) if got[axis - 2] != wanted[axis - 2]]
    final = (ctx.name(node), ctx.name(node, "indices"))  # the last layer (and top) of values, indices
    if not cuts:
        layer = builders.pooling(final[0], x, final[0], method="MAX", kernel=kernel, stride=stride, pad=pad,
                                 round_mode="CEIL", mask_top=final[1])
        ctx.emit(layer, result=node, outputs=(0, 1))
        return
    name = ctx.name(node, "pool")
    layer = builders.pooling(name, x, name, method="MAX", kernel=kernel, stride=stride, pad=pad,
                             round_mode="CEIL", mask_top=ctx.name(node, "pool_mask"))
    current = list(ctx.emit(layer))
    for index in (0, 1):
        for k, axis in enumerate(cuts):
            last = k == len(cuts) - 1
            name = final[index] if last else ctx.name(node, f"crop{axis}_{index}")
            cut = builders.slice_keep(name, current[index], name, axis=axis, start=0, end=wanted[axis - 2])
            tops = ctx.emit(cut, result=node if last else None,
                            outputs=[index if t.name == name else None for t in cut.tops] if last else None)
            current[index] = next(t for t in tops if t.name == name)


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


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling windows along one axis: [floor(i*size/out), ceil((i+1)*size/out))."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _adaptive_axis(ctx: LoweringContext, node: Node, x: Blob, axis: int, out: int, method: str, *, last: bool,
                   outputs: tuple[int, ...] | None) -> Blob:
    """Adaptive pooling of `x` along one spatial `axis` (2 or 3) to `out` windows.

    A size `out` divides is one Pooling (kernel = stride = size / out).  Otherwise one Slice cuts
    the axis at every window's start and end (the windows cover the axis, so every part is read:
    no unused top); each window is its parts (a Concat where it has several), pooled by a
    Pooling whose kernel is the window; a Concat joins the windows.  With `last` the final layer
    is the node's own."""
    size = x.shape[axis]
    bind = {"result": node, "outputs": outputs} if last else {}
    final = ctx.name(node) if last else ctx.name(node, f"axis{axis}")

    def kernel(k: int) -> tuple[int, int]:
        return (k, 1) if axis == 2 else (1, k)

    if size % out == 0:
        k = size // out
        layer = builders.pooling(final, x, final, method=method, kernel=kernel(k), stride=kernel(k))
        return ctx.emit(layer, **bind)[0]  # type: ignore[arg-type]
    bins = adaptive_bins(size, out)
    cuts = sorted({p for window in bins for p in window} - {0, size})
    bounds = list(zip([0, *cuts], [*cuts, size]))
    name = ctx.name(node, f"axis{axis}_parts")
    pieces = dict(zip(bounds, ctx.emit(builders.slice_layer(name, x, [f"{name}/{lo}_{hi}" for lo, hi in bounds],
                                                            axis=axis, slice_point=cuts))))
    pooled = []
    for i, (start, end) in enumerate(bins):
        window = [pieces[b] for b in bounds if start <= b[0] and b[1] <= end]
        joined = window[0]
        if len(window) > 1:
            name = ctx.name(node, f"axis{axis}_window{i}")
            joined = ctx.emit(builders.concat(name, window, name, axis=axis))[0]
        name = ctx.name(node, f"axis{axis}_pool{i}")
        pooled.append(ctx.emit(builders.pooling(name, joined, name, method=method, kernel=kernel(end - start),
                                                stride=1))[0])
    return ctx.emit(builders.concat(final, pooled, final, axis=axis), **bind)[0]  # type: ignore[arg-type]


def _adaptive(ctx: LoweringContext, node: Node, self: object, output_size: Sequence[int] | None, method: str,
              outputs: tuple[int, ...] | None) -> None:
    """Global pooling for 1x1; one Pooling where the sizes divide; else rows then columns.

    Pooling over a rectangle is pooling its rows' results over columns (max of maxima; for AVE
    the mean of equally long rows' means, which differs from PyTorch's single sum only in float32
    rounding), so a non-dividing size becomes per-window Pooling along H, then along W
    (`_adaptive_axis`): exact for max, float32 rounding for average.  Each window is cut from
    one Slice of disjoint parts (and Concats), so no part is left unread on targets that cannot
    end an unused top.
    """
    x = ctx.blob(self)
    _check_4d(ctx, x)
    out_shape = node.info.shape if outputs is None else node.outputs[outputs[0]].shape  # type: ignore[index]
    oh, ow = out_shape[2], out_shape[3]
    h, w = x.shape[2], x.shape[3]
    if (oh, ow) == (1, 1):
        layer = builders.pooling(ctx.name(node), x, ctx.name(node), method=method, global_pooling=True)
        ctx.emit(layer, result=node, outputs=outputs)
        return
    if h % oh == 0 and w % ow == 0:
        kernel = (h // oh, w // ow)
        layer = builders.pooling(ctx.name(node), x, ctx.name(node), method=method, kernel=kernel,
                                 stride=kernel)
        ctx.emit(layer, result=node, outputs=outputs)
        return
    rows = x if oh == h else _adaptive_axis(ctx, node, x, 2, oh, method, last=ow == w, outputs=outputs)
    if ow != w:
        _adaptive_axis(ctx, node, rows, 3, ow, method, last=True, outputs=outputs)


@lowering("aten.adaptive_avg_pool2d", aliases=("aten._adaptive_avg_pool2d",))
def lower_adaptive_avg_pool2d(ctx: LoweringContext, node: Node) -> None:
    self, output_size = node.unpack("self", "output_size")
    _adaptive(ctx, node, self, output_size, "AVE", None)


@lowering("aten.adaptive_max_pool2d")
def lower_adaptive_max_pool2d(ctx: LoweringContext, node: Node) -> None:
    """(values, indices); only the values have a Caffe blob."""
    self, output_size = node.unpack("self", "output_size")
    _adaptive(ctx, node, self, output_size, "MAX", (0,))


# -- 1-D pooling and LPRNet's 3-D channel pooling: 2-D Pooling on a 4-D view ---------------------------

def _pooled(ctx: LoweringContext, node: Node, x: Blob, *, method: str, kernel: tuple[int, int],
            stride: tuple[int, int], pad: tuple[int, int], wanted: tuple[int, int],
            divisor_map: np.ndarray | None = None) -> Blob:
    """`_pool` as intermediate blobs (`<layer>/pool`, ...); the caller binds the node."""
    return _pool_layers(ctx, node, x, method=method, kernel=kernel, stride=stride, pad=pad, wanted=wanted,
                        divisor_map=divisor_map, bind=False, outputs=None)


def _pool1d(ctx: LoweringContext, node: Node, self: object, method: str, kernel: int, stride: int, pad: int,
            outputs: tuple[int, ...] | None, count_include_pad: bool = True) -> None:
    """(N, C, L) -> Reshape (N, C, 1, L) -> Pooling 1 x k -> Reshape back to the node's (N, C, L')."""
    x = ctx.blob(self)
    if len(x.shape) != 3:
        raise ctx.unsupported(f"1-D pooling of a {len(x.shape)}-D input {list(x.shape)}; only (N, C, L) is converted")
    out_shape = node.info.shape if outputs is None else node.outputs[outputs[0]].shape  # type: ignore[index]
    length = out_shape[2]
    divisor_map = None
    if method == "AVE" and not count_include_pad and pad:
        caffe, valid = _valid_counts(x.shape[2], kernel, stride, pad, length)
        if np.any(valid <= 0):
            raise ctx.unsupported("a pooling window covers no input")
        if not np.array_equal(caffe, valid):
            divisor_map = (caffe / valid).astype(np.float32).reshape(1, -1)
    name = ctx.name(node, "as2d")
    flat = ctx.emit(builders.reshape(name, x, name, dims=[0, 0, 1, -1]))[0]
    pooled = _pooled(ctx, node, flat, method=method, kernel=(1, kernel), stride=(1, stride), pad=(0, pad),
                     wanted=(1, length), divisor_map=divisor_map)
    ctx.emit(builders.reshape(ctx.name(node), pooled, ctx.name(node), dims=[0, 0, -1]), result=node,
             outputs=outputs)


@lowering("aten.max_pool1d", aliases=("aten.max_pool1d_with_indices",))
def lower_max_pool1d(ctx: LoweringContext, node: Node) -> None:
    self, kernel_size, stride, padding, dilation = node.unpack("self", "kernel_size", "stride", "padding",
                                                               "dilation")
    if single(ctx, dilation, "dilation") != 1:
        raise ctx.unsupported(f"max pooling with dilation {dilation}; Caffe's Pooling has no dilation")
    kernel = single(ctx, kernel_size, "kernel_size")
    outputs = (0,) if node.op == "aten.max_pool1d_with_indices" else None
    _pool1d(ctx, node, self, "MAX", kernel, single(ctx, stride, "stride", [kernel]), single(ctx, padding, "padding"),
            outputs)


@lowering("aten.avg_pool1d")
def lower_avg_pool1d(ctx: LoweringContext, node: Node) -> None:
    self, kernel_size, stride, padding, count_include_pad = node.unpack(
        "self", "kernel_size", "stride", "padding", "count_include_pad")
    kernel = single(ctx, kernel_size, "kernel_size")
    _pool1d(ctx, node, self, "AVE", kernel, single(ctx, stride, "stride", [kernel]), single(ctx, padding, "padding"),
            None, bool(count_include_pad))


@lowering("aten.max_pool3d", aliases=("aten.max_pool3d_with_indices",))
def lower_max_pool3d(ctx: LoweringContext, node: Node) -> None:
    """Only windows one deep: a strided pick along depth (LPRNet's channel pooling) and a 2-D Pooling.

    A 4-D input is PyTorch's unbatched (C, D, H, W), i.e. an (N, C, H, W) blob with depth = C:
    the case of LPRNet's `nn.MaxPool3d((1, 3, 3), stride=(2, 1, 2))` on a 4-D tensor.  A 5-D
    (N, C, D, H, W) input is viewed as (N, C*D, H, W).  The window maxima over H, W are one
    Pooling; every s-th depth slice is then picked by a grouped 1x1 Convolution with 0/1 weights
    (1 * x plus zeros: exact).
    """
    self, kernel_size, stride, padding, dilation = node.unpack("self", "kernel_size", "stride", "padding",
                                                               "dilation")
    x = ctx.blob(self)
    rank = len(x.shape)
    outputs = (0,) if node.op == "aten.max_pool3d_with_indices" else None
    out_shape = node.info.shape if outputs is None else node.outputs[outputs[0]].shape  # type: ignore[index]
    kernel = [int(k) for k in ([kernel_size] * 3 if isinstance(kernel_size, int) else kernel_size)]
    kernel = kernel * 3 if len(kernel) == 1 else kernel
    steps = [int(s) for s in ([stride] * 3 if isinstance(stride, int) else stride)] or list(kernel)
    steps = steps * 3 if len(steps) == 1 else steps
    pads = [int(p) for p in ([padding] * 3 if isinstance(padding, int) else padding)]
    pads = pads * 3 if len(pads) == 1 else pads
    dilations = [int(d) for d in ([dilation] * 3 if isinstance(dilation, int) else dilation)]
    if any(d != 1 for d in dilations):
        raise ctx.unsupported(f"max pooling with dilation {dilations}; Caffe's Pooling has no dilation")
    if kernel[0] != 1 or pads[0] != 0:
        raise ctx.unsupported(f"3-D max pooling with a window {kernel[0]} deep (padding {pads[0]}): stock Caffe "
                              f"takes maxima only over H and W")
    if rank not in (4, 5):
        raise ctx.unsupported(f"3-D pooling of a {rank}-D input {list(x.shape)}")
    if rank == 4:
        groups, depth, out_depth, wanted = 1, x.shape[1], out_shape[1], (out_shape[2], out_shape[3])
        if out_depth == depth:  # no stride over depth: the 2-D max pooling of the same blob
            _pool(ctx, node, x, method="MAX", kernel=(kernel[1], kernel[2]), stride=(steps[1], steps[2]),
                  pad=(pads[1], pads[2]), outputs=outputs)
            return
        view = x
    else:
        groups, depth, out_depth, wanted = x.shape[1], x.shape[2], out_shape[2], (out_shape[3], out_shape[4])
        name = ctx.name(node, "as2d")
        view = ctx.emit(builders.reshape(name, x, name, dims=[0, -1, x.shape[3], x.shape[4]]))[0]
    pooled = _pooled(ctx, node, view, method="MAX", kernel=(kernel[1], kernel[2]), stride=(steps[1], steps[2]),
                     pad=(pads[1], pads[2]), wanted=wanted)
    if out_depth != depth:
        pick = np.zeros((groups * out_depth, depth, 1, 1), dtype=np.float32)
        for g in range(groups):
            for d in range(out_depth):
                pick[g * out_depth + d, d * steps[0], 0, 0] = 1.0
        last = rank == 4
        name = ctx.name(node) if last else ctx.name(node, "depth")
        top = ctx.name(node) if last else name
        conv = builders.convolution(name, pooled, top, num_output=groups * out_depth, kernel=1, group=groups,
                                    bias_term=False)
        pooled = ctx.emit(conv, weights.convolution_blobs(pick, None), result=node if last else None,
                          outputs=outputs if last else None)[0]
        if last:
            return
    ctx.emit(builders.reshape(ctx.name(node), pooled, ctx.name(node), dims=[0, groups, -1, *wanted]),
             result=node, outputs=outputs)
