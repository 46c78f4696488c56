"""Shape inference for a whole net: every blob after every layer, every parameter blob.

`infer_shapes(net, input_shapes)` walks the TEST-phase layers in order, as Caffe's
Net::Init + Reshape does, calling each type's shape function.  Parameter shapes are the
ones Caffe's layers allocate (what `paramshape:` records and what a caffemodel must hold).
Problems are ShapeErrors naming the layer, its type, the problem and the bottom shapes.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

from purecaffe.errors import PurecaffeError, ShapeError
from purecaffe.io.netspec import input_shapes as declared_input_shapes
from purecaffe.runtime.layers.base import LayerProblem, LayerShapes, Shape, format_shape
from purecaffe.runtime.plan import PlannedLayer, load_net_arg, plan_net, shape_tuple

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ShapeStep:
    """One layer's shapes: bottoms and tops as (blob name, shape), parameter blob shapes."""

    name: str
    type: str
    bottoms: tuple[tuple[str, Shape], ...]
    tops: tuple[tuple[str, Shape], ...]
    params: tuple[Shape, ...]


@dataclass(frozen=True)
class ShapeInference:
    """Result of `infer_shapes` (treat the dicts as read-only).

    inputs: net input name -> shape used.  blobs: blob name -> shape after the whole net
    (in-place layers keep a blob's shape).  steps: one ShapeStep per TEST-phase layer, in
    order.  param_shapes: layer name -> list of parameter blob shapes, for every layer that
    owns parameters, exactly as Caffe allocates them.
    """

    inputs: dict[str, Shape]
    blobs: dict[str, Shape]
    steps: tuple[ShapeStep, ...]
    param_shapes: dict[str, list[Shape]]

    def step(self, layer_name: str) -> ShapeStep:
        for step in self.steps:
            if step.name == layer_name:
                return step
        raise KeyError(layer_name)


def describe_bottoms(names: Sequence[str], shapes: Sequence[Shape]) -> str:
    return ", ".join(f"{name} {format_shape(shape)}" for name, shape in zip(names, shapes))


def layer_shapes(layer: PlannedLayer, bottom_shapes: Sequence[Shape]) -> LayerShapes:
    """Run `layer`'s shape function; a problem becomes a ShapeError naming the layer."""
    assert layer.kind is not None
    kwargs = dict(layer.kwargs)
    if layer.kind.shapes_want_tops:
        kwargs["n_tops"] = len(layer.tops)
    try:
        result = layer.kind.shapes(list(bottom_shapes), **kwargs)
    except LayerProblem as problem:
        detail = f"; bottoms: {describe_bottoms(layer.bottoms, bottom_shapes)}" if layer.bottoms else ""
        raise ShapeError(f"{problem}{detail}", place=layer.place) from None
    if len(result.tops) != len(layer.tops):
        raise ShapeError(f"declares {len(layer.tops)} tops but produces {len(result.tops)}", place=layer.place)
    return result


def resolve_inputs(net: Message, layers: Sequence[PlannedLayer],
                   overrides: Mapping[str, object] | None) -> dict[str, Shape]:
    """Input blob name -> shape: declared shapes (net inputs, Input layers), replaced by `overrides`."""
    shapes = dict(declared_input_shapes(net))
    data_tops = [top for layer in layers if layer.kind is None and layer.type != "Input" for top in layer.tops]
    overrides = dict(overrides or {})
    unknown = [name for name in overrides if name not in shapes and name not in data_tops]
    if unknown:
        raise PurecaffeError(f"input shapes given for blobs that are not net inputs: {', '.join(unknown)} "
                             f"(inputs: {', '.join(list(shapes) + data_tops) or 'none'})")
    for name, shape in overrides.items():
        shapes[name] = shape_tuple(shape)
    missing = [top for top in data_tops if top not in shapes]
    if missing:
        raise ShapeError(f"data layer tops {', '.join(missing)} need shapes (pass input_shapes)")
    return shapes


def infer_shapes(net: Message | str, input_shapes: Mapping[str, Sequence[int]] | None = None) -> ShapeInference:
    """Shapes of every blob and parameter of `net` (a NetParameter or a prototxt path).

    `input_shapes` replaces declared input shapes by name (e.g. `{"data": (1, 3, 224, 224)}`
    to run with batch 1); tops of data-reading layers (Data, HDF5Data, ...) must be given here.
    """
    net = load_net_arg(net)
    return infer_planned(net, plan_net(net), input_shapes)


def infer_planned(net: Message, layers: Sequence[PlannedLayer],
                  input_shapes: Mapping[str, Sequence[int]] | None = None) -> ShapeInference:
    """`infer_shapes` over layers already planned (unpacked) from `net`."""
    inputs = resolve_inputs(net, layers, input_shapes)
    blobs: dict[str, Shape] = {name: shape for name, shape in inputs.items() if name in set(net.input)}
    steps: list[ShapeStep] = []
    param_shapes: dict[str, list[Shape]] = {}
    for layer in layers:
        missing = [b for b in layer.bottoms if b not in blobs]
        if missing:
            raise ShapeError(f"bottom '{missing[0]}' is not produced by any earlier layer or net input",
                             place=layer.place)
        bottom_shapes = [blobs[b] for b in layer.bottoms]
        if layer.kind is None:
            result = LayerShapes(tops=tuple(inputs[top] for top in layer.tops))
        else:
            result = layer_shapes(layer, bottom_shapes)
        for top, shape in zip(layer.tops, result.tops):
            blobs[top] = tuple(shape)
        if result.params:
            param_shapes[layer.name] = [tuple(p) for p in result.params]
        steps.append(ShapeStep(name=layer.name, type=layer.type,
                               bottoms=tuple(zip(layer.bottoms, bottom_shapes)),
                               tops=tuple(zip(layer.tops, result.tops)), params=tuple(result.params)))
    log.debug("inferred shapes of %d layers", len(steps))
    return ShapeInference(inputs=inputs, blobs=blobs, steps=tuple(steps), param_shapes=param_shapes)
