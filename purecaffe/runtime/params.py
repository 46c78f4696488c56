"""Read a LayerParameter once into the keyword arguments of its layer functions.

This is the only module of the runtime that knows LayerParameter field names.
One function per Caffe layer type (named after it), returning a plain dict whose
keys are the keyword arguments shared by that type's forward and shape
functions.  Defaults are Caffe's (they come from caffe.proto); `has_*` checks
follow Caffe's own LayerSetUp where presence matters (pooling pad_h/pad_w,
convolution kernel_h/kernel_w, Concat concat_dim, Slice slice_dim, ArgMax axis).
"""
from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from purecaffe.runtime.layers.base import LayerProblem

Kwargs = dict[str, Any]


def sub(layer: Message, field: str) -> Message:
    """`layer.<field>`, or a LayerProblem if the schema in use has no such field."""
    if field not in layer.DESCRIPTOR.fields_by_name:
        raise LayerProblem(f"the caffe.proto in use has no LayerParameter.{field}")
    return getattr(layer, field)


def enum_name(message: Message, field: str) -> str:
    """Name of the enum value of `message.<field>` (e.g. 'MAX'), default included."""
    descriptor = message.DESCRIPTOR.fields_by_name[field]
    value = getattr(message, field)
    named = descriptor.enum_type.values_by_number.get(value)
    if named is None:
        raise LayerProblem(f"{field}: {value} is not a value of {descriptor.enum_type.name}")
    return named.name


def shape_of(blob_shape: Message) -> tuple[int, ...]:
    return tuple(int(d) for d in blob_shape.dim)


# --- vision ---------------------------------------------------------------------------------

def convolution(layer: Message) -> Kwargs:
    """Convolution, Deconvolution, DepthwiseConvolution (all read convolution_param)."""
    p = layer.convolution_param

    def per_axis(repeated: str, h: str, w: str) -> tuple[int, ...]:
        if p.HasField(h) or p.HasField(w):
            if len(getattr(p, repeated)):
                raise LayerProblem(f"either {repeated} or {h}/{w} should be specified; not both")
            return (int(getattr(p, h)), int(getattr(p, w)))
        return tuple(int(v) for v in getattr(p, repeated))

    return dict(num_output=int(p.num_output), bias_term=bool(p.bias_term),
                kernel=per_axis("kernel_size", "kernel_h", "kernel_w"),
                stride=per_axis("stride", "stride_h", "stride_w"),
                pad=per_axis("pad", "pad_h", "pad_w"),
                dilation=tuple(int(v) for v in p.dilation),
                group=int(p.group), axis=int(p.axis))


def pooling(layer: Message) -> Kwargs:
    p = layer.pooling_param
    global_pooling = bool(p.global_pooling)
    if global_pooling:
        if p.HasField("kernel_size") or p.HasField("kernel_h") or p.HasField("kernel_w"):
            raise LayerProblem("with global_pooling: true the filter size cannot be specified")
        kernel = None
    else:
        if p.HasField("kernel_size") == (p.HasField("kernel_h") and p.HasField("kernel_w")):
            raise LayerProblem("filter size is kernel_size OR kernel_h and kernel_w; not both")
        kernel = ((int(p.kernel_size),) * 2 if p.HasField("kernel_size")
                  else (int(p.kernel_h), int(p.kernel_w)))
    if p.HasField("pad") and (p.HasField("pad_h") or p.HasField("pad_w")) or \
            p.HasField("pad_h") != p.HasField("pad_w"):
        raise LayerProblem("pad is pad OR pad_h and pad_w")
    if p.HasField("stride") and (p.HasField("stride_h") or p.HasField("stride_w")) or \
            p.HasField("stride_h") != p.HasField("stride_w"):
        raise LayerProblem("stride is stride OR stride_h and stride_w")
    pad = (int(p.pad_h), int(p.pad_w)) if p.HasField("pad_h") else (int(p.pad),) * 2
    stride = (int(p.stride_h), int(p.stride_w)) if p.HasField("stride_h") else (int(p.stride),) * 2
    return dict(pool=enum_name(p, "pool"), kernel=kernel, stride=stride, pad=pad,
                global_pooling=global_pooling, round_mode=enum_name(p, "round_mode"))


def spp(layer: Message) -> Kwargs:
    p = layer.spp_param
    return dict(pyramid_height=int(p.pyramid_height), pool=enum_name(p, "pool"))


def lrn(layer: Message) -> Kwargs:
    p = layer.lrn_param
    return dict(local_size=int(p.local_size), alpha=float(p.alpha), beta=float(p.beta), k=float(p.k),
                norm_region=enum_name(p, "norm_region"))


def crop(layer: Message) -> Kwargs:
    p = layer.crop_param
    return dict(axis=int(p.axis), offset=tuple(int(v) for v in p.offset))


# --- neurons --------------------------------------------------------------------------------

def no_params(layer: Message) -> Kwargs:
    return {}


def relu(layer: Message) -> Kwargs:
    return dict(negative_slope=float(layer.relu_param.negative_slope))


def prelu(layer: Message) -> Kwargs:
    return dict(channel_shared=bool(layer.prelu_param.channel_shared))


def elu(layer: Message) -> Kwargs:
    return dict(alpha=float(layer.elu_param.alpha))


def swish(layer: Message) -> Kwargs:
    return dict(beta=float(sub(layer, "swish_param").beta))


def clip(layer: Message) -> Kwargs:
    p = sub(layer, "clip_param")
    if not (p.HasField("min") and p.HasField("max")):
        raise LayerProblem("clip_param needs both min and max")
    return dict(min=float(p.min), max=float(p.max))


def threshold(layer: Message) -> Kwargs:
    return dict(threshold=float(layer.threshold_param.threshold))


def power(layer: Message) -> Kwargs:
    p = layer.power_param
    return dict(power=float(p.power), scale=float(p.scale), shift=float(p.shift))


def exp(layer: Message) -> Kwargs:
    p = layer.exp_param
    return dict(base=float(p.base), scale=float(p.scale), shift=float(p.shift))


def log(layer: Message) -> Kwargs:
    p = layer.log_param
    return dict(base=float(p.base), scale=float(p.scale), shift=float(p.shift))


# --- element-wise and broadcasting ----------------------------------------------------------

def eltwise(layer: Message) -> Kwargs:
    p = layer.eltwise_param
    return dict(operation=enum_name(p, "operation"), coeff=tuple(float(c) for c in p.coeff))


def scale(layer: Message) -> Kwargs:
    p = layer.scale_param
    return dict(axis=int(p.axis), num_axes=int(p.num_axes), bias_term=bool(p.bias_term))


def bias(layer: Message) -> Kwargs:
    p = layer.bias_param
    return dict(axis=int(p.axis), num_axes=int(p.num_axes))


# --- normalisation --------------------------------------------------------------------------

def batch_norm(layer: Message) -> Kwargs:
    p = layer.batch_norm_param
    # Caffe: use_global_stats defaults to (phase == TEST); the runtime always runs TEST.
    use_global_stats = bool(p.use_global_stats) if p.HasField("use_global_stats") else True
    return dict(use_global_stats=use_global_stats, eps=float(p.eps))


def bn(layer: Message) -> Kwargs:
    """PSPNet/DeepLab-fork `BN` (bn_param): scale, shift, running mean, running variance."""
    p = sub(layer, "bn_param")
    return dict(eps=float(p.eps))


def mvn(layer: Message) -> Kwargs:
    p = layer.mvn_param
    return dict(normalize_variance=bool(p.normalize_variance), across_channels=bool(p.across_channels),
                eps=float(p.eps))


def normalize(layer: Message) -> Kwargs:
    """SSD-fork `Normalize` (norm_param)."""
    p = sub(layer, "norm_param")
    return dict(across_spatial=bool(p.across_spatial), channel_shared=bool(p.channel_shared),
                eps=float(p.eps))


# --- dense ----------------------------------------------------------------------------------

def inner_product(layer: Message) -> Kwargs:
    p = layer.inner_product_param
    return dict(num_output=int(p.num_output), bias_term=bool(p.bias_term), axis=int(p.axis),
                transpose=bool(p.transpose))


def embed(layer: Message) -> Kwargs:
    p = layer.embed_param
    return dict(num_output=int(p.num_output), input_dim=int(p.input_dim), bias_term=bool(p.bias_term))


def recurrent(layer: Message) -> Kwargs:
    """LSTM and RNN (recurrent_param)."""
    p = layer.recurrent_param
    return dict(num_output=int(p.num_output), expose_hidden=bool(p.expose_hidden))


# --- reductions -----------------------------------------------------------------------------

def softmax(layer: Message) -> Kwargs:
    return dict(axis=int(layer.softmax_param.axis))


def argmax(layer: Message) -> Kwargs:
    p = layer.argmax_param
    return dict(out_max_val=bool(p.out_max_val), top_k=int(p.top_k),
                axis=int(p.axis) if p.HasField("axis") else None)


def reduction(layer: Message) -> Kwargs:
    p = layer.reduction_param
    return dict(operation=enum_name(p, "operation"), axis=int(p.axis), coeff=float(p.coeff))


# --- shape manipulation ---------------------------------------------------------------------

def concat(layer: Message) -> Kwargs:
    p = layer.concat_param
    if p.HasField("axis") and p.HasField("concat_dim"):
        raise LayerProblem("either axis or concat_dim should be specified; not both")
    return dict(axis=int(p.concat_dim) if p.HasField("concat_dim") else int(p.axis))


def slice(layer: Message) -> Kwargs:  # noqa: A001 - named after the Caffe type
    p = layer.slice_param
    if p.HasField("axis") and p.HasField("slice_dim"):
        raise LayerProblem("either axis or slice_dim should be specified; not both")
    return dict(axis=int(p.slice_dim) if p.HasField("slice_dim") else int(p.axis),
                slice_point=tuple(int(v) for v in p.slice_point))


def flatten(layer: Message) -> Kwargs:
    p = layer.flatten_param
    return dict(axis=int(p.axis), end_axis=int(p.end_axis))


def reshape(layer: Message) -> Kwargs:
    p = layer.reshape_param
    return dict(shape=shape_of(p.shape), axis=int(p.axis), num_axes=int(p.num_axes))


def tile(layer: Message) -> Kwargs:
    p = layer.tile_param
    if not p.HasField("tiles"):
        raise LayerProblem("number of tiles must be specified")
    return dict(axis=int(p.axis), tiles=int(p.tiles))


def permute(layer: Message) -> Kwargs:
    """SSD-fork `Permute` (permute_param)."""
    return dict(order=tuple(int(v) for v in sub(layer, "permute_param").order))


def input(layer: Message) -> Kwargs:  # noqa: A001 - named after the Caffe type
    return dict(shapes=tuple(shape_of(s) for s in layer.input_param.shape))


def parameter(layer: Message) -> Kwargs:
    return dict(shape=shape_of(layer.parameter_param.shape))


def dummy_data(layer: Message) -> Kwargs:
    p = layer.dummy_data_param
    shapes = [shape_of(s) for s in p.shape]
    if not shapes and len(p.num):
        legacy = [p.num, p.channels, p.height, p.width]
        n = max(len(v) for v in legacy)
        shapes = [tuple(int(v[i] if len(v) > 1 else v[0]) for v in legacy) for i in range(n)]
    return dict(shapes=tuple(shapes))


# --- resizing (fork layers) -----------------------------------------------------------------

def upsample(layer: Message) -> Kwargs:
    p = sub(layer, "upsample_param")
    scale_h = int(p.scale_h) if p.HasField("scale_h") else int(p.scale)
    scale_w = int(p.scale_w) if p.HasField("scale_w") else int(p.scale)
    return dict(scale=(scale_h, scale_w), pad_out=(bool(p.pad_out_h), bool(p.pad_out_w)),
                size=(int(p.upsample_h) if p.HasField("upsample_h") else None,
                      int(p.upsample_w) if p.HasField("upsample_w") else None))


def interp(layer: Message) -> Kwargs:
    p = sub(layer, "interp_param")
    return dict(height=int(p.height), width=int(p.width),
                zoom_factor=int(p.zoom_factor) if p.HasField("zoom_factor") else None,
                shrink_factor=int(p.shrink_factor) if p.HasField("shrink_factor") else None,
                pad_beg=int(p.pad_beg), pad_end=int(p.pad_end))


# --- detection (SSD fork) -------------------------------------------------------------------

def prior_box(layer: Message) -> Kwargs:
    p = sub(layer, "prior_box_param")
    if p.HasField("img_size") and (p.HasField("img_h") or p.HasField("img_w")):
        raise LayerProblem("either img_size or img_h/img_w should be specified; not both")
    if p.HasField("step") and (p.HasField("step_h") or p.HasField("step_w")):
        raise LayerProblem("either step or step_h/step_w should be specified; not both")
    img = ((int(p.img_h), int(p.img_w)) if p.HasField("img_h") or p.HasField("img_w")
           else (int(p.img_size),) * 2 if p.HasField("img_size") else (0, 0))
    step = ((float(p.step_h), float(p.step_w)) if p.HasField("step_h") or p.HasField("step_w")
            else (float(p.step),) * 2 if p.HasField("step") else (0.0, 0.0))
    return dict(min_size=tuple(float(v) for v in p.min_size), max_size=tuple(float(v) for v in p.max_size),
                aspect_ratio=tuple(float(v) for v in p.aspect_ratio), flip=bool(p.flip), clip=bool(p.clip),
                variance=tuple(float(v) for v in p.variance), img=img, step=step, offset=float(p.offset))


def detection_output(layer: Message) -> Kwargs:
    p = sub(layer, "detection_output_param")
    return dict(num_classes=int(p.num_classes), keep_top_k=int(p.keep_top_k))
