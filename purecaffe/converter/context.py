"""`LoweringContext`: everything a lowering may ask or do, one per conversion.

A lowering is `lower_<op>(ctx: LoweringContext, node: Node) -> None` (see
`registry`).  Inside it:

Reading inputs
    `node.arg("self")` / `node.unpack(...)`  arguments by ATen name (a tensor is a `Ref`)
    `ctx.is_constant(ref)`                   a parameter, buffer or folded constant?
    `ctx.constant(ref)`                      its value, a numpy array (float32 / int64 / bool)
    `ctx.blob(ref)`                          the Caffe `Blob(name, shape)` holding a tensor value
    `ctx.shape(ref)`                         the captured torch shape of any value
    `node.shape` / `node.outputs`            the captured torch shape(s) of the node's result

Naming
    `ctx.layer_name(node)`                   the layer name for the node (its module path, e.g.
                                             `layer1.0.conv1`, made unique)
    `ctx.layer_name(node, "scale")`          a secondary layer: `layer1.0.bn1/scale`
    `ctx.top_name(node)`                     the blob name of the node's result (= its layer name);
                                             `ctx.top_name(node, i)` for output i of a multi-output node
    Intermediate blobs of a decomposition use `ctx.layer_name(node, "<part>")` as both
    layer and blob name.

Emitting
    `ctx.emit(layer, weights=[...], result=node)`
        `layer` comes from `purecaffe.converter.builders`; `weights` from
        `purecaffe.converter.weights` (normalised again here, and checked against the
        shapes the builder says Caffe expects).  With `result=node` the layer's tops
        become the node's value(s) and each top's Caffe shape is checked against the
        captured torch shape right away (`outputs=(i, ...)` picks which node output
        each top is, for multi-output nodes).  Returns the layer's top Blobs.
    `ctx.bind(node, top, layer=name)`  the node's value is `top`, one top of the already
                             emitted layer `name` (e.g. the kept part of a Slice).
    `ctx.alias(node, ref)`   the node's value *is* an existing value (no layer; e.g. a
                             no-op view); shapes must be identical.
    `ctx.bind_constant(node, array)`  the node's value is a constant (no layer).
    `ctx.bind_top(node, top, layer)`  the same as `bind`, given the Layer (checks `top` is one of
                             its tops).

Refusing
    `raise ctx.unsupported("why")`   Caffe cannot express this case exactly.  The driver
                                     records it with the op, module path and source line,
                                     carries on to find every other problem, and raises
                                     one error listing all of them before anything is written.

The dialect being targeted is `ctx.dialect` (`ctx.dialect.has("Clip")`).
Unused tops (e.g. parts of a Slice nobody reads) are ended with a Silence
layer by the driver; in-place tops are assigned after lowering where safe,
so lowerings always emit fresh top names.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from purecaffe.converter.builders import Blob, Layer
from purecaffe.converter.dialect import Dialect
from purecaffe.converter.graph import Graph, Node, Ref, TensorInfo
from purecaffe.converter.weights import caffe_blob
from purecaffe.io.sidecar import TensorRecord
from purecaffe.errors import ShapeError, UnsupportedError


class NotConvertible(Exception):
    """Raised by a lowering (via `ctx.unsupported`) for a case Caffe cannot express exactly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Constant:
    value: np.ndarray


@dataclass(frozen=True)
class Unconverted:
    """Stand-in for the value of a node that could not be lowered (so later nodes still get checked)."""

    info: TensorInfo


Value = Union[Blob, Constant, Unconverted, None, tuple[Any, ...]]


@dataclass
class LoweringContext:
    graph: Graph
    dialect: Dialect
    base_names: Mapping[str, str]
    env: dict[str, Value] = field(default_factory=dict)
    layers: list[Layer] = field(default_factory=list)
    weights: dict[str, list[np.ndarray]] = field(default_factory=dict)
    records: list[TensorRecord] = field(default_factory=list)
    used_names: set[str] = field(default_factory=set)
    node: Node | None = None
    _suffix_names: dict[tuple[str, str], str] = field(default_factory=dict)

    # -- reading -------------------------------------------------------------------------------

    def value(self, ref: Ref) -> Value:
        if ref.name not in self.env:
            raise KeyError(f"value {ref.name} used before it is defined")
        return self.env[ref.name]

    def is_constant(self, ref: Any) -> bool:
        return isinstance(ref, Ref) and isinstance(self.env.get(ref.name), Constant)

    def constant(self, ref: Ref) -> np.ndarray:
        value = self.value(ref)
        if not isinstance(value, Constant):
            raise self.unsupported(f"{ref.name} must be a constant (a parameter or buffer) here, "
                                   f"but it is computed from the inputs")
        return value.value

    def blob(self, ref: Ref) -> Blob:
        value = self.value(ref)
        if isinstance(value, Blob):
            return value
        if isinstance(value, Unconverted):
            return Blob(f"<unconverted {ref.name}>", value.info.shape)
        if isinstance(value, Constant):
            raise self.unsupported(f"constant {ref.name} {list(value.value.shape)} is used where "
                                   f"a computed tensor is expected")
        raise self.unsupported(f"{ref.name} is not a single tensor")

    def shape(self, ref: Ref) -> tuple[int, ...]:
        value = self.value(ref)
        if isinstance(value, Blob):
            return value.shape
        if isinstance(value, Constant):
            return tuple(value.value.shape)
        if isinstance(value, Unconverted):
            return value.info.shape
        raise self.unsupported(f"{ref.name} is not a single tensor")

    # -- naming --------------------------------------------------------------------------------

    def layer_name(self, node: Node, suffix: str | None = None) -> str:
        base = self.base_names[node.name]
        if suffix is None:
            return base
        key = (node.name, suffix)
        if key not in self._suffix_names:
            self._suffix_names[key] = self.unique_name(f"{base}/{suffix}")
        return self._suffix_names[key]

    def top_name(self, node: Node, index: int | None = None) -> str:
        base = self.base_names[node.name]
        return base if index is None else f"{base}:{index}"

    def unique_name(self, wanted: str) -> str:
        name, i = wanted, 1
        while name in self.used_names:
            name = f"{wanted}_{i}"
            i += 1
        self.used_names.add(name)
        return name

    # -- emitting ------------------------------------------------------------------------------

    def emit(self, layer: Layer, weights: Sequence[Any] = (), *, result: Node | None = None,
             outputs: Sequence[int] | None = None) -> tuple[Blob, ...]:
        if not self.dialect.has(layer.type):
            raise self.unsupported(f"{self.dialect.name} Caffe has no {layer.type} layer")
        blobs = [caffe_blob(w, what=f"{layer.name} blob {i}") for i, w in enumerate(weights)]
        if blobs:
            got = tuple(tuple(b.shape) for b in blobs)
            if got != layer.param_shapes:
                raise ShapeError(f"layer {layer.name} ({layer.type}): weights {list(map(list, got))} but Caffe "
                                 f"expects {list(map(list, layer.param_shapes))}", place=self._where())
            self.weights[layer.name] = blobs
        elif layer.param_shapes:
            raise ShapeError(f"layer {layer.name} ({layer.type}) needs {len(layer.param_shapes)} weight blobs",
                             place=self._where())
        self.layers.append(layer)
        if result is not None:
            self._bind_tops(layer, result, outputs)
        return layer.tops

    def _bind_tops(self, layer: Layer, node: Node, outputs: Sequence[int] | None) -> None:
        if isinstance(node.outputs, TensorInfo):
            if len(layer.tops) != 1 or outputs not in (None, (0,), [0]):
                raise ValueError(f"layer {layer.name}: a single-output node binds exactly one top")
            self._check_shape(layer.tops[0], node.outputs, node)
            self.env[node.name] = layer.tops[0]
            self._record(node, layer.tops[0], layer.name)
            return
        infos = node.outputs or ()
        indices = list(outputs) if outputs is not None else list(range(len(layer.tops)))
        if len(indices) != len(layer.tops):
            raise ValueError(f"layer {layer.name}: {len(layer.tops)} tops but outputs={indices}")
        current = self.env.get(node.name)
        values: list[Value] = list(current) if isinstance(current, tuple) else [None] * len(infos)
        for top, index in zip(layer.tops, indices):
            info = infos[index]
            if info is None:
                raise ValueError(f"output {index} of {node.name} is not a tensor")
            self._check_shape(top, info, node)
            values[index] = top
            self._record(node, top, layer.name, index)
        self.env[node.name] = tuple(values)

    def _check_shape(self, top: Blob, info: TensorInfo, node: Node) -> None:
        if tuple(top.shape) != tuple(info.shape):
            raise ShapeError(f"converter bug: {node.target} lowered to a blob '{top.name}' of Caffe shape "
                             f"{list(top.shape)}, but torch computes {list(info.shape)}", place=node.where())

    def _record(self, node: Node, top: Blob, layer: str, index: int | None = None) -> None:
        if node.synthetic:
            return  # no torch tensor holds this value (see Node.synthetic)
        name = node.name if index is None else f"{node.name}[{index}]"
        self.records.append(TensorRecord(torch_name=name, blob=top.name, layer=layer,
                                         module_path=node.module_path, op=node.target, shape=top.shape))

    def bind(self, node: Node, top: Blob, *, layer: str, index: int | None = None) -> None:
        """Make `top` (a top of the already emitted `layer`) the node's value, or its output `index`.

        For when `emit(..., result=node)` does not fit, e.g. the node's value is one
        top of a multi-top layer.  The shape is checked like `emit` does.
        """
        if index is None:
            self._check_shape(top, node.info, node)
            self.env[node.name] = top
        else:
            infos = node.outputs if isinstance(node.outputs, tuple) else ()
            info = infos[index] if index < len(infos) else None
            if info is None:
                raise ValueError(f"output {index} of {node.name} is not a tensor")
            self._check_shape(top, info, node)
            current = self.env.get(node.name)
            values = list(current) if isinstance(current, tuple) else [None] * len(infos)
            values[index] = top
            self.env[node.name] = tuple(values)
        self._record(node, top, layer, index)

    def alias(self, node: Node, ref: Ref) -> None:
        value = self.value(ref)
        if isinstance(value, (Blob, Unconverted)) and tuple(self.shape(ref)) != tuple(node.shape):
            raise ShapeError(f"converter bug: {node.target} aliased to {ref.name} of shape "
                             f"{list(self.shape(ref))}, torch computes {list(node.shape)}", place=node.where())
        self.env[node.name] = value

    def bind_top(self, node: Node, top: Blob, layer: Layer) -> None:
        """The node's single value is `top`, one of several tops `layer` emitted (one part of a
        Slice whose other parts nobody reads); shape-checked like `emit(..., result=node)`."""
        if top not in layer.tops:
            raise ValueError(f"{top.name} is not a top of layer {layer.name}")
        self.bind(node, top, layer=layer.name)

    def bind_constant(self, node: Node, array: np.ndarray) -> None:
        self.env[node.name] = Constant(np.asarray(array))

    # -- refusing ------------------------------------------------------------------------------

    def unsupported(self, reason: str) -> NotConvertible:
        """Build the exception to raise: `raise ctx.unsupported("Caffe has no ...")`."""
        return NotConvertible(reason)

    def _where(self) -> str | None:
        return self.node.where() if self.node is not None else None


__all__ = ["Constant", "LoweringContext", "NotConvertible", "TensorRecord", "Unconverted", "UnsupportedError"]
