"""Cut where the device stops: the net's outputs chosen by module path.

NPU deployments end a detector at its head's raw convolutions and decode on the CPU.
`cut(graph, ["model.22.cv2.0", "model.22.cv3.0", ...])` makes those modules' results the
graph's outputs, in the order given, and drops everything that only fed later computation::

    graph = cut(captured.graph, ["backbone.layer4", "head.cls"])

An output names

* a module call: the module's path (`layer1.0.conv1`, `model.22.cv2.0`); a module called more
  than once needs its call index, `blocks.0#1` (the calls count from `#0`);
* or a captured value by its torch name (`cat_3`), as `list_module_outputs` shows them.

A module's result is the value(s) computed inside its call and read outside it (or returned by
the model).  An output that does not depend on the model's inputs is refused: Caffe would have
to compute a constant.  Unknown names are refused with the closest candidates (difflib).

`list_module_outputs(graph)` lists every module call with its output values and shapes (where to
cut); `removed_nodes(full, kept)` and `cut_report(...)` say what a cut removed (ATen ops and
counts, and which of them the target could not have taken).
"""
from __future__ import annotations

import difflib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from purecaffe.converter.graph import GETITEM, Graph, Node, Ref, TensorInfo
from purecaffe.errors import PurecaffeError, UnsupportedError

log = logging.getLogger(__name__)

_CALL = re.compile(r"^(?P<path>.+?)#(?P<index>\d+)$")


@dataclass(frozen=True)
class ModuleCall:
    """One call of one module in the captured program, and what it returned."""

    path: str
    index: int
    calls: int
    """How many times the module was called (an output spec needs `#index` when more than one)."""
    module_type: str
    values: tuple[str, ...]
    """The torch value names of its results (computed inside the call, read outside it)."""
    shapes: tuple[tuple[int, ...], ...]
    ops: int
    """ATen ops that ran inside the call (its children's included)."""

    @property
    def spec(self) -> str:
        """What `outputs=` accepts for this call: `path`, or `path#index` for a module called several times."""
        return f"{self.path}#{self.index}" if self.calls > 1 else self.path

    @property
    def depth(self) -> int:
        return self.path.count(".")


@dataclass(frozen=True)
class InlineValue:
    """A value computed by an op written directly in a container's `forward` (or at the model's top
    level), not inside a child module: `outputs=` accepts its torch name."""

    name: str
    op: str
    shape: tuple[int, ...]
    module: str
    """The spec of the module call it ran in ('' at the top level)."""
    depth: int

    @property
    def spec(self) -> str:
        return self.name


def _call_key(call: str) -> tuple[str, int]:
    match = _CALL.match(call)
    return (match.group("path"), int(match.group("index"))) if match else (call, 0)


def _effective_calls(graph: Graph) -> dict[str, tuple[str, ...]]:
    """Node name -> module calls; a getitem without a module stack belongs where its source ran."""
    calls: dict[str, tuple[str, ...]] = {}
    for node in graph.nodes:
        own = node.module_calls
        if not own and node.op == GETITEM and isinstance(node.args.get("self"), Ref):
            own = calls.get(node.args["self"].name, ())
        calls[node.name] = own
    return calls


def _tensor_shape(node: Node) -> tuple[int, ...] | None:
    return node.outputs.shape if isinstance(node.outputs, TensorInfo) else None


def _call_results(graph: Graph) -> dict[tuple[str, int], tuple[list[Node], list[str]]]:
    """(path, index) -> (the nodes that ran inside the call, the values it returned), in graph order."""
    calls = _effective_calls(graph)
    members: dict[tuple[str, int], list[Node]] = {}
    for node in graph.nodes:
        for call in calls[node.name]:
            members.setdefault(_call_key(call), []).append(node)
    readers: dict[str, list[Node]] = graph.users()
    returned = {ref.name for ref in graph.outputs}
    results: dict[tuple[str, int], tuple[list[Node], list[str]]] = {}
    for key, nodes in members.items():
        call = key[0] if key[1] == 0 else f"{key[0]}#{key[1]}"
        inside = {n.name for n in nodes}
        escaping = []
        for node in nodes:
            if _tensor_shape(node) is None:
                continue  # tuples (read through getitem) and non-tensors
            outside = [u for u in readers.get(node.name, []) if call not in calls[u.name]]
            if outside or node.name in returned:
                escaping.append(node.name)
        if not escaping:  # its result is read by nobody: the last tensor it computed
            last = next((n for n in reversed(nodes) if _tensor_shape(n) is not None), None)
            escaping = [last.name] if last is not None else []
        results[key] = (nodes, [v for v in escaping if v in inside])
    return results


def list_module_outputs(graph: Graph, module_types: Mapping[str, str] | None = None
                        ) -> tuple[ModuleCall | InlineValue, ...]:
    """Every module call of the captured program, in the order each started, with its results, and
    (as `InlineValue`) every value computed inline in a container's or the model's own `forward`.

    `module_types`: path -> class name (from the model's `named_modules`); without it only modules
    that ran an op directly get a type."""
    results = _call_results(graph)
    counts = Counter(path for path, _ in results)
    shapes = {n.name: _tensor_shape(n) for n in graph.nodes}
    types: dict[str, str] = dict(module_types or {})
    for node in graph.nodes:  # a node's innermost module gives that module's type
        if node.module_path and node.module_type:
            types.setdefault(node.module_path, node.module_type)
    listing = []
    for (path, index), (nodes, values) in results.items():
        listing.append(ModuleCall(path=path, index=index, calls=counts[path], module_type=types.get(path, ""),
                                  values=tuple(values), shapes=tuple(shapes[v] or () for v in values),
                                  ops=sum(1 for n in nodes if n.op != GETITEM)))
    position = {n.name: i for i, n in enumerate(graph.nodes)}
    order: dict[int, tuple[int, int]] = {}
    for call in listing:
        order[id(call)] = (position[results[(call.path, call.index)][0][0].name], call.depth)
    # Values computed inline: by a container (a call with child calls) or at the top level.
    calls = _effective_calls(graph)
    containers = {c for node_calls in calls.values() for c in node_calls[:-1]}
    spec_of = {(c.path, c.index): c.spec for c in listing}
    for node in graph.nodes:
        own = calls[node.name]
        if _tensor_shape(node) is None or (own and own[-1] not in containers):
            continue
        module = spec_of[_call_key(own[-1])] if own else ""
        value = InlineValue(name=node.name, op=node.op, shape=_tensor_shape(node) or (), module=module,
                            depth=len(own))
        listing.append(value)
        order[id(value)] = (position[node.name], len(own))
    listing.sort(key=lambda entry: order[id(entry)])
    return tuple(listing)



def format_module_outputs(listing: Sequence[ModuleCall | InlineValue]) -> str:
    """A table, indented by module depth: spec, type (or ATen op), output value(s), shape(s), op count."""
    rows = [("module or value (outputs=...)", "type", "value", "shape", "ops")]
    for call in listing:
        if isinstance(call, InlineValue):
            rows.append(("  " * call.depth + call.name, call.op, call.name, "x".join(map(str, call.shape)), ""))
            continue
        indent = "  " * call.depth
        values = call.values or ("-",)
        for i, value in enumerate(values):
            shape = "x".join(map(str, call.shapes[i])) if i < len(call.shapes) else "-"
            first = i == 0
            rows.append((indent + call.spec if first else "", call.module_type if first else "", value, shape,
                         str(call.ops) if first else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


# ---------------------------------------------------------------------------------- the cut


@dataclass(frozen=True)
class CutOutput:
    spec: str
    values: tuple[str, ...]
    keys: tuple[str, ...]
    """Output key per value: the spec, or `spec:i` for a call returning several."""


def blob_name(key: str) -> str:
    """The output blob's default name for an output key: `blocks.0#1` -> `blocks.0_1`."""
    return key.replace("#", "_")


def resolve_outputs(graph: Graph, specs: Sequence[str]) -> tuple[CutOutput, ...]:
    """Each spec -> the torch value(s) it names; unknown, ambiguous or constant ones are one error."""
    if not specs:
        raise PurecaffeError("outputs: give at least one module path or value name")
    duplicates = sorted({s for s in specs if list(specs).count(s) > 1})
    if duplicates:
        raise PurecaffeError(f"outputs: {', '.join(duplicates)} given more than once")
    results = _call_results(graph)
    counts = Counter(path for path, _ in results)
    values = {i.name for i in graph.inputs} | {n.name for n in graph.nodes if _tensor_shape(n) is not None}
    resolved = []
    for spec in specs:
        spec = spec.strip()
        path, index = _call_key(spec)
        if (path, index) in results and (counts[path] == 1 or _CALL.match(spec)):
            found = results[(path, index)][1]
            if not found:
                raise PurecaffeError(f"output {spec!r}: the module computes no tensor")
        elif counts.get(spec, 0) > 1:
            listing = ", ".join(f"{spec}#{i}" for i in range(counts[spec]))
            raise PurecaffeError(f"output {spec!r}: the module is called {counts[spec]} times; pick one call: "
                                 f"{listing}")
        elif spec in values:
            found = [spec]
        else:
            raise PurecaffeError(f"output {spec!r}: no such module or value in the captured model"
                                 f"{_closest(spec, results, counts, values)}")
        keys = [spec] if len(found) == 1 else [f"{spec}:{i}" for i in range(len(found))]
        resolved.append(CutOutput(spec, tuple(found), tuple(keys)))
    _refuse_constants(graph, resolved)
    return tuple(resolved)


def _closest(spec: str, results: Mapping[tuple[str, int], object], counts: Mapping[str, int],
             values: Iterable[str]) -> str:
    candidates = []
    for path, index in results:
        candidates.append(f"{path}#{index}" if counts[path] > 1 else path)
    close = difflib.get_close_matches(spec, candidates, n=5, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(spec, [*candidates, *values], n=5, cutoff=0.5)
    if not close:
        return " (`purecaffe convert ... --list-outputs` lists them)"
    return f"; closest: {', '.join(close)} (`--list-outputs` lists all)"


def _refuse_constants(graph: Graph, resolved: Sequence[CutOutput]) -> None:
    dependent = {i.name for i in graph.inputs}
    for node in graph.nodes:
        if any(ref.name in dependent for ref in node.refs()):
            dependent.add(node.name)
    for output in resolved:
        constant = [v for v in output.values if v not in dependent]
        if constant:
            raise UnsupportedError(f"output {output.spec!r} ({', '.join(constant)}) does not depend on the model's "
                                   f"inputs: it is a constant, which a Caffe net cannot output")


def cut(graph: Graph, outputs: Sequence[str]) -> Graph:
    """`graph` ending at `outputs` (module paths or value names, in order); everything that only fed
    later computation is dropped."""
    resolved = resolve_outputs(graph, outputs)
    refs = tuple(Ref(v) for output in resolved for v in output.values)
    keys = tuple(k for output in resolved for k in output.keys)
    seen: set[str] = set()
    clash = [r.name for r in refs if r.name in seen or seen.add(r.name)]  # type: ignore[func-returns-value]
    if clash:
        raise PurecaffeError(f"outputs: {', '.join(o.spec for o in resolved if set(o.values) & set(clash))} "
                             f"name the same value ({', '.join(clash)})")
    needed = {r.name for r in refs}
    kept: list[Node] = []
    for node in reversed(graph.nodes):
        if node.name in needed:
            kept.append(node)
            needed.update(ref.name for ref in node.refs())
    return graph.replace(nodes=tuple(reversed(kept)), outputs=refs, output_keys=keys,
                         constants={k: v for k, v in graph.constants.items() if k in needed})


# ---------------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class CutReport:
    """What a cut kept and what it removed."""

    outputs: tuple[str, ...]
    """The output specs as given."""
    removed: tuple[tuple[str, int], ...]
    """(ATen op, count) the cut dropped, most frequent first."""
    refused: tuple[tuple[str, int, str], ...] = ()
    """(ATen op, count, reason) among the dropped ones that the target could not have taken."""
    target: str = ""
    unjudged: str = ""
    """Why the removed ops could not all be judged (the uncut model does not convert for another reason
    than its ops); `refused` then holds only the certain cases, ops with no lowering at all."""

    @property
    def removed_ops(self) -> int:
        return sum(count for _, count in self.removed)

    def describe(self) -> str:
        """`cut at a, b removes 12 ops (4 aten.view, ...); of these bvlc Caffe could not take 2 aten.permute (...)`."""
        text = f"cut at {', '.join(self.outputs)} removes {self.removed_ops} op{'s' if self.removed_ops != 1 else ''}"
        if self.removed:
            text += " (" + ", ".join(f"{count} {op}" for op, count in self.removed) + ")"
        if self.refused:
            text += (f"; of these the {self.target} target could not take " +
                     "; ".join(f"{count} {op}: {reason}" for op, count, reason in self.refused))
        if self.unjudged:
            text += (f"; whether the {self.target} target could take the {'others' if self.refused else 'ops'} is "
                     f"not known: the uncut model does not convert ({self.unjudged})")
        elif self.removed and not self.refused:
            text += f"; the {self.target} target could have taken all of them"
        return text

    def to_json(self) -> dict:
        data = {"outputs": list(self.outputs), "removed_ops": self.removed_ops, "removed": dict(self.removed),
                "refused": {op: {"count": count, "reason": reason} for op, count, reason in self.refused}}
        if self.unjudged:
            data["unjudged"] = self.unjudged
        return data


def removed_nodes(full: Graph, kept: Graph) -> tuple[Node, ...]:
    """The ATen nodes of `full` that `kept` no longer has (both after the same passes)."""
    names = {n.name for n in kept.nodes}
    return tuple(n for n in full.nodes if n.name not in names and n.op != GETITEM)


def cut_report(outputs: Sequence[str], removed: Sequence[Node], refused: Mapping[str, str], *,
               target: str, unjudged: str = "") -> CutReport:
    """`refused`: node name -> why the target could not take it (for the removed nodes that matter);
    `unjudged`: why the rest could not be judged, if so."""
    counts = Counter(n.op for n in removed)
    refusals: dict[str, list[str]] = {}
    for node in removed:
        if node.name in refused:
            refusals.setdefault(node.op, []).append(refused[node.name])
    return CutReport(outputs=tuple(outputs), removed=tuple(counts.most_common()), target=target, unjudged=unjudged,
                     refused=tuple((op, len(reasons), Counter(reasons).most_common(1)[0][0])
                                   for op, reasons in sorted(refusals.items(), key=lambda kv: -len(kv[1]))))
