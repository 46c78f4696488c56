"""Canonical layers -> a NetParameter in a target's spelling: the one writer of LayerParameter fields.

The mirror of `purecaffe.runtime.params` (which reads a LayerParameter into the
runtime's keyword arguments): one `_pack_<type>` per type writes the canonical
parameters back, only where they differ from caffe.proto's defaults, in the field
names every consumer of that type reads (`kernel_size` for square kernels, else
`kernel_h`/`kernel_w`, ...).  Every packed layer is read back with the runtime's own
unpacking and must give the same parameters: what is written is what was checked
(shapes, legalization, the target's rules), or serialization fails as a bug.

The caffemodel carries only name, type, bottom, top and blobs (`purecaffe.io`), so
field numbers of parameter messages never reach a consumer; the prototxt is read by
field name, and `checks` guarantees each target gets only names its schema has.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf.message import Message

from purecaffe.canonical import CaffeLayer, default_params
from purecaffe.errors import ConverterBugError
from purecaffe.runtime.layers.base import LayerProblem
from purecaffe.runtime.registry import lookup
from purecaffe.schema import CaffeSchema, load_schema
from purecaffe.targets.target import Target

Packer = Callable[[Message, Mapping[str, Any]], None]


def _changed(params: Mapping[str, Any], layer_type: str) -> dict[str, Any]:
    defaults = default_params(layer_type)
    return {k: v for k, v in params.items() if k not in defaults or defaults[k] != v}


def _set(message: Message, values: Mapping[str, Any], fields: Mapping[str, str]) -> None:
    """message.<field> = value for each parameter named in `fields` (parameter -> field)."""
    for key, field in fields.items():
        if key in values:
            value = values[key]
            if isinstance(value, (tuple, list)):
                getattr(message, field).extend(value)
            else:
                setattr(message, field, value)


def _simple(sub: str, fields: Mapping[str, str] | None = None) -> Callable[[str], Packer]:
    def for_type(layer_type: str) -> Packer:
        def pack(layer: Message, params: Mapping[str, Any]) -> None:
            changed = _changed(params, layer_type)
            if changed:
                _set(getattr(layer, sub), changed, fields or {k: k for k in changed})
        return pack
    return for_type


def _pack_conv(layer: Message, params: Mapping[str, Any]) -> None:
    p = layer.convolution_param
    p.num_output = params["num_output"]
    if not params["bias_term"]:
        p.bias_term = False
    for key, repeated, stem in (("kernel", "kernel_size", "kernel"), ("stride", "stride", "stride"),
                                ("pad", "pad", "pad")):
        values = tuple(params[key])
        if len(values) == 2 and values[0] != values[1]:
            setattr(p, f"{stem}_h", values[0])
            setattr(p, f"{stem}_w", values[1])
        elif values:
            getattr(p, repeated).append(values[0])
    p.dilation.extend(params["dilation"])
    if params["group"] != 1:
        p.group = params["group"]
    if params["axis"] != 1:
        p.axis = params["axis"]


def _pack_pooling(layer: Message, params: Mapping[str, Any]) -> None:
    p = layer.pooling_param
    p.pool = getattr(type(p), params["pool"])
    if params["global_pooling"]:
        p.global_pooling = True
    else:
        for key, stem, default in (("kernel", "kernel", None), ("stride", "stride", 1), ("pad", "pad", 0)):
            h, w = params[key]
            if h != w:
                setattr(p, f"{stem}_h", h)
                setattr(p, f"{stem}_w", w)
            elif h != default:
                setattr(p, "kernel_size" if stem == "kernel" else stem, h)
    if params["round_mode"] != "CEIL":
        p.round_mode = getattr(type(p), params["round_mode"])


def _pack_enum(sub: str, enum_key: str) -> Callable[[str], Packer]:
    def for_type(layer_type: str) -> Packer:
        def pack(layer: Message, params: Mapping[str, Any]) -> None:
            changed = _changed(params, layer_type)
            message = getattr(layer, sub)
            if enum_key in changed:
                setattr(message, enum_key, getattr(type(message), changed.pop(enum_key)))
            _set(message, changed, {k: k for k in changed})
        return pack
    return for_type


def _pack_batch_norm(layer: Message, params: Mapping[str, Any]) -> None:
    """use_global_stats is written even though TEST phase implies it: not every consumer infers it."""
    layer.batch_norm_param.use_global_stats = params["use_global_stats"]
    if params["eps"] != default_params("BatchNorm")["eps"]:
        layer.batch_norm_param.eps = params["eps"]


def _pack_reshape(layer: Message, params: Mapping[str, Any]) -> None:
    p = layer.reshape_param
    p.shape.dim.extend(params["shape"])
    if params["axis"] != 0:
        p.axis = params["axis"]
    if params["num_axes"] != -1:
        p.num_axes = params["num_axes"]


def _pack_shape(sub: str) -> Packer:
    def pack(layer: Message, params: Mapping[str, Any]) -> None:
        getattr(layer, sub).shape.dim.extend(params["shape"])
    return pack


def _pack_input(layer: Message, params: Mapping[str, Any]) -> None:
    for shape in params["shapes"]:
        layer.input_param.shape.add().dim.extend(shape)


def _pack_upsample(layer: Message, params: Mapping[str, Any]) -> None:
    """`scale: N` as an integer literal: the only Upsample spelling every fork parses."""
    h, w = params["scale"]
    if (h, w) != (h, h) or any(params["pad_out"]) or any(v is not None for v in params["size"]):
        raise ConverterBugError(f"Upsample {dict(params)} has no spelling every fork reads")
    layer.upsample_param.scale = h


def _pack_permute(layer: Message, params: Mapping[str, Any]) -> None:
    layer.permute_param.order.extend(params["order"])


def _pair(message: Message, values: tuple[Any, Any], default: Any, single: str, h: str, w: str) -> None:
    """An (h, w) pair as `single` when both are equal, else as `h`/`w`; nothing at the default."""
    if values == (default, default):
        return
    if values[0] == values[1]:
        setattr(message, single, values[0])
    else:
        setattr(message, h, values[0])
        setattr(message, w, values[1])


def _pack_prior_box(layer: Message, params: Mapping[str, Any]) -> None:
    """SSD's PriorBox: the image size and step as `img_size`/`step` when square, else `img_h`/`img_w`,
    `step_h`/`step_w` (its reader takes either, never both)."""
    p = layer.prior_box_param
    changed = _changed(params, "PriorBox")
    _set(p, changed, {k: k for k in ("min_size", "max_size", "aspect_ratio", "flip", "clip", "variance", "offset")})
    _pair(p, tuple(params["img"]), 0, "img_size", "img_h", "img_w")
    _pair(p, tuple(params["step"]), 0.0, "step", "step_h", "step_w")


def _nothing(layer: Message, params: Mapping[str, Any]) -> None:
    return None


def packers() -> dict[str, Packer]:
    simple: dict[str, Callable[[str], Packer]] = {
        "ReLU": _simple("relu_param"), "PReLU": _simple("prelu_param"), "ELU": _simple("elu_param"),
        "Swish": _simple("swish_param"), "Power": _simple("power_param"), "Exp": _simple("exp_param"),
        "Log": _simple("log_param"), "Threshold": _simple("threshold_param"),
        "Scale": _simple("scale_param"), "Bias": _simple("bias_param"),
        "MVN": _simple("mvn_param"), "Embed": _simple("embed_param"), "ArgMax": _simple("argmax_param"),
        "DetectionOutput": _simple("detection_output_param"),
        "InnerProduct": _simple("inner_product_param"), "Softmax": _simple("softmax_param"),
        "Concat": _simple("concat_param"), "Slice": _simple("slice_param"), "Flatten": _simple("flatten_param"),
        "Crop": _simple("crop_param"), "Normalize": _simple("norm_param"), "Interp": _simple("interp_param"),
        "LSTM": _simple("recurrent_param"), "RNN": _simple("recurrent_param"),
        "Eltwise": _pack_enum("eltwise_param", "operation"), "Reduction": _pack_enum("reduction_param", "operation"),
        "LRN": _pack_enum("lrn_param", "norm_region"),
    }
    table: dict[str, Packer] = {name: make(name) for name, make in simple.items()}
    table.update({
        "Convolution": _pack_conv, "Deconvolution": _pack_conv, "Pooling": _pack_pooling,
        "Reshape": _pack_reshape, "BatchNorm": _pack_batch_norm, "Parameter": _pack_shape("parameter_param"), "Input": _pack_input,
        "Upsample": _pack_upsample, "Permute": _pack_permute, "PriorBox": _pack_prior_box,
        "Clip": lambda layer, params: _set(layer.clip_param, params, {"min": "min", "max": "max"}),
        "Tile": lambda layer, params: _set(layer.tile_param, params, {"axis": "axis", "tiles": "tiles"}),
    })
    for name in ("Sigmoid", "TanH", "AbsVal", "BNLL", "Split", "Silence", "Dropout", "ReLU6", "HardSwish"):
        table[name] = _nothing
    return table


def layer_parameter(layer: CaffeLayer, target: Target, table: Mapping[str, Packer],
                    schema: CaffeSchema | None = None) -> Message:
    """`layer` in caffe.proto's spelling; a layer `target` does not allow (`Target.allows`, what the checks
    apply) is a bug here: legalization and the checks run before.  `schema`: the bundled caffe.proto's
    unless given (`net_parameter` loads it once, not once a layer: `load_schema` reads and hashes the file)."""
    if not target.allows(layer):
        broken = "; ".join(limit.describe(layer, target.name) for limit in target.broken(layer))
        raise ConverterBugError(f"layer {layer.name} ({layer.type}) is not legal for {target.name} after "
                                f"legalization: {broken or f'{target.name} has no {layer.type} layer'}")
    message = (schema or load_schema()).LayerParameter()
    message.name = layer.name
    message.type = layer.type
    message.bottom.extend(layer.bottom_names)
    message.top.extend(layer.top_names)
    pack = table.get(layer.type)
    if pack is None:
        raise ConverterBugError(f"no serialization for canonical layer type {layer.type} ({layer.name})")
    pack(message, layer.params)
    if layer.type != "Input":
        try:
            read_back = lookup(layer.type).unpack(message)
        except LayerProblem as problem:
            raise ConverterBugError(f"layer {layer.name} ({layer.type}) serializes to something Caffe refuses: "
                                    f"{problem}") from None
        if dict(read_back) != dict(layer.params):
            raise ConverterBugError(f"layer {layer.name} ({layer.type}) serializes to {dict(read_back)}, "
                                    f"not {dict(layer.params)}")
    return message


def net_parameter(layers: Sequence[CaffeLayer], *, name: str, target: Target) -> Message:
    """The NetParameter of `layers` for `target` (inputs as Input layers or as net fields)."""
    schema = load_schema()
    net = schema.NetParameter()
    net.name = name
    table = packers()
    for layer in layers:
        if layer.type == "Input" and target.declare_inputs == "field":
            for top in layer.tops:
                net.input.append(top.name)
                net.input_shape.add().dim.extend(top.shape)
            continue
        net.layer.add().CopyFrom(layer_parameter(layer, target, table, schema))
    return net


__all__ = ["layer_parameter", "net_parameter", "packers"]
