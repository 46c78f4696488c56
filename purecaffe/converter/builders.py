"""Typed builders of Caffe layers: the only module that knows LayerParameter field names.

Each builder takes the layer name, its bottom `Blob`s (name + Caffe shape),
its top name(s) and the layer's parameters as keyword arguments, and returns a
`Layer`: the LayerParameter, the tops with the shapes *Caffe* will give them
(`caffe_shapes`), and the parameter blob shapes Caffe expects.  Lowerings
never touch a LayerParameter; `LoweringContext.emit` checks top shapes and
weight shapes against a Layer.

Parameters are emitted only when they differ from Caffe's defaults, square
kernels/strides/pads as `kernel_size`/`stride`/`pad` (what every consumer
reads), otherwise as `_h`/`_w` pairs.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

from purecaffe.converter import caffe_shapes
from purecaffe.errors import ShapeError
from purecaffe.schema import CaffeSchema, load_schema

Shape = tuple[int, ...]
Pair = tuple[int, int]


@dataclass(frozen=True)
class Blob:
    """A Caffe blob: its name and shape."""

    name: str
    shape: Shape


@dataclass(frozen=True)
class Layer:
    """A built layer: parameter message, tops with Caffe's shapes, expected weight shapes."""

    param: Message
    tops: tuple[Blob, ...]
    param_shapes: tuple[Shape, ...] = ()

    @property
    def name(self) -> str:
        return str(self.param.name)

    @property
    def type(self) -> str:
        return str(self.param.type)

    @property
    def bottoms(self) -> tuple[str, ...]:
        return tuple(self.param.bottom)

    @property
    def top(self) -> Blob:
        """The single top (error for a layer with several)."""
        if len(self.tops) != 1:
            raise ValueError(f"layer {self.name} has {len(self.tops)} tops")
        return self.tops[0]


@functools.lru_cache(maxsize=1)
def _schema() -> CaffeSchema:
    return load_schema()


def _layer(layer_type: str, name: str, bottoms: Sequence[Blob], tops: Sequence[str]) -> Message:
    param = _schema().LayerParameter()
    param.name = name
    param.type = layer_type
    param.bottom.extend(b.name for b in bottoms)
    param.top.extend(tops)
    return param


def _pair(value: int | Sequence[int]) -> Pair:
    if isinstance(value, int):
        return (value, value)
    h, w = value
    return (int(h), int(w))


def _set_hw(msg: Message, field: str, value: Pair, default: int, *, repeated: bool) -> None:
    """`kernel_size: 3` for square, else `kernel_h`/`kernel_w`; nothing when all default."""
    h, w = value
    if h == w:
        if h != default:
            if repeated:
                getattr(msg, field).append(h)
            else:
                setattr(msg, field, h)
    else:
        stem = field.replace("_size", "")
        setattr(msg, f"{stem}_h", h)
        setattr(msg, f"{stem}_w", w)


def _same_shape(name: str, bottoms: Sequence[Blob]) -> Shape:
    shapes = {b.shape for b in bottoms}
    if len(shapes) != 1:
        raise ShapeError(f"layer {name}: bottoms must have identical shapes, got "
                         f"{', '.join(f'{b.name}{list(b.shape)}' for b in bottoms)}")
    return bottoms[0].shape


def _hw(name: str, bottom: Blob) -> tuple[int, int, int, int]:
    if len(bottom.shape) != 4:
        raise ShapeError(f"layer {name}: needs a 4-D (N, C, H, W) bottom, got {list(bottom.shape)}")
    n, c, h, w = bottom.shape
    return n, c, h, w


# -- inputs --------------------------------------------------------------------------------------

def input_layer(name: str, tops: Sequence[Blob]) -> Layer:
    """Input layer declaring `tops` with their shapes (one shape per top)."""
    param = _layer("Input", name, (), [t.name for t in tops])
    for top in tops:
        param.input_param.shape.add().dim.extend(top.shape)
    return Layer(param, tuple(tops))


def parameter(name: str, top: str, shape: Shape) -> Layer:
    """Parameter layer: a constant blob of `shape` stored as the layer's one parameter."""
    param = _layer("Parameter", name, (), [top])
    param.parameter_param.shape.dim.extend(shape)
    return Layer(param, (Blob(top, tuple(shape)),), (tuple(shape),))


# -- convolution and inner product ---------------------------------------------------------------

def _conv_param(param: Message, num_output: int, kernel: Pair, stride: Pair, pad: Pair, dilation: Pair,
                group: int, bias_term: bool) -> None:
    conv = param.convolution_param
    conv.num_output = num_output
    if not bias_term:
        conv.bias_term = False
    _set_hw(conv, "kernel_size", kernel, -1, repeated=True)
    _set_hw(conv, "stride", stride, 1, repeated=True)
    _set_hw(conv, "pad", pad, 0, repeated=True)
    if dilation != (1, 1):
        conv.dilation.extend(dilation if dilation[0] != dilation[1] else dilation[:1])
    if group != 1:
        conv.group = group


def _check_groups(name: str, channels: int, num_output: int, group: int) -> None:
    if channels % group or num_output % group:
        raise ShapeError(f"layer {name}: {channels} input and {num_output} output channels "
                         f"are not divisible by group {group}")


def convolution(name: str, bottom: Blob, top: str, *, num_output: int, kernel: int | Pair,
                stride: int | Pair = 1, pad: int | Pair = 0, dilation: int | Pair = 1, group: int = 1,
                bias_term: bool = True) -> Layer:
    """Convolution (symmetric pad only; Caffe has no asymmetric padding)."""
    n, c, h, w = _hw(name, bottom)
    kernel, stride, pad, dilation = _pair(kernel), _pair(stride), _pair(pad), _pair(dilation)
    _check_groups(name, c, num_output, group)
    param = _layer("Convolution", name, [bottom], [top])
    _conv_param(param, num_output, kernel, stride, pad, dilation, group, bias_term)
    out = (n, num_output, caffe_shapes.conv_out(h, kernel[0], stride[0], pad[0], dilation[0]),
           caffe_shapes.conv_out(w, kernel[1], stride[1], pad[1], dilation[1]))
    shapes: tuple[Shape, ...] = ((num_output, c // group, *kernel),)
    return Layer(param, (Blob(top, out),), shapes + (((num_output,),) if bias_term else ()))


def deconvolution(name: str, bottom: Blob, top: str, *, num_output: int, kernel: int | Pair,
                  stride: int | Pair = 1, pad: int | Pair = 0, dilation: int | Pair = 1, group: int = 1,
                  bias_term: bool = True) -> Layer:
    """Deconvolution: weights (in, out/group, kh, kw); no output_padding in Caffe."""
    n, c, h, w = _hw(name, bottom)
    kernel, stride, pad, dilation = _pair(kernel), _pair(stride), _pair(pad), _pair(dilation)
    _check_groups(name, c, num_output, group)
    param = _layer("Deconvolution", name, [bottom], [top])
    _conv_param(param, num_output, kernel, stride, pad, dilation, group, bias_term)
    out = (n, num_output, caffe_shapes.deconv_out(h, kernel[0], stride[0], pad[0], dilation[0]),
           caffe_shapes.deconv_out(w, kernel[1], stride[1], pad[1], dilation[1]))
    shapes: tuple[Shape, ...] = ((c, num_output // group, *kernel),)
    return Layer(param, (Blob(top, out),), shapes + (((num_output,),) if bias_term else ()))


def inner_product(name: str, bottom: Blob, top: str, *, num_output: int, axis: int = 1,
                  bias_term: bool = True) -> Layer:
    """InnerProduct: flattens bottom axes axis.. into K; weight (num_output, K)."""
    rank = len(bottom.shape)
    axis = caffe_shapes.canonical_axis(axis, rank)
    param = _layer("InnerProduct", name, [bottom], [top])
    param.inner_product_param.num_output = num_output
    if not bias_term:
        param.inner_product_param.bias_term = False
    if axis != 1:
        param.inner_product_param.axis = axis
    k = math.prod(bottom.shape[axis:])
    shapes: tuple[Shape, ...] = ((num_output, k),) + (((num_output,),) if bias_term else ())
    return Layer(param, (Blob(top, bottom.shape[:axis] + (num_output,)),), shapes)


# -- normalization and affine --------------------------------------------------------------------

def batch_norm(name: str, bottom: Blob, top: str, *, eps: float) -> Layer:
    """BatchNorm with use_global_stats: (x - mean) / sqrt(var + eps), channels on axis 1."""
    param = _layer("BatchNorm", name, [bottom], [top])
    param.batch_norm_param.use_global_stats = True
    param.batch_norm_param.eps = eps
    channels = bottom.shape[1] if len(bottom.shape) > 1 else 1
    return Layer(param, (Blob(top, bottom.shape),), ((channels,), (channels,), (1,)))


def _affine_shape(name: str, bottom: Blob, axis: int, num_axes: int) -> Shape:
    axis = caffe_shapes.canonical_axis(axis, len(bottom.shape))
    end = len(bottom.shape) if num_axes == -1 else axis + num_axes
    if end > len(bottom.shape):
        raise ShapeError(f"layer {name}: axis {axis} + num_axes {num_axes} beyond rank {len(bottom.shape)}")
    return bottom.shape[axis:end]


def scale(name: str, bottoms: Sequence[Blob], top: str, *, axis: int = 1, num_axes: int = 1,
          bias_term: bool = False) -> Layer:
    """Scale: y = x * gamma (+ beta), gamma a parameter (one bottom) or the second bottom.

    With two bottoms, bottom[1]'s shape must equal bottom[0].shape[axis:axis+rank1]
    (Caffe broadcasts it over the other axes).
    """
    param = _layer("Scale", name, bottoms, [top])
    if axis != 1:
        param.scale_param.axis = axis
    if bias_term:
        param.scale_param.bias_term = True
    x = bottoms[0]
    if len(bottoms) == 2:
        covered = _affine_shape(name, x, axis, len(bottoms[1].shape))
        if covered != bottoms[1].shape:
            raise ShapeError(f"layer {name}: Scale factor {list(bottoms[1].shape)} does not match "
                             f"{list(x.shape)} from axis {axis}")
        shapes: tuple[Shape, ...] = ((covered,) if bias_term else ())
    else:
        if num_axes != 1:
            param.scale_param.num_axes = num_axes
        covered = _affine_shape(name, x, axis, num_axes)
        shapes = (covered, covered) if bias_term else (covered,)
    return Layer(param, (Blob(top, x.shape),), shapes)


def bias(name: str, bottoms: Sequence[Blob], top: str, *, axis: int = 1, num_axes: int = 1) -> Layer:
    """Bias: y = x + beta, beta a parameter (one bottom) or the second bottom."""
    param = _layer("Bias", name, bottoms, [top])
    if axis != 1:
        param.bias_param.axis = axis
    x = bottoms[0]
    if len(bottoms) == 2:
        covered = _affine_shape(name, x, axis, len(bottoms[1].shape))
        if covered != bottoms[1].shape:
            raise ShapeError(f"layer {name}: Bias {list(bottoms[1].shape)} does not match {list(x.shape)}")
        return Layer(param, (Blob(top, x.shape),))
    if num_axes != 1:
        param.bias_param.num_axes = num_axes
    return Layer(param, (Blob(top, x.shape),), (_affine_shape(name, x, axis, num_axes),))


# -- pooling -------------------------------------------------------------------------------------

def pooling(name: str, bottom: Blob, top: str, *, method: str, kernel: int | Pair = 1,
            stride: int | Pair = 1, pad: int | Pair = 0, ceil_mode: bool = True,
            global_pooling: bool = False) -> Layer:
    """Pooling, method "MAX" or "AVE".  ceil_mode=False emits `round_mode: FLOOR` (BVLC master).

    AVE divides by the window clipped to H + pad (see docs/dialects.md).
    """
    n, c, h, w = _hw(name, bottom)
    param = _layer("Pooling", name, [bottom], [top])
    pool = param.pooling_param
    enum = _schema().message("PoolingParameter")
    pool.pool = getattr(enum, method)
    if global_pooling:
        pool.global_pooling = True
        return Layer(param, (Blob(top, (n, c, 1, 1)),))
    kernel, stride, pad = _pair(kernel), _pair(stride), _pair(pad)
    _set_hw(pool, "kernel_size", kernel, -1, repeated=False)
    _set_hw(pool, "stride", stride, 1, repeated=False)
    _set_hw(pool, "pad", pad, 0, repeated=False)
    if not ceil_mode:
        pool.round_mode = enum.FLOOR
    any_pad = pad != (0, 0)
    out = (n, c, caffe_shapes.pool_out(h, kernel[0], stride[0], pad[0], ceil=ceil_mode, any_pad=any_pad),
           caffe_shapes.pool_out(w, kernel[1], stride[1], pad[1], ceil=ceil_mode, any_pad=any_pad))
    return Layer(param, (Blob(top, out),))


# -- element-wise activations --------------------------------------------------------------------

def _neuron(layer_type: str, name: str, bottom: Blob, top: str) -> tuple[Message, tuple[Blob, ...]]:
    return _layer(layer_type, name, [bottom], [top]), (Blob(top, bottom.shape),)


def relu(name: str, bottom: Blob, top: str, *, negative_slope: float = 0.0) -> Layer:
    param, tops = _neuron("ReLU", name, bottom, top)
    if negative_slope != 0.0:
        param.relu_param.negative_slope = negative_slope
    return Layer(param, tops)


def prelu(name: str, bottom: Blob, top: str, *, channel_shared: bool) -> Layer:
    """PReLU over axis 1 (slopes (C,)), or one shared slope (a 0-D blob in Caffe)."""
    param, tops = _neuron("PReLU", name, bottom, top)
    if channel_shared:
        param.prelu_param.channel_shared = True
        return Layer(param, tops, ((),))
    channels = bottom.shape[1] if len(bottom.shape) > 1 else 1
    return Layer(param, tops, ((channels,),))


def elu(name: str, bottom: Blob, top: str, *, alpha: float = 1.0) -> Layer:
    param, tops = _neuron("ELU", name, bottom, top)
    if alpha != 1.0:
        param.elu_param.alpha = alpha
    return Layer(param, tops)


def sigmoid(name: str, bottom: Blob, top: str) -> Layer:
    return Layer(*_neuron("Sigmoid", name, bottom, top))


def tanh(name: str, bottom: Blob, top: str) -> Layer:
    return Layer(*_neuron("TanH", name, bottom, top))


def absval(name: str, bottom: Blob, top: str) -> Layer:
    return Layer(*_neuron("AbsVal", name, bottom, top))


def bnll(name: str, bottom: Blob, top: str) -> Layer:
    """BNLL: log(1 + exp(x)), computed stably (softplus with beta 1)."""
    return Layer(*_neuron("BNLL", name, bottom, top))


def clip(name: str, bottom: Blob, top: str, *, min: float, max: float) -> Layer:  # noqa: A002
    param, tops = _neuron("Clip", name, bottom, top)
    param.clip_param.min = min
    param.clip_param.max = max
    return Layer(param, tops)


def swish(name: str, bottom: Blob, top: str, *, beta: float = 1.0) -> Layer:
    """Swish: x * sigmoid(beta * x)."""
    param, tops = _neuron("Swish", name, bottom, top)
    if beta != 1.0:
        param.swish_param.beta = beta
    return Layer(param, tops)


def power(name: str, bottom: Blob, top: str, *, power: float = 1.0, scale: float = 1.0,
          shift: float = 0.0) -> Layer:
    """Power: (shift + scale * x) ^ power."""
    param, tops = _neuron("Power", name, bottom, top)
    if power != 1.0:
        param.power_param.power = power
    if scale != 1.0:
        param.power_param.scale = scale
    if shift != 0.0:
        param.power_param.shift = shift
    return Layer(param, tops)


def exp(name: str, bottom: Blob, top: str, *, base: float = -1.0, scale: float = 1.0,
        shift: float = 0.0) -> Layer:
    """Exp: base ^ (shift + scale * x); base -1 means e."""
    param, tops = _neuron("Exp", name, bottom, top)
    if base != -1.0:
        param.exp_param.base = base
    if scale != 1.0:
        param.exp_param.scale = scale
    if shift != 0.0:
        param.exp_param.shift = shift
    return Layer(param, tops)


def log(name: str, bottom: Blob, top: str, *, base: float = -1.0, scale: float = 1.0,
        shift: float = 0.0) -> Layer:
    """Log: log_base(shift + scale * x); base -1 means e."""
    param, tops = _neuron("Log", name, bottom, top)
    if base != -1.0:
        param.log_param.base = base
    if scale != 1.0:
        param.log_param.scale = scale
    if shift != 0.0:
        param.log_param.shift = shift
    return Layer(param, tops)


# -- multi-blob layers ---------------------------------------------------------------------------

def eltwise(name: str, bottoms: Sequence[Blob], top: str, *, operation: str = "SUM",
            coeff: Sequence[float] = ()) -> Layer:
    """Eltwise SUM/PROD/MAX over identically shaped bottoms; `coeff` only with SUM."""
    shape = _same_shape(name, bottoms)
    param = _layer("Eltwise", name, bottoms, [top])
    enum = _schema().message("EltwiseParameter")
    if operation != "SUM":
        param.eltwise_param.operation = getattr(enum, operation)
    if coeff:
        if operation != "SUM" or len(coeff) != len(bottoms):
            raise ValueError(f"layer {name}: coeff needs SUM and one value per bottom")
        param.eltwise_param.coeff.extend(coeff)
    return Layer(param, (Blob(top, shape),))


def concat(name: str, bottoms: Sequence[Blob], top: str, *, axis: int = 1) -> Layer:
    rank = len(bottoms[0].shape)
    axis = caffe_shapes.canonical_axis(axis, rank)
    rest = {b.shape[:axis] + b.shape[axis + 1:] for b in bottoms}
    if len(rest) != 1 or any(len(b.shape) != rank for b in bottoms):
        raise ShapeError(f"layer {name}: Concat bottoms differ off axis {axis}: "
                         f"{', '.join(str(list(b.shape)) for b in bottoms)}")
    param = _layer("Concat", name, bottoms, [top])
    if axis != 1:
        param.concat_param.axis = axis
    shape = list(bottoms[0].shape)
    shape[axis] = sum(b.shape[axis] for b in bottoms)
    return Layer(param, (Blob(top, tuple(shape)),))


def slice_layer(name: str, bottom: Blob, tops: Sequence[str], *, axis: int = 1,
                slice_point: Sequence[int] = ()) -> Layer:
    """Slice along `axis` at increasing `slice_point`s (len(tops) - 1 of them)."""
    axis = caffe_shapes.canonical_axis(axis, len(bottom.shape))
    size = bottom.shape[axis]
    points = list(slice_point)
    if points:
        if len(points) != len(tops) - 1 or points != sorted(set(points)) or points[0] <= 0 or points[-1] >= size:
            raise ShapeError(f"layer {name}: bad slice points {points} for size {size} and {len(tops)} tops")
        bounds = [0, *points, size]
    else:
        if size % len(tops):
            raise ShapeError(f"layer {name}: {size} does not split evenly into {len(tops)} tops")
        step = size // len(tops)
        bounds = [i * step for i in range(len(tops) + 1)]
    param = _layer("Slice", name, [bottom], tops)
    if axis != 1:
        param.slice_param.axis = axis
    param.slice_param.slice_point.extend(points)
    out = []
    for i, top in enumerate(tops):
        shape = list(bottom.shape)
        shape[axis] = bounds[i + 1] - bounds[i]
        out.append(Blob(top, tuple(shape)))
    return Layer(param, tuple(out))


def split(name: str, bottom: Blob, tops: Sequence[str]) -> Layer:
    """Split: copies of bottom (what Caffe inserts itself for a blob used twice)."""
    return Layer(_layer("Split", name, [bottom], tops), tuple(Blob(t, bottom.shape) for t in tops))


def silence(name: str, bottoms: Sequence[Blob]) -> Layer:
    """Silence: consumes blobs nobody else uses, so they are not net outputs."""
    return Layer(_layer("Silence", name, bottoms, ()), ())


def crop(name: str, bottoms: Sequence[Blob], top: str, *, axis: int = 2, offset: Sequence[int] = ()) -> Layer:
    """Crop bottom[0] to bottom[1]'s shape from `axis` on, starting at `offset`."""
    x, ref = bottoms
    axis = caffe_shapes.canonical_axis(axis, len(x.shape))
    shape = x.shape[:axis] + ref.shape[axis:]
    param = _layer("Crop", name, bottoms, [top])
    if axis != 2:
        param.crop_param.axis = axis
    param.crop_param.offset.extend(offset)
    return Layer(param, (Blob(top, shape),))


# -- shape layers --------------------------------------------------------------------------------

def flatten(name: str, bottom: Blob, top: str, *, axis: int = 1, end_axis: int = -1) -> Layer:
    rank = len(bottom.shape)
    start, end = caffe_shapes.canonical_axis(axis, rank), caffe_shapes.canonical_axis(end_axis, rank)
    param = _layer("Flatten", name, [bottom], [top])
    if axis != 1:
        param.flatten_param.axis = axis
    if end_axis != -1:
        param.flatten_param.end_axis = end_axis
    shape = bottom.shape[:start] + (math.prod(bottom.shape[start:end + 1]),) + bottom.shape[end + 1:]
    return Layer(param, (Blob(top, shape),))


def reshape(name: str, bottom: Blob, top: str, *, dims: Sequence[int], axis: int = 0,
            num_axes: int = -1) -> Layer:
    """Reshape: `dims` may hold 0 (copy the bottom's dim, used for the batch) and one -1."""
    rank = len(bottom.shape)
    start = caffe_shapes.canonical_axis(axis, rank + 1) if axis != rank else rank
    end = rank if num_axes == -1 else start + num_axes
    replaced = bottom.shape[start:end]
    out: list[int] = []
    for i, dim in enumerate(dims):
        if dim == 0:
            if i >= len(replaced):
                raise ShapeError(f"layer {name}: reshape dim 0 at {i} copies nothing")
            out.append(replaced[i])
        else:
            out.append(dim)
    if out.count(-1) > 1:
        raise ShapeError(f"layer {name}: reshape has more than one -1")
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        out[out.index(-1)] = math.prod(replaced) // known if known else 0
    shape = bottom.shape[:start] + tuple(out) + bottom.shape[end:]
    if math.prod(shape) != math.prod(bottom.shape):
        raise ShapeError(f"layer {name}: cannot reshape {list(bottom.shape)} to {list(shape)}")
    param = _layer("Reshape", name, [bottom], [top])
    param.reshape_param.shape.dim.extend(dims)
    if axis != 0:
        param.reshape_param.axis = axis
    if num_axes != -1:
        param.reshape_param.num_axes = num_axes
    return Layer(param, (Blob(top, shape),))


def softmax(name: str, bottom: Blob, top: str, *, axis: int = 1) -> Layer:
    param, tops = _neuron("Softmax", name, bottom, top)
    if axis != 1:
        param.softmax_param.axis = axis
    return Layer(param, tops)


def reduction(name: str, bottom: Blob, top: str, *, operation: str = "SUM", axis: int = 0,
              coeff: float = 1.0) -> Layer:
    """Reduction over *all* axes from `axis` to the end (SUM, ASUM, SUMSQ, MEAN), times coeff."""
    axis = caffe_shapes.canonical_axis(axis, len(bottom.shape))
    param = _layer("Reduction", name, [bottom], [top])
    enum = _schema().message("ReductionParameter")
    if operation != "SUM":
        param.reduction_param.operation = getattr(enum, operation)
    if axis != 0:
        param.reduction_param.axis = axis
    if coeff != 1.0:
        param.reduction_param.coeff = coeff
    return Layer(param, (Blob(top, bottom.shape[:axis]),))


def tile(name: str, bottom: Blob, top: str, *, axis: int = 1, tiles: int) -> Layer:
    axis = caffe_shapes.canonical_axis(axis, len(bottom.shape))
    param = _layer("Tile", name, [bottom], [top])
    if axis != 1:
        param.tile_param.axis = axis
    param.tile_param.tiles = tiles
    shape = list(bottom.shape)
    shape[axis] *= tiles
    return Layer(param, (Blob(top, tuple(shape)),))
