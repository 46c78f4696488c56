"""conv2d / convolution / conv_transpose2d -> Convolution / Deconvolution.

Caffe pads symmetrically.  Asymmetric padding (`padding="same"` with an even
kernel extent, or a zero `F.pad` folded in by `passes.fold_zero_pad_into_conv`) is exact as a convolution with the larger pad followed by a
Slice that drops the extra leading/trailing outputs.  `output_padding` of a
transposed convolution is exact as a Deconvolution with pad - output_padding
and a Slice dropping `output_padding` leading rows/columns.
"""
from __future__ import annotations

from purecaffe.canonical import Blob, builders
from purecaffe.converter import weights
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import hw_pair, keep_range, single
from purecaffe.converter.registry import lowering


def _check_input(ctx: LoweringContext, node: Node, x: Blob) -> None:
    if len(x.shape) != 4:
        raise ctx.unsupported(f"{len(x.shape) - 2}-D convolution (input {list(x.shape)}); only 2-D "
                              f"(N, C, H, W) convolutions are converted")


def _crop_hw(ctx: LoweringContext, node: Node, x: Blob, starts: tuple[int, int], sizes: tuple[int, int]) -> None:
    """Bind the node to x[:, :, h0:h0+size_h, w0:w0+size_w], cut out with Slice layers."""
    axes = [axis for axis in (2, 3) if (starts[axis - 2], sizes[axis - 2]) != (0, x.shape[axis])]
    for k, axis in enumerate(axes):
        start, size = starts[axis - 2], sizes[axis - 2]
        x = keep_range(ctx, node, x, axis, start, start + size, part=None if k == len(axes) - 1 else "crop_h")


def _conv(ctx: LoweringContext, node: Node, *, x: Blob, weight: object, bias: object, stride: tuple[int, int],
          pads: tuple[int, int, int, int], dilation: tuple[int, int], groups: int) -> None:
    """Convolution with pads (top, bottom, left, right); exact for asymmetric pads via a Slice."""
    w = ctx.constant(weight)
    b = ctx.constant(bias) if bias is not None else None
    top, bottom, left, right = pads
    if top == bottom and left == right:
        layer = builders.convolution(ctx.name(node), x, ctx.name(node), num_output=w.shape[0],
                                     kernel=(w.shape[2], w.shape[3]), stride=stride, pad=(top, left),
                                     dilation=dilation, group=groups, bias_term=b is not None)
        ctx.emit(layer, weights.convolution_blobs(w, b), result=node)
        return
    # Pad P >= both sides with P = first side (mod stride): torch's windows are then a
    # contiguous run of Caffe's, starting at (P - first) / stride.
    pad_h = _common_pad(top, bottom, stride[0])
    pad_w = _common_pad(left, right, stride[1])
    conv_name = ctx.name(node, "conv")
    layer = builders.convolution(conv_name, x, conv_name, num_output=w.shape[0], kernel=(w.shape[2], w.shape[3]),
                                 stride=stride, pad=(pad_h, pad_w), dilation=dilation, group=groups,
                                 bias_term=b is not None)
    full = ctx.emit(layer, weights.convolution_blobs(w, b))[0]
    starts = ((pad_h - top) // stride[0], (pad_w - left) // stride[1])
    _crop_hw(ctx, node, full, starts, (node.shape[2], node.shape[3]))


def _common_pad(first: int, second: int, stride: int) -> int:
    pad = max(first, second)
    while (pad - first) % stride:
        pad += 1
    return pad


def _same_pads(kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """PyTorch's padding='same': total d(k-1) per dim, the extra one at the end."""
    total_h, total_w = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
    return total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2


@lowering("aten.conv2d")
def lower_conv2d(ctx: LoweringContext, node: Node) -> None:
    """aten.conv2d.default / .padding ('same', 'valid')."""
    x_ref, weight, bias, stride, padding, dilation, groups = node.unpack(
        "input", "weight", "bias", "stride", "padding", "dilation", "groups")
    x = ctx.blob(x_ref)
    _check_input(ctx, node, x)
    w = ctx.constant(weight)
    stride_hw = hw_pair(ctx, stride, "stride")
    dilation_hw = hw_pair(ctx, dilation, "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            pads = _same_pads((w.shape[2], w.shape[3]), dilation_hw)
        else:
            raise ctx.unsupported(f"padding={padding!r}")
    elif len(padding) == 4:  # (top, bottom, left, right) from passes.fold_zero_pad_into_conv
        pads = tuple(int(p) for p in padding)  # type: ignore[assignment]
    else:
        ph, pw = hw_pair(ctx, padding, "padding")
        pads = (ph, ph, pw, pw)
    _conv(ctx, node, x=x, weight=weight, bias=bias, stride=stride_hw, pads=pads, dilation=dilation_hw,
          groups=int(groups))


@lowering("aten.convolution", aliases=("aten._convolution",))
def lower_convolution(ctx: LoweringContext, node: Node) -> None:
    """The core-ATen form (and `_convolution`, the same arguments plus backend flags that do not change
    the result): transposed selects Deconvolution."""
    x_ref, weight, bias, stride, padding, dilation, transposed, output_padding, groups = node.unpack(
        "input", "weight", "bias", "stride", "padding", "dilation", "transposed", "output_padding", "groups")
    x = ctx.blob(x_ref)
    _check_input(ctx, node, x)
    stride_hw, dilation_hw = hw_pair(ctx, stride, "stride"), hw_pair(ctx, dilation, "dilation")
    if not transposed and len(padding) == 4:  # (top, bottom, left, right) from fold_zero_pad_into_conv
        _conv(ctx, node, x=x, weight=weight, bias=bias, stride=stride_hw, pads=tuple(int(p) for p in padding),
              dilation=dilation_hw, groups=int(groups))
        return
    ph, pw = hw_pair(ctx, padding, "padding")
    if transposed:
        _deconv(ctx, node, x=x, weight=weight, bias=bias, stride=stride_hw, pad=(ph, pw),
                output_padding=hw_pair(ctx, output_padding, "output_padding"), dilation=dilation_hw,
                groups=int(groups))
    else:
        _conv(ctx, node, x=x, weight=weight, bias=bias, stride=stride_hw, pads=(ph, ph, pw, pw),
              dilation=dilation_hw, groups=int(groups))


@lowering("aten.conv_transpose2d")
def lower_conv_transpose2d(ctx: LoweringContext, node: Node) -> None:
    x_ref, weight, bias, stride, padding, output_padding, groups, dilation = node.unpack(
        "input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")
    x = ctx.blob(x_ref)
    _check_input(ctx, node, x)
    _deconv(ctx, node, x=x, weight=weight, bias=bias, stride=hw_pair(ctx, stride, "stride"),
            pad=hw_pair(ctx, padding, "padding"), output_padding=hw_pair(ctx, output_padding, "output_padding"),
            dilation=hw_pair(ctx, dilation, "dilation"), groups=int(groups))


def _deconv(ctx: LoweringContext, node: Node, *, x: Blob, weight: object, bias: object, stride: tuple[int, int],
            pad: tuple[int, int], output_padding: tuple[int, int], dilation: tuple[int, int], groups: int) -> None:
    """PyTorch's transposed conv = the full deconvolution cropped to [p, F - p + output_padding)."""
    w = ctx.constant(weight)
    b = ctx.constant(bias) if bias is not None else None
    num_output = w.shape[1] * groups
    for axis, (p, op) in enumerate(zip(pad, output_padding)):
        if op > p:
            raise ctx.unsupported(f"output_padding {op} > padding {p} on axis {axis + 2}: the extra "
                                  f"{'rows' if axis == 0 else 'columns'} would be bias only, which no "
                                  f"Deconvolution produces")
    caffe_pad = (pad[0] - output_padding[0], pad[1] - output_padding[1])
    if output_padding == (0, 0):
        layer = builders.deconvolution(ctx.name(node), x, ctx.name(node), num_output=num_output,
                                       kernel=(w.shape[2], w.shape[3]), stride=stride, pad=caffe_pad,
                                       dilation=dilation, group=groups, bias_term=b is not None)
        ctx.emit(layer, weights.deconvolution_blobs(w, b), result=node)
        return
    name = ctx.name(node, "deconv")
    layer = builders.deconvolution(name, x, name, num_output=num_output, kernel=(w.shape[2], w.shape[3]),
                                   stride=stride, pad=caffe_pad, dilation=dilation, group=groups,
                                   bias_term=b is not None)
    full = ctx.emit(layer, weights.deconvolution_blobs(w, b))[0]
    _crop_hw(ctx, node, full, output_padding, (node.shape[2], node.shape[3]))


@lowering("aten.conv1d")
def lower_conv1d(ctx: LoweringContext, node: Node) -> None:
    """(N, C, L) -> Reshape (N, C, 1, L) -> Convolution 1 x k -> Reshape back to (N, O, L').

    An even `padding='same'` extent (one more column on the right) pads both sides by the larger
    amount and slices off the first output column (stride is 1 for 'same').
    """
    x_ref, weight, bias, stride, padding, dilation, groups = node.unpack(
        "input", "weight", "bias", "stride", "padding", "dilation", "groups")
    x = ctx.blob(x_ref)
    if len(x.shape) != 3:
        raise ctx.unsupported(f"conv1d of a {len(x.shape)}-D input {list(x.shape)}; only (N, C, L) is converted")
    w = ctx.constant(weight)
    b = ctx.constant(bias) if bias is not None else None
    s, d = single(ctx, stride, "stride"), single(ctx, dilation, "dilation")
    k = w.shape[2]
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ctx.unsupported(f"padding={padding!r}")
        total = d * (k - 1) if padding == "same" else 0
        left, right = total // 2, total - total // 2
    else:
        left = right = single(ctx, padding, "padding")
    name = ctx.name(node, "as2d")
    flat = ctx.emit(builders.reshape(name, x, name, dims=[0, 0, 1, -1]))[0]
    name = ctx.name(node, "conv")
    conv = builders.convolution(name, flat, name, num_output=w.shape[0], kernel=(1, k), stride=(1, s),
                                pad=(0, right), dilation=(1, d), group=int(groups), bias_term=b is not None)
    out = ctx.emit(conv, weights.convolution_blobs(w.reshape(w.shape[0], w.shape[1], 1, k), b))[0]
    if left != right:
        out = keep_range(ctx, node, out, 3, right - left, out.shape[3], part="crop")
    ctx.emit(builders.reshape(ctx.name(node), out, ctx.name(node), dims=[0, 0, -1]), result=node)
