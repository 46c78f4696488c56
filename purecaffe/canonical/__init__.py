"""Canonical Caffe layers: what lowerings emit and targets legalize, free of protobuf.

A `CaffeLayer` is a layer type, its name, bottom and top `Blob`s (name + shape),
its parameters as the keyword arguments of the runtime's functions for that type
(`purecaffe.runtime.params` reads a LayerParameter into exactly these), its weight
blobs and where it came from (`Origin`).  The canonical layer set is the union of
what the targets have (ReLU6, Clip, Swish, HardSwish, Permute, Upsample, Interp,
Pooling with a round mode, ...); each target legalizes it into its own set
(`purecaffe.targets`) and serializes it with its own spelling.

Shapes are never computed here: `make_layer` asks the runtime's shape function for
the type (`purecaffe.runtime.registry`), the one place that knows Caffe's semantics,
so a layer's tops and parameter shapes are what Caffe will compute for exactly these
parameters.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from purecaffe.errors import ShapeError
from purecaffe.runtime.layers.base import LayerProblem, Shape
from purecaffe.runtime.plan import PlannedLayer
from purecaffe.runtime.registry import INPUT_TYPES, lookup


@dataclass(frozen=True)
class Blob:
    """A Caffe blob: its name and shape."""

    name: str
    shape: Shape


@dataclass(frozen=True)
class Origin:
    """The torch node a layer came from: what errors and the conversion log name."""

    op: str = ""
    module_path: str = ""
    source: str = ""
    node: str = ""

    def describe(self) -> str:
        where = self.module_path or "<model>"
        source = f" at {self.source}" if self.source else ""
        return f"{self.op} in {where}{source}" if self.op else f"{where}{source}"


@dataclass(frozen=True)
class CaffeLayer:
    """One canonical layer: type, name, bottoms and tops with shapes, parameters, weights, origin."""

    type: str
    name: str
    bottoms: tuple[Blob, ...]
    tops: tuple[Blob, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    param_shapes: tuple[Shape, ...] = ()
    weights: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)
    origin: Origin | None = field(default=None, compare=False)

    @property
    def bottom_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bottoms)

    @property
    def top_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tops)

    @property
    def top(self) -> Blob:
        """The single top (error for a layer with several)."""
        if len(self.tops) != 1:
            raise ValueError(f"layer {self.name} has {len(self.tops)} tops")
        return self.tops[0]

    def with_weights(self, weights: Sequence[np.ndarray]) -> CaffeLayer:
        return replace(self, weights=tuple(weights))

    def renamed(self, renames: Mapping[str, str]) -> CaffeLayer:
        """The same layer with blob names replaced through `renames` (followed to the end)."""
        bottoms = tuple(Blob(resolve(b.name, renames), b.shape) for b in self.bottoms)
        tops = tuple(Blob(resolve(t.name, renames), t.shape) for t in self.tops)
        if bottoms == self.bottoms and tops == self.tops:
            return self
        return replace(self, bottoms=bottoms, tops=tops)

    def planned(self) -> PlannedLayer:
        """The runtime's view of this layer (to run it or infer its shapes)."""
        kind = None if self.type in INPUT_TYPES else lookup(self.type)
        return PlannedLayer(self.name, self.type, self.bottom_names, self.top_names, kind, dict(self.params))

    @property
    def place(self) -> str:
        return f"layer '{self.name}' ({self.type})"


def resolve(name: str, renames: Mapping[str, str]) -> str:
    """Follow `renames` from `name` to its final name (cycles stop where they close)."""
    seen: set[str] = set()
    while name in renames and name not in seen:
        seen.add(name)
        name = renames[name]
    return name


@functools.lru_cache(maxsize=None)
def default_params(layer_type: str) -> Mapping[str, Any]:
    """The parameters of `layer_type` as caffe.proto's defaults give them (empty where none can be read).

    Read with the runtime's own unpacking of an empty LayerParameter, so the
    defaults are caffe.proto's and nobody repeats them.  Types whose parameters
    have no usable default (Pooling needs a kernel, Clip min/max) give only what
    the builder must not forget: nothing.
    """
    from purecaffe.schema import load_schema

    if layer_type in INPUT_TYPES:
        return MappingProxyType({"shapes": ()})
    layer = load_schema().LayerParameter()
    layer.type = layer_type
    try:
        return MappingProxyType(dict(lookup(layer_type).unpack(layer)))
    except LayerProblem:
        return MappingProxyType({})


def _as_stored(value: Any) -> Any:
    """A parameter as a Caffe file holds it: floats are float32 fields in caffe.proto."""
    if isinstance(value, float):
        return float(np.float32(value))
    if isinstance(value, tuple):
        return tuple(_as_stored(v) for v in value)
    return value


def make_layer(layer_type: str, name: str, bottoms: Sequence[Blob], tops: Sequence[str], *,
               origin: Origin | None = None, **params: Any) -> CaffeLayer:
    """A canonical layer whose top and parameter shapes come from the runtime's shape function.

    `params` override caffe.proto's defaults for the type; the result holds them all, floats
    rounded to float32 as the file will hold them (what Caffe and the runtime then compute with).
    A LayerProblem (Caffe would refuse these parameters for these bottoms) is a ShapeError.
    """
    full = {key: _as_stored(value) for key, value in {**default_params(layer_type), **params}.items()}
    bottom_shapes = [tuple(b.shape) for b in bottoms]
    if layer_type in INPUT_TYPES:
        shapes = full["shapes"]
        return CaffeLayer(layer_type, name, tuple(bottoms), tuple(Blob(t, tuple(s)) for t, s in zip(tops, shapes)),
                          MappingProxyType(full), (), origin=origin)
    kind = lookup(layer_type, place=f"layer '{name}' ({layer_type})")
    kwargs = dict(full)
    if kind.shapes_want_tops:
        kwargs["n_tops"] = len(tops)
    try:
        result = kind.shapes(bottom_shapes, **kwargs)
    except LayerProblem as problem:
        listed = ", ".join(f"{b.name} {list(b.shape)}" for b in bottoms)
        raise ShapeError(f"{problem}; bottoms: {listed}", place=f"layer '{name}' ({layer_type})") from None
    if len(result.tops) != len(tops):
        raise ShapeError(f"declares {len(tops)} tops but Caffe produces {len(result.tops)}",
                         place=f"layer '{name}' ({layer_type})")
    out = tuple(Blob(t, tuple(int(d) for d in s)) for t, s in zip(tops, result.tops))
    return CaffeLayer(layer_type, name, tuple(bottoms), out, MappingProxyType(full),
                      tuple(tuple(int(d) for d in p) for p in result.params), origin=origin)


def relayer(layer: CaffeLayer, **changes: Any) -> CaffeLayer:
    """`layer` with some parameters changed, its shapes asked again (weights and origin kept)."""
    fresh = make_layer(layer.type, layer.name, layer.bottoms, layer.top_names, origin=layer.origin,
                       **{**layer.params, **changes})
    return replace(fresh, weights=layer.weights)


__all__ = ["Blob", "CaffeLayer", "Origin", "default_params", "make_layer", "relayer", "resolve"]
