"""Typed builders of canonical Caffe layers (`purecaffe.canonical.CaffeLayer`).

Each builder takes the layer name, its bottom `Blob`s (name + Caffe shape), its
top name(s) and the layer's parameters as keyword arguments, and returns a
`CaffeLayer` whose top and parameter shapes come from the runtime's shape
function for the type (`canonical.make_layer`).  Builders hold no shape
arithmetic and no LayerParameter field names: the parameters are the runtime's
keyword arguments, and each target spells them in its own schema when it
serializes (`purecaffe.targets.serialize`).
"""
from __future__ import annotations

from collections.abc import Sequence

from purecaffe.canonical import Blob, CaffeLayer, make_layer

Shape = tuple[int, ...]
Pair = tuple[int, int]
Layer = CaffeLayer


def pair(value: int | Sequence[int]) -> Pair:
    """`3` -> (3, 3); `(2, 3)` -> (2, 3): the one normaliser of per-axis (H, W) arguments."""
    if isinstance(value, int):
        return (value, value)
    h, w = value
    return (int(h), int(w))


def _hw_values(value: Pair, default: int) -> tuple[int, ...]:
    """Caffe's repeated per-axis fields: () for the default, one value for square, else (h, w)."""
    h, w = value
    if h == w:
        return () if h == default else (h,)
    return (h, w)


# -- inputs --------------------------------------------------------------------------------------

def input_layer(name: str, tops: Sequence[Blob]) -> Layer:
    """Input layer declaring `tops` with their shapes (one shape per top)."""
    return make_layer("Input", name, (), [t.name for t in tops], shapes=tuple(tuple(t.shape) for t in tops))


def parameter(name: str, top: str, shape: Shape) -> Layer:
    """Parameter layer: a constant blob of `shape` stored as the layer's one parameter."""
    return make_layer("Parameter", name, (), [top], shape=tuple(shape))


# -- convolution and inner product ---------------------------------------------------------------

def _conv(layer_type: str, name: str, bottom: Blob, top: str, *, num_output: int, kernel: int | Pair,
          stride: int | Pair, pad: int | Pair, dilation: int | Pair, group: int, bias_term: bool) -> Layer:
    kernel_hw = pair(kernel)
    return make_layer(layer_type, name, [bottom], [top], num_output=num_output, bias_term=bias_term,
                      kernel=kernel_hw if kernel_hw[0] != kernel_hw[1] else kernel_hw[:1],
                      stride=_hw_values(pair(stride), 1), pad=_hw_values(pair(pad), 0),
                      dilation=_hw_values(pair(dilation), 1), group=group)


def convolution(name: str, bottom: Blob, top: str, *, num_output: int, kernel: int | Pair,
                stride: int | Pair = 1, pad: int | Pair = 0, dilation: int | Pair = 1, group: int = 1,
                bias_term: bool = True) -> Layer:
    """Convolution (symmetric pad only; Caffe has no asymmetric padding)."""
    return _conv("Convolution", name, bottom, top, num_output=num_output, kernel=kernel, stride=stride, pad=pad,
                 dilation=dilation, group=group, bias_term=bias_term)


def deconvolution(name: str, bottom: Blob, top: str, *, num_output: int, kernel: int | Pair,
                  stride: int | Pair = 1, pad: int | Pair = 0, dilation: int | Pair = 1, group: int = 1,
                  bias_term: bool = True) -> Layer:
    """Deconvolution: weights (in, out/group, kh, kw); no output_padding in Caffe."""
    return _conv("Deconvolution", name, bottom, top, num_output=num_output, kernel=kernel, stride=stride,
                 pad=pad, dilation=dilation, group=group, bias_term=bias_term)


def inner_product(name: str, bottom: Blob, top: str, *, num_output: int, axis: int = 1,
                  bias_term: bool = True) -> Layer:
    """InnerProduct: flattens bottom axes axis.. into K; weight (num_output, K)."""
    return make_layer("InnerProduct", name, [bottom], [top], num_output=num_output, axis=axis, bias_term=bias_term)


def embed(name: str, bottom: Blob, top: str, *, num_output: int, input_dim: int) -> Layer:
    """Embed: each bottom value an integer row index into the (input_dim, num_output) weight; no bias."""
    return make_layer("Embed", name, [bottom], [top], num_output=num_output, input_dim=input_dim, bias_term=False)


def lstm(name: str, bottoms: Sequence[Blob], top: str, *, num_output: int) -> Layer:
    """LSTM over x (T, N, ...), with cont (T, N) or without (one sequence from t = 0); top h (T, N, num_output);
    gates i, f, o, g."""
    return make_layer("LSTM", name, bottoms, [top], num_output=num_output, expose_hidden=False)


# -- normalization and affine --------------------------------------------------------------------

def batch_norm(name: str, bottom: Blob, top: str, *, eps: float) -> Layer:
    """BatchNorm with use_global_stats: (x - mean) / sqrt(var + eps), channels on axis 1."""
    return make_layer("BatchNorm", name, [bottom], [top], use_global_stats=True, eps=eps)


def scale(name: str, bottoms: Sequence[Blob], top: str, *, axis: int = 1, num_axes: int = 1,
          bias_term: bool = False) -> Layer:
    """Scale: y = x * gamma (+ beta), gamma a parameter (one bottom) or the second bottom.

    With two bottoms, bottom[1]'s shape must equal bottom[0].shape[axis:axis+rank1]
    (Caffe broadcasts it over the other axes).
    """
    return make_layer("Scale", name, bottoms, [top], axis=axis, num_axes=num_axes, bias_term=bias_term)


def bias(name: str, bottoms: Sequence[Blob], top: str, *, axis: int = 1, num_axes: int = 1) -> Layer:
    """Bias: y = x + beta, beta a parameter (one bottom) or the second bottom."""
    return make_layer("Bias", name, bottoms, [top], axis=axis, num_axes=num_axes)


# -- pooling -------------------------------------------------------------------------------------

def pooling(name: str, bottom: Blob, top: str, *, method: str, kernel: int | Pair = 1,
            stride: int | Pair = 1, pad: int | Pair = 0, round_mode: str = "CEIL",
            global_pooling: bool = False, mask_top: str | None = None) -> Layer:
    """Pooling, method "MAX" or "AVE", Caffe's `round_mode` "CEIL" (its default) or "FLOOR".

    AVE divides by the window clipped to H + pad.  Targets without a round mode
    legalize FLOOR (`purecaffe.targets.rules`).  MAX with `mask_top` has a second top holding
    each window's argmax as a flat index h * W + w into the bottom's plane (float).
    """
    if mask_top is not None:
        if method != "MAX" or global_pooling:
            raise ValueError(f"layer {name}: only non-global MAX pooling has a mask top")
        return make_layer("Pooling", name, [bottom], [top, mask_top], pool=method, kernel=pair(kernel),
                          stride=pair(stride), pad=pair(pad), global_pooling=False, round_mode=round_mode)
    if global_pooling:
        return make_layer("Pooling", name, [bottom], [top], pool=method, kernel=None, stride=(1, 1), pad=(0, 0),
                          global_pooling=True, round_mode=round_mode)
    return make_layer("Pooling", name, [bottom], [top], pool=method, kernel=pair(kernel), stride=pair(stride),
                      pad=pair(pad), global_pooling=False, round_mode=round_mode)


def lrn(name: str, bottom: Blob, top: str, *, local_size: int, alpha: float, beta: float, k: float) -> Layer:
    """LRN across channels: x * (k + alpha / local_size * sum of squares over the odd window) ^ -beta."""
    return make_layer("LRN", name, [bottom], [top], local_size=local_size, alpha=alpha, beta=beta, k=k,
                      norm_region="ACROSS_CHANNELS")


# -- element-wise activations --------------------------------------------------------------------

def relu(name: str, bottom: Blob, top: str, *, negative_slope: float = 0.0) -> Layer:
    return make_layer("ReLU", name, [bottom], [top], negative_slope=negative_slope)


def relu6(name: str, bottom: Blob, top: str) -> Layer:
    """ReLU6: min(max(x, 0), 6) (RKNN, OpenCV; legalized elsewhere)."""
    return make_layer("ReLU6", name, [bottom], [top])


def hardswish(name: str, bottom: Blob, top: str) -> Layer:
    """HardSwish: x * relu6(x + 3) / 6 (RKNN; legalized elsewhere)."""
    return make_layer("HardSwish", name, [bottom], [top])


def prelu(name: str, bottom: Blob, top: str, *, channel_shared: bool) -> Layer:
    """PReLU over axis 1 (slopes (C,)), or one shared slope (a 0-D blob in Caffe)."""
    return make_layer("PReLU", name, [bottom], [top], channel_shared=channel_shared)


def elu(name: str, bottom: Blob, top: str, *, alpha: float = 1.0) -> Layer:
    return make_layer("ELU", name, [bottom], [top], alpha=alpha)


def sigmoid(name: str, bottom: Blob, top: str) -> Layer:
    return make_layer("Sigmoid", name, [bottom], [top])


def tanh(name: str, bottom: Blob, top: str) -> Layer:
    return make_layer("TanH", name, [bottom], [top])


def absval(name: str, bottom: Blob, top: str) -> Layer:
    return make_layer("AbsVal", name, [bottom], [top])


def bnll(name: str, bottom: Blob, top: str) -> Layer:
    """BNLL: log(1 + exp(x)), computed stably (softplus with beta 1)."""
    return make_layer("BNLL", name, [bottom], [top])


def clip(name: str, bottom: Blob, top: str, *, min: float, max: float) -> Layer:  # noqa: A002
    return make_layer("Clip", name, [bottom], [top], min=min, max=max)


def swish(name: str, bottom: Blob, top: str, *, beta: float = 1.0) -> Layer:
    """Swish: x * sigmoid(beta * x)."""
    return make_layer("Swish", name, [bottom], [top], beta=beta)


def power(name: str, bottom: Blob, top: str, *, power: float = 1.0, scale: float = 1.0,
          shift: float = 0.0) -> Layer:
    """Power: (shift + scale * x) ^ power."""
    return make_layer("Power", name, [bottom], [top], power=power, scale=scale, shift=shift)


def exp(name: str, bottom: Blob, top: str, *, base: float = -1.0, scale: float = 1.0,
        shift: float = 0.0) -> Layer:
    """Exp: base ^ (shift + scale * x); base -1 means e."""
    return make_layer("Exp", name, [bottom], [top], base=base, scale=scale, shift=shift)


def log(name: str, bottom: Blob, top: str, *, base: float = -1.0, scale: float = 1.0,
        shift: float = 0.0) -> Layer:
    """Log: log_base(shift + scale * x); base -1 means e."""
    return make_layer("Log", name, [bottom], [top], base=base, scale=scale, shift=shift)


# -- multi-blob layers ---------------------------------------------------------------------------

def eltwise(name: str, bottoms: Sequence[Blob], top: str, *, operation: str = "SUM",
            coeff: Sequence[float] = ()) -> Layer:
    """Eltwise SUM/PROD/MAX over identically shaped bottoms; `coeff` only with SUM."""
    if coeff and operation != "SUM":
        raise ValueError(f"layer {name}: coeff needs SUM")
    return make_layer("Eltwise", name, bottoms, [top], operation=operation, coeff=tuple(float(c) for c in coeff))


def concat(name: str, bottoms: Sequence[Blob], top: str, *, axis: int = 1) -> Layer:
    return make_layer("Concat", name, bottoms, [top], axis=axis)


def slice_layer(name: str, bottom: Blob, tops: Sequence[str], *, axis: int = 1,
                slice_point: Sequence[int] = ()) -> Layer:
    """Slice along `axis` at increasing `slice_point`s (len(tops) - 1 of them)."""
    return make_layer("Slice", name, [bottom], tops, axis=axis, slice_point=tuple(int(p) for p in slice_point))


def slice_keep(name: str, x: Blob, top: str, *, axis: int, start: int, end: int) -> Layer:
    """x[start:end] along `axis` as the top `top` of one Slice layer.

    The parts cut off are tops named `<name>/unused_<lo>_<hi>`, left for the Silence
    layer that ends every unused top.  The one way anything is cut out of a blob.
    """
    size = x.shape[axis]
    points = [p for p in (start, end) if 0 < p < size]
    bounds = list(zip([0, *points], [*points, size]))
    if (start, end) not in bounds:
        raise ValueError(f"layer {name}: [{start}:{end}] is not a part of an axis of size {size}")
    tops = [top if (lo, hi) == (start, end) else f"{name}/unused_{lo}_{hi}" for lo, hi in bounds]
    return slice_layer(name, x, tops, axis=axis, slice_point=points)


def split(name: str, bottom: Blob, tops: Sequence[str]) -> Layer:
    """Split: copies of bottom (what Caffe inserts itself for a blob used twice)."""
    return make_layer("Split", name, [bottom], tops)


def silence(name: str, bottoms: Sequence[Blob]) -> Layer:
    """Silence: consumes blobs nobody else uses, so they are not net outputs."""
    return make_layer("Silence", name, bottoms, ())


def crop(name: str, bottoms: Sequence[Blob], top: str, *, axis: int = 2, offset: Sequence[int] = ()) -> Layer:
    """Crop bottom[0] to bottom[1]'s shape from `axis` on, starting at `offset`."""
    return make_layer("Crop", name, bottoms, [top], axis=axis, offset=tuple(int(o) for o in offset))


# -- shape layers --------------------------------------------------------------------------------

def flatten(name: str, bottom: Blob, top: str, *, axis: int = 1, end_axis: int = -1) -> Layer:
    return make_layer("Flatten", name, [bottom], [top], axis=axis, end_axis=end_axis)


def reshape(name: str, bottom: Blob, top: str, *, dims: Sequence[int], axis: int = 0,
            num_axes: int = -1) -> Layer:
    """Reshape: `dims` may hold 0 (copy the bottom's dim, used for the batch) and one -1."""
    return make_layer("Reshape", name, [bottom], [top], shape=tuple(int(d) for d in dims), axis=axis,
                      num_axes=num_axes)


def reshape_to(name: str, bottom: Blob, top: str, shape: Sequence[int]) -> Layer:
    """Reshape to `shape` with the batch written as 0 (copy the bottom's) where it is unchanged, so
    the net still runs at other batch sizes; not when it is the only axis left (OpenCV reads a lone
    `dims: 0` as an empty shape).  The one place that keeps the batch as 0."""
    dims = [int(d) for d in shape]
    if len(dims) > 1 and bottom.shape and dims[0] == bottom.shape[0]:
        dims[0] = 0
    return reshape(name, bottom, top, dims=dims)


def permute(name: str, bottom: Blob, top: str, *, order: Sequence[int]) -> Layer:
    """Permute (SSD fork; RKNN, OpenCV, NNIE (0,2,3,1) only): top axis i is bottom axis order[i]."""
    return make_layer("Permute", name, [bottom], [top], order=tuple(int(o) for o in order))


def interp(name: str, bottom: Blob, top: str, *, height: int, width: int) -> Layer:
    """Interp (PSPNet fork; OpenCV): bilinear resize to height x width, align-corners arithmetic."""
    return make_layer("Interp", name, [bottom], [top], height=height, width=width)


def softmax(name: str, bottom: Blob, top: str, *, axis: int = 1) -> Layer:
    return make_layer("Softmax", name, [bottom], [top], axis=axis)


def reduction(name: str, bottom: Blob, top: str, *, operation: str = "SUM", axis: int = 0,
              coeff: float = 1.0) -> Layer:
    """Reduction over *all* axes from `axis` to the end (SUM, ASUM, SUMSQ, MEAN), times coeff."""
    return make_layer("Reduction", name, [bottom], [top], operation=operation, axis=axis, coeff=coeff)


def argmax(name: str, bottom: Blob, top: str, *, axis: int) -> Layer:
    """ArgMax along `axis` (kept, size 1): the index of the maximum, the largest among equal ones."""
    return make_layer("ArgMax", name, [bottom], [top], out_max_val=False, top_k=1, axis=axis)


def tile(name: str, bottom: Blob, top: str, *, axis: int = 1, tiles: int) -> Layer:
    return make_layer("Tile", name, [bottom], [top], axis=axis, tiles=tiles)


__all__ = ["Blob", "Layer", "pair"]
