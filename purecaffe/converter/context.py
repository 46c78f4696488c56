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
    `ctx.name(node)`                         the node's layer name, which is also the name of its
                                             top (its module path, e.g. `layer1.0.conv1`, unique)
    `ctx.name(node, "scale")`                an intermediate layer and its top: `layer1.0.bn1/scale`
    `ctx.top_name(node, i)`                  the top holding output i of a multi-output node

Emitting (the one way a value gets a layer)
    `ctx.emit(layer, weights=[...], result=node, outputs=...)`
        `layer` is a canonical layer from `purecaffe.canonical.builders`; `weights` come
        from `purecaffe.converter.weights` (normalised here and checked against the
        parameter shapes the runtime says Caffe allocates).  With `result=node` the
        layer's tops become the node's value(s) and each is checked against the captured
        torch shape at once; `outputs` says, per top, which node output it is (None: not
        bound; `0` for a single-output node), e.g. `(None, 0, None)` binds the middle top
        of a Slice.  Returns the layer's top Blobs.
    `ctx.alias(node, ref)`           the node's value *is* an existing value (no layer)

Refusing
    `raise ctx.unsupported("why")`   Caffe cannot express this case exactly.  The driver
                                     records it with the op, module path and source line,
                                     carries on to find every other problem, and raises
                                     one error listing all of them before anything is written.

Lowerings know no target: they emit canonical layers (ReLU6, Swish, Pooling with a
round mode, ...), and each target legalizes what it lacks afterwards
(`purecaffe.targets`).  Unused tops are ended with a Silence layer and in-place
tops are assigned after legalization, so lowerings always emit fresh top names.
"""
from __future__ import annotations

import dataclasses

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, Origin
from purecaffe.converter.graph import Graph, Node, Ref, TensorInfo
from purecaffe.converter.weights import caffe_blob
from purecaffe.io.sidecar import TensorRecord
from purecaffe.errors import ConverterBugError, UnsupportedError


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
    base_names: Mapping[str, str]
    env: dict[str, Value] = field(default_factory=dict)
    layers: list[CaffeLayer] = field(default_factory=list)
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

    def name(self, node: Node, part: str | None = None) -> str:
        """The node's layer (and top) name, or with `part` an intermediate one: `<name>/<part>`."""
        base = self.base_names[node.name]
        if part is None:
            return base
        key = (node.name, part)
        if key not in self._suffix_names:
            self._suffix_names[key] = self.unique_name(f"{base}/{part}")
        return self._suffix_names[key]

    def top_name(self, node: Node, index: int) -> str:
        """The top holding output `index` of a multi-output node."""
        return f"{self.base_names[node.name]}:{index}"

    def unique_name(self, wanted: str) -> str:
        name, i = wanted, 1
        while name in self.used_names:
            name = f"{wanted}_{i}"
            i += 1
        self.used_names.add(name)
        return name

    # -- emitting ------------------------------------------------------------------------------

    def emit(self, layer: CaffeLayer, weights: Sequence[Any] = (), *, result: Node | None = None,
             outputs: Sequence[int | None] | None = None) -> tuple[Blob, ...]:
        blobs = [caffe_blob(w, what=f"{layer.name} blob {i}") for i, w in enumerate(weights)]
        got = tuple(tuple(b.shape) for b in blobs)
        if got != layer.param_shapes:
            raise ConverterBugError(f"layer {layer.name} ({layer.type}) was given weights {list(map(list, got))} "
                                    f"but Caffe allocates {list(map(list, layer.param_shapes))}", **self._origin())
        origin = Origin(**self._origin(), node=self.node.name) if self.node is not None else None
        layer = dataclasses.replace(layer, weights=tuple(blobs), origin=origin)
        self.layers.append(layer)
        if result is not None:
            self._bind_tops(layer, result, outputs)
        return layer.tops

    def _bind_tops(self, layer: CaffeLayer, node: Node, outputs: Sequence[int | None] | None) -> None:
        single = isinstance(node.outputs, TensorInfo)
        infos: tuple[TensorInfo | None, ...] = (node.outputs,) if single else tuple(node.outputs or ())  # type: ignore[assignment]
        indices = list(outputs) if outputs is not None else list(range(len(layer.tops)))
        if len(indices) != len(layer.tops):
            raise ConverterBugError(f"layer {layer.name}: {len(layer.tops)} tops but outputs={indices}",
                                    **self._origin())
        current = self.env.get(node.name)
        values: list[Value] = list(current) if isinstance(current, tuple) else [None] * len(infos)
        for top, index in zip(layer.tops, indices):
            if index is None:
                continue
            info = infos[index] if index < len(infos) else None
            if info is None:
                raise ConverterBugError(f"output {index} of {node.name} is not a tensor", **self._origin())
            self._check_shape(top, info, node)
            values[index] = top
            self._record(node, top, layer.name, None if single else index)
        self.env[node.name] = values[0] if single else tuple(values)

    def _check_shape(self, top: Blob, info: TensorInfo, node: Node) -> None:
        if tuple(top.shape) != tuple(info.shape):
            raise ConverterBugError(f"lowered to a blob '{top.name}' of Caffe shape {list(top.shape)}, but torch "
                                    f"computes {list(info.shape)}", **self._origin())

    def _record(self, node: Node, top: Blob, layer: str, index: int | None = None) -> None:
        if node.synthetic:
            return  # no torch tensor holds this value (see Node.synthetic)
        name = node.name if index is None else f"{node.name}[{index}]"
        self.records.append(TensorRecord(torch_name=name, blob=top.name, layer=layer,
                                         module_path=node.module_path, op=node.target, shape=top.shape))

    def alias(self, node: Node, ref: Ref) -> None:
        value = self.value(ref)
        if isinstance(value, (Blob, Unconverted)) and tuple(self.shape(ref)) != tuple(node.shape):
            raise ConverterBugError(f"aliased to {ref.name} of shape {list(self.shape(ref))}, torch computes "
                                    f"{list(node.shape)}", **self._origin())
        self.env[node.name] = value

    # -- refusing ------------------------------------------------------------------------------

    def unsupported(self, reason: str) -> NotConvertible:
        """Build the exception to raise: `raise ctx.unsupported("Caffe has no ...")`."""
        return NotConvertible(reason)

    def _origin(self) -> dict[str, str]:
        node = self.node
        if node is None:
            return {}
        return {"op": node.target, "module_path": node.module_path, "source": node.source}


__all__ = ["Constant", "LoweringContext", "NotConvertible", "TensorRecord", "Unconverted", "UnsupportedError"]
