"""The registry of lowerings: ATen op -> the function that turns it into Caffe layers.

How to write a lowering (one module per op family under
`purecaffe/converter/lowerings/`, e.g. `lowerings/activations.py`; every module
in that package not starting with `_` is collected, nothing to register
elsewhere).  `tests/converter/test_registry.py` runs this example as written::

    from purecaffe.canonical import builders
    from purecaffe.converter.context import LoweringContext
    from purecaffe.converter.graph import Node
    from purecaffe.converter.registry import lowering

    @lowering("aten.relu", aliases=("aten.relu_",))
    def lower_relu(ctx: LoweringContext, node: Node) -> None:
        self = node.arg("self")        # arguments under their ATen names
        x = ctx.blob(self)             # the Blob(name, shape) holding an input value
        name = ctx.name(node)          # the layer's name, also its top's: the module path
        ctx.emit(builders.relu(name, x, name), result=node)   # the top becomes the node's value

Rules:

* The key is the canonical ATen op *packet* (`"aten.max_pool2d"`, covering all
  its overloads) or one overload (`"aten.add.Tensor"`, tried first).  Aliases
  list the variants the same function handles (in-place `relu_`, the
  core-ATen `_native_batch_norm_legit_no_training` next to `batch_norm`).
  A key or alias claimed twice is an error when the registry is built.
* Name the function `lower_<op>` after its key; unpack the arguments at the
  top; keep no state outside `ctx`; never ask which target is being written
  (targets legalize afterwards, `purecaffe.targets`).
* A case that cannot be converted exactly raises `ctx.unsupported("why")`;
  the driver collects these for all nodes and reports them together before
  anything is written.  Never approximate silently.
* Layers are built only with `purecaffe.canonical.builders`; weights are built
  with `purecaffe.converter.weights`; `ctx.emit` checks every top's shape
  against the captured torch shape.  `purecaffe.converter.context` lists all
  that a lowering can ask and do (intermediate layers: `ctx.name(node, "part")`).
* The captured form is `torch.export`'s ATen (`aten.conv2d`, `aten.batch_norm`,
  `aten.flatten`); a model that mutates inputs or views is fully functionalized
  by `run_decompositions({})` (see `capture`), whose core-ATen forms
  (`aten.convolution`, `_native_batch_norm_legit_no_training`, `aten.view`)
  are listed as aliases or lowered beside.  Print
  `purecaffe.converter.capture.capture(model, inputs).graph.nodes` to see which
  op names and arguments reach your lowering.
* Test it in `tests/converter/lowerings/test_<family>.py`, one line per case:
  `run_compare_torch(model, input_shape_or_tensors)` from `tests/torch_compare.py`
  converts, runs real Caffe (the runtime where there is none; always real Caffe
  under CI=true) and compares every mapped blob (see
  `tests/converter/lowerings/test_activations.py`).
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from purecaffe.converter.context import LoweringContext
    from purecaffe.converter.graph import Node

LoweringFn = Callable[["LoweringContext", "Node"], None]

_SPEC_ATTRIBUTE = "__purecaffe_lowering__"
LOWERINGS_PACKAGE = "purecaffe.converter.lowerings"


class RegistryError(Exception):
    """A programming error in the lowerings package (duplicate key, bad name)."""


@dataclass(frozen=True)
class LoweringSpec:
    op: str
    aliases: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.op, *self.aliases)


def lowering(op: str, *, aliases: tuple[str, ...] = ()) -> Callable[[LoweringFn], LoweringFn]:
    """Mark `fn` as the lowering of ATen `op` (and its `aliases`).

    The decorator only labels the function; `build_registry` collects labelled
    functions from the modules of the lowerings package, so there is no global
    mutable table.
    """
    for key in (op, *aliases):
        if not key.startswith("aten.") or key.count(".") > 2:
            raise RegistryError(f"lowering key {key!r} must look like 'aten.<op>' or 'aten.<op>.<overload>'")

    def mark(fn: LoweringFn) -> LoweringFn:
        if not fn.__name__.startswith("lower_"):
            raise RegistryError(f"lowering of {op} is named {fn.__name__!r}; name it lower_<op>")
        setattr(fn, _SPEC_ATTRIBUTE, LoweringSpec(op=op, aliases=tuple(aliases)))
        return fn

    return mark


def lowering_spec(fn: object) -> LoweringSpec | None:
    return getattr(fn, _SPEC_ATTRIBUTE, None)


@dataclass(frozen=True)
class Registry:
    """Key (op packet or op.overload) -> lowering function, immutable."""

    table: Mapping[str, LoweringFn]

    def find(self, op: str, overload: str = "") -> LoweringFn | None:
        """The lowering for `op` (`aten.add`) at `overload` (`Tensor`): exact overload first."""
        if overload:
            fn = self.table.get(f"{op}.{overload}")
            if fn is not None:
                return fn
        return self.table.get(op)

    def __contains__(self, key: str) -> bool:
        return key in self.table

    def keys(self) -> list[str]:
        return sorted(self.table)


def collect(functions: Mapping[str, object] | list[tuple[str, object]]) -> dict[str, LoweringFn]:
    """Key -> function for the labelled functions among `(where, fn)` pairs; duplicates are errors."""
    table: dict[str, LoweringFn] = {}
    owner: dict[str, str] = {}
    items = functions.items() if isinstance(functions, Mapping) else functions
    for where, fn in items:
        spec = lowering_spec(fn)
        if spec is None:
            continue
        for key in spec.keys:
            if key in table:
                raise RegistryError(f"{key} is claimed twice: by {owner[key]} and by {where}")
            table[key] = fn  # type: ignore[assignment]
            owner[key] = where
    return table


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """Every lowering in `purecaffe.converter.lowerings.*`, checked for duplicates."""
    return build_registry(LOWERINGS_PACKAGE)


def build_registry(package_name: str) -> Registry:
    package = importlib.import_module(package_name)
    found: list[tuple[str, object]] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package_name}.{info.name}")
        for attribute, value in vars(module).items():
            # Only functions defined in this module (not ones it imported).
            if lowering_spec(value) is not None and getattr(value, "__module__", None) == module.__name__:
                found.append((f"{module.__name__}.{attribute}", value))
    return Registry(MappingProxyType(collect(found)))
