"""The table of Caffe layer types the runtime knows: type string -> unpack, shapes, forward.

Read top to bottom, this file is the coverage map: every supported type (with its
aliases) and the three plain functions behind it.  `forward=None` means shape inference
only.  A duplicate type is an error when the table is built; an unknown type raises an
UnsupportedError naming it.  Input layers (`Input` and the data-reading types) are handled
by the drivers, not here: their tops come from the caller.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from purecaffe.errors import UnsupportedError
from purecaffe.runtime import params
from purecaffe.runtime.layers import (activation, conv, data, detection, elementwise, linear, norm, pool,
                                      recurrent, reduce, resize, shape_ops)
from purecaffe.runtime.layers.base import LayerShapes

INPUT_TYPES = ("Input", *data.DATA_TYPES)


@dataclass(frozen=True)
class LayerKind:
    """One Caffe layer type: how to read its parameters, shape it, and run it."""

    type: str
    unpack: Callable[..., dict[str, Any]]
    shapes: Callable[..., LayerShapes]
    forward: Callable[..., list] | None
    aliases: tuple[str, ...] = ()
    # A fork's own layout of the stored blobs, read as Caffe's: (stored, expected shapes) -> blobs.
    stored: Callable[..., Sequence[Any]] | None = None
    takes_blobs: bool = field(init=False)
    shapes_want_tops: bool = field(init=False)
    forward_wants_tops: bool = field(init=False)

    def __post_init__(self) -> None:
        forward_params = inspect.signature(self.forward).parameters if self.forward else {}
        object.__setattr__(self, "takes_blobs", "blobs" in forward_params)
        object.__setattr__(self, "shapes_want_tops", "n_tops" in inspect.signature(self.shapes).parameters)
        object.__setattr__(self, "forward_wants_tops", "n_tops" in forward_params)


def _neuron(type_: str, forward: Callable[..., list], unpack: Callable[..., dict[str, Any]] = params.no_params,
            aliases: tuple[str, ...] = ()) -> LayerKind:
    return LayerKind(type_, unpack, activation.neuron_shapes, forward, aliases)


KINDS: tuple[LayerKind, ...] = (
    # vision
    LayerKind("Convolution", params.convolution, conv.convolution_shapes, conv.convolution,
              aliases=("DepthwiseConvolution",)),  # fork type: grouped Convolution, same blobs
    LayerKind("Deconvolution", params.convolution, conv.deconvolution_shapes, conv.deconvolution),
    LayerKind("Pooling", params.pooling, pool.pooling_shapes, pool.pooling),
    LayerKind("SPP", params.spp, pool.spp_shapes, pool.spp),
    LayerKind("LRN", params.lrn, norm.lrn_shapes, norm.lrn),
    LayerKind("Crop", params.crop, shape_ops.crop_shapes, shape_ops.crop),
    # neurons
    _neuron("ReLU", activation.relu, params.relu),
    LayerKind("PReLU", params.prelu, activation.prelu_shapes, activation.prelu),
    _neuron("ELU", activation.elu, params.elu),
    _neuron("Sigmoid", activation.sigmoid),
    _neuron("Swish", activation.swish, params.swish),
    _neuron("TanH", activation.tanh),
    _neuron("AbsVal", activation.absval),
    _neuron("BNLL", activation.bnll),
    _neuron("Exp", activation.exp, params.exp),
    _neuron("Log", activation.log, params.log),
    _neuron("Power", activation.power, params.power),
    _neuron("Threshold", activation.threshold, params.threshold),
    _neuron("Clip", activation.clip, params.clip),
    _neuron("ReLU6", activation.relu6),  # RKNN, OpenCV
    _neuron("HardSwish", activation.hardswish),  # RKNN
    _neuron("Dropout", activation.dropout),
    # element-wise and broadcasting
    LayerKind("Eltwise", params.eltwise, elementwise.eltwise_shapes, elementwise.eltwise),
    LayerKind("Scale", params.scale, elementwise.scale_shapes, elementwise.scale),
    LayerKind("Bias", params.bias, elementwise.bias_shapes, elementwise.bias),
    # normalisation
    LayerKind("BatchNorm", params.batch_norm, norm.batch_norm_shapes, norm.batch_norm),
    LayerKind("BN", params.bn, norm.bn_shapes, norm.bn),  # PSPNet fork
    LayerKind("MVN", params.mvn, norm.mvn_shapes, norm.mvn),
    LayerKind("Normalize", params.normalize, norm.normalize_shapes, norm.normalize),  # SSD fork
    # dense
    LayerKind("InnerProduct", params.inner_product, linear.inner_product_shapes, linear.inner_product),
    LayerKind("Embed", params.embed, linear.embed_shapes, linear.embed),
    LayerKind("LSTM", params.recurrent, recurrent.lstm_shapes, recurrent.lstm, stored=recurrent.lstm_stored),
    LayerKind("RNN", params.recurrent, recurrent.rnn_shapes, recurrent.rnn),
    # reductions
    LayerKind("Softmax", params.softmax, reduce.softmax_shapes, reduce.softmax),
    LayerKind("ArgMax", params.argmax, reduce.argmax_shapes, reduce.argmax),
    LayerKind("Reduction", params.reduction, reduce.reduction_shapes, reduce.reduction),
    # shape manipulation
    LayerKind("Concat", params.concat, shape_ops.concat_shapes, shape_ops.concat),
    LayerKind("Slice", params.slice, shape_ops.slice_shapes, shape_ops.slice),
    LayerKind("Split", params.no_params, shape_ops.split_shapes, shape_ops.split),
    LayerKind("Silence", params.no_params, shape_ops.silence_shapes, shape_ops.silence),
    LayerKind("Flatten", params.flatten, shape_ops.flatten_shapes, shape_ops.flatten),
    LayerKind("Reshape", params.reshape, shape_ops.reshape_shapes, shape_ops.reshape),
    LayerKind("Tile", params.tile, shape_ops.tile_shapes, shape_ops.tile),
    LayerKind("Permute", params.permute, shape_ops.permute_shapes, shape_ops.permute),  # SSD fork
    LayerKind("Parameter", params.parameter, shape_ops.parameter_shapes, shape_ops.parameter),
    # resizing (forks)
    LayerKind("Upsample", params.upsample, resize.upsample_shapes, resize.upsample),
    LayerKind("Interp", params.interp, resize.interp_shapes, resize.interp),
    # detection (SSD fork)
    LayerKind("PriorBox", params.prior_box, detection.prior_box_shapes, detection.prior_box),
    LayerKind("DetectionOutput", params.detection_output, detection.detection_output_shapes, None),
    # training-net layers: shapes only
    LayerKind("DummyData", params.dummy_data, data.dummy_data_shapes, None),
    LayerKind("Accuracy", params.no_params, data.accuracy_shapes, None),
    *(LayerKind(loss, params.no_params, data.loss_shapes, None) for loss in data.LOSS_TYPES),
)


def build_registry(kinds: Iterable[LayerKind]) -> Mapping[str, LayerKind]:
    """type string (and every alias) -> LayerKind; a type registered twice is an error."""
    table: dict[str, LayerKind] = {}
    for kind in kinds:
        for name in (kind.type, *kind.aliases):
            if name in table or name in INPUT_TYPES:
                raise ValueError(f"layer type {name!r} registered twice")
            table[name] = kind
    return MappingProxyType(table)


REGISTRY: Mapping[str, LayerKind] = build_registry(KINDS)


def lookup(layer_type: str, *, place: str | None = None) -> LayerKind:
    """The LayerKind of `layer_type`, or an UnsupportedError naming it."""
    kind = REGISTRY.get(layer_type)
    if kind is None:
        raise UnsupportedError(f"layer type {layer_type!r} is not supported by the runtime",
                               place=place)
    return kind


def supported_types() -> tuple[str, ...]:
    return tuple(sorted((*REGISTRY, *INPUT_TYPES)))
