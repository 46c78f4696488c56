"""A NetParameter read once into the ordered list of layers the runtime will execute.

Caffe builds a TEST-phase net: layers whose include/exclude rules reject the state
(phase TEST, level 0, no stages) are dropped (net.cpp FilterNet / StateMeetsRule).  Each
remaining layer is looked up in the registry and its LayerParameter unpacked into keyword
arguments, here and nowhere else.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from purecaffe.errors import FormatError, PurecaffeError
from purecaffe.runtime import params
from purecaffe.runtime.layers.base import LayerProblem, Shape
from purecaffe.runtime.registry import INPUT_TYPES, LayerKind, lookup


@dataclass(frozen=True)
class PlannedLayer:
    """One layer of the TEST-phase net, parameters unpacked."""

    name: str
    type: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    kind: LayerKind | None  # None for input layers (Input, Data, ...)
    kwargs: dict[str, Any]

    @property
    def place(self) -> str:
        return f"layer '{self.name}' ({self.type})"


def _rule_met(rule: Message, *, phase: int, level: int, stages: frozenset[str]) -> bool:
    if rule.HasField("phase") and rule.phase != phase:
        return False
    if rule.HasField("min_level") and level < rule.min_level:
        return False
    if rule.HasField("max_level") and level > rule.max_level:
        return False
    if any(stage not in stages for stage in rule.stage):
        return False
    return not any(stage in stages for stage in rule.not_stage)


def in_test_phase(layer: Message, *, level: int = 0, stages: frozenset[str] = frozenset()) -> bool:
    """Whether Caffe keeps `layer` in a TEST-phase net (net.cpp StateMeetsRule)."""
    phase = layer.DESCRIPTOR.fields_by_name["phase"].enum_type.values_by_name["TEST"].number
    if len(layer.include) and len(layer.exclude):
        raise FormatError(f"layer '{layer.name}' specifies both include and exclude rules")
    if len(layer.include):
        return any(_rule_met(rule, phase=phase, level=level, stages=stages) for rule in layer.include)
    return not any(_rule_met(rule, phase=phase, level=level, stages=stages) for rule in layer.exclude)


def plan_layer(layer: Message) -> PlannedLayer:
    place = f"layer '{layer.name}' ({layer.type})"
    if layer.type in INPUT_TYPES:
        kwargs = params.input(layer) if layer.type == "Input" else {}
        return PlannedLayer(layer.name, layer.type, tuple(layer.bottom), tuple(layer.top), None, kwargs)
    kind = lookup(layer.type, place=place)
    try:
        kwargs = kind.unpack(layer)
    except LayerProblem as problem:
        raise PurecaffeError(str(problem), place=place) from None
    return PlannedLayer(layer.name, layer.type, tuple(layer.bottom), tuple(layer.top), kind, kwargs)


def plan_net(net: Message) -> tuple[PlannedLayer, ...]:
    """The TEST-phase layers of `net`, in order, each looked up and unpacked."""
    return tuple(plan_layer(layer) for layer in net.layer if in_test_phase(layer))


def load_net_arg(prototxt: object) -> Message:
    """A NetParameter from a path or an already-loaded NetParameter (V1 nets upgraded)."""
    if isinstance(prototxt, Message):
        from purecaffe.io.upgrade import upgrade_v1_net
        return upgrade_v1_net(prototxt)
    if isinstance(prototxt, (str, os.PathLike)):
        from purecaffe.io.prototxt import read_net as load_net
        return load_net(prototxt)
    raise TypeError(f"expected a prototxt path or a NetParameter, got {type(prototxt).__name__}")


def shape_tuple(shape: object) -> Shape:
    try:
        return tuple(int(d) for d in shape)  # type: ignore[union-attr]
    except TypeError:
        raise PurecaffeError(f"not a shape: {shape!r}") from None
