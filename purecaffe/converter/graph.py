"""The converter's graph IR: what `capture` makes of a `torch.export` program.

Deliberately small and torch-free, so passes and lowerings read as plain
Python:

* a `Graph` has user `inputs`, `constants` (parameters, buffers, lifted and
  folded constant tensors, as float32/int64 numpy arrays), `nodes` in
  topological order and `outputs`;
* every value is named by its torch.fx node name (`conv2d`, `relu_3`), which
  is also the key of `ConvertedNet.torch_values()`; a `Ref(name)` inside a
  node's arguments points at one;
* a `Node` is one ATen call: `op` is the canonical overload packet
  (`"aten.max_pool2d"`), `overload` the overload (`"default"`, `"Tensor"`),
  `args` *all* schema arguments by their ATen names with defaults filled in,
  `outputs` the captured torch shapes and dtypes, plus where it came from
  (`module_path`, `module_type`, `source`, and the enclosing `module_calls`).

`operator.getitem` on a multi-output node is a Node with `op == "getitem"`
and args `{"self": Ref, "index": int}`; the lowering driver resolves it, no
lowering is needed for it.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

GETITEM = "getitem"

# Dropout in its functional forms: the identity in inference.  `aten.native_dropout` (the
# decomposed form, returning (output, mask)) is handled beside them.  The one list of them.
DROPOUT_OPS = ("aten.dropout", "aten.feature_dropout", "aten.alpha_dropout", "aten.feature_alpha_dropout")


@dataclass(frozen=True)
class Ref:
    """A reference to a graph value (a node output, an input or a constant) by its torch name."""

    name: str

    def __repr__(self) -> str:
        return f"%{self.name}"


@dataclass(frozen=True)
class TensorInfo:
    """Shape and dtype of a captured torch tensor (batch dimension concrete, as captured)."""

    shape: tuple[int, ...]
    dtype: str = "float32"

    @property
    def rank(self) -> int:
        return len(self.shape)


@dataclass(frozen=True)
class Node:
    """One ATen call of the captured program."""

    name: str
    op: str
    overload: str
    args: Mapping[str, Any]
    outputs: TensorInfo | tuple[TensorInfo | None, ...] | None
    module_path: str = ""
    module_type: str = ""
    source: str = ""
    module_calls: tuple[str, ...] = ()
    """The module calls the op ran inside, outermost first, the root model excluded: `("layer1",
    "layer1.0", "layer1.0.conv1")`; a repeated call of one module is `path#k` (k-th call from 0,
    `blocks.0#1`), the first call plain `path`.  `cut` finds a module's output with it."""
    synthetic: bool = False
    """Made by a pass, with no tensor of the same value in the torch program (e.g. the un-permuted
    flatten of `patterns.fold_permute_into_linear`): lowered like any node, never in the mapping."""

    def arg(self, name: str) -> Any:
        """The argument `name` (its ATen schema name); a typo is a bug, not a user error."""
        try:
            return self.args[name]
        except KeyError:
            raise KeyError(f"{self.op}.{self.overload} has no argument {name!r} "
                           f"(it has {', '.join(self.args)})") from None

    def unpack(self, *names: str) -> tuple[Any, ...]:
        """Several arguments at once: `x, weight = node.unpack("input", "weight")`."""
        return tuple(self.arg(name) for name in names)

    @property
    def target(self) -> str:
        """`aten.max_pool2d.default`: the full overload name."""
        return f"{self.op}.{self.overload}" if self.overload else self.op

    @property
    def info(self) -> TensorInfo:
        """The single tensor output's shape and dtype (error for multi-output nodes)."""
        if not isinstance(self.outputs, TensorInfo):
            raise TypeError(f"node {self.name} ({self.target}) does not have exactly one tensor output")
        return self.outputs

    @property
    def shape(self) -> tuple[int, ...]:
        return self.info.shape

    def refs(self) -> Iterator[Ref]:
        """Every Ref among the arguments (also inside lists/tuples), in order."""
        for value in self.args.values():
            yield from iter_refs(value)

    def where(self) -> str:
        """`layer1.0.conv1 (model.py:42)`: for error messages."""
        place = self.module_path or "<top level>"
        return f"{place} ({self.source})" if self.source else place

    def replace(self, **changes: Any) -> Node:
        return replace(self, **changes)


@dataclass(frozen=True)
class GraphInput:
    name: str
    info: TensorInfo


@dataclass(frozen=True)
class Graph:
    """A captured program: user inputs, constants, nodes in order, outputs.

    `outputs` is flat; `output_keys` holds the user-facing key of each output
    (dict key, or the position in a tuple/list) for naming.  `constant_sources`
    maps a constant's value name to the state_dict key it came from
    (`p_conv_weight` -> `conv.weight`).
    """

    inputs: tuple[GraphInput, ...]
    constants: Mapping[str, np.ndarray]
    nodes: tuple[Node, ...]
    outputs: tuple[Ref, ...]
    output_keys: tuple[str, ...] = ()
    constant_sources: Mapping[str, str] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Graph:
        return replace(self, **changes)

    def users(self) -> dict[str, list[Node]]:
        """Value name -> the nodes that read it (in order)."""
        result: dict[str, list[Node]] = {}
        for node in self.nodes:
            for ref in node.refs():
                result.setdefault(ref.name, []).append(node)
        return result


def iter_refs(value: Any) -> Iterator[Ref]:
    if isinstance(value, Ref):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from iter_refs(item)


def map_refs(value: Any, fn: Any) -> Any:
    """`value` with every Ref r replaced by fn(r) (lists and tuples rebuilt)."""
    if isinstance(value, Ref):
        return fn(value)
    if isinstance(value, list):
        return [map_refs(item, fn) for item in value]
    if isinstance(value, tuple):
        return tuple(map_refs(item, fn) for item in value)
    return value
