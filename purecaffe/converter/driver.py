"""The lowering loop: Graph -> Caffe layers, weights and the torch<->Caffe mapping.

`lower()` walks the nodes in order (the torch.fx Interpreter's shape: one
handler per node kind), asks the registry for each op's lowering, and
collects *every* op that cannot be lowered before raising one
`UnsupportedOpsError` that lists them all; nothing is written before that.
Any other exception from inside a lowering is a purecaffe bug: it becomes a
`ConverterBugError` naming the node.  The result is target-neutral canonical
layers; the target stage (`purecaffe.targets`) legalizes, names and serializes.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from purecaffe.canonical import Blob, CaffeLayer, builders
from purecaffe.converter.context import Constant, LoweringContext, NotConvertible, TensorRecord, Unconverted
from purecaffe.converter.graph import GETITEM, Graph, Node, TensorInfo
from purecaffe.converter.naming import plan_layer_names
from purecaffe.converter.registry import Registry
from purecaffe.errors import ConverterBugError, PurecaffeError, ShapeError, UnsupportedError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One op that cannot be converted, and why."""

    op: str
    module_path: str
    source: str
    reason: str
    node: str
    module_type: str = ""

    def describe(self) -> str:
        where = self.module_path or "<model>"
        if self.module_type:
            where = f"{where} ({self.module_type})"
        source = f" at {self.source}" if self.source else ""
        return f"{self.op} in {where}{source}: {self.reason}"


class UnsupportedOpsError(UnsupportedError):
    """Every op of a model that cannot be converted, listed in one error."""

    def __init__(self, problems: Sequence[Problem], target: str) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        listing = "; ".join(f"[{i + 1}] {p.describe()}" for i, p in enumerate(self.problems))
        super().__init__(f"{count} op{'s' if count != 1 else ''} cannot be converted for the {target} target "
                         f"(nothing was written): {listing}")


@dataclass(frozen=True)
class Lowered:
    """Target-neutral canonical layers, the torch<->Caffe records, input and output blob names."""

    layers: tuple[CaffeLayer, ...]
    records: tuple[TensorRecord, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]


def lower(graph: Graph, *, registry: Registry, target: str, input_names: Sequence[str] | None = None) -> Lowered:
    """Every node through its lowering; `target` only names the target in the error listing refusals."""
    inputs = _input_names(graph, input_names)
    base_names = plan_layer_names(graph.nodes, reserved=inputs)
    ctx = LoweringContext(graph=graph, base_names=base_names)
    ctx.used_names.update(inputs)
    ctx.used_names.update(base_names.values())

    for graph_input, blob_name in zip(graph.inputs, inputs):
        top = Blob(blob_name, graph_input.info.shape)
        ctx.emit(builders.input_layer(blob_name, [top]))
        ctx.env[graph_input.name] = top
        ctx.records.append(TensorRecord(torch_name=graph_input.name, blob=blob_name, layer=blob_name,
                                        module_path="", op="input", shape=top.shape))
    for constant_name, value in graph.constants.items():
        ctx.env[constant_name] = Constant(value)

    problems: list[Problem] = []
    for node in graph.nodes:
        ctx.node = node
        if node.op == GETITEM:
            _lower_getitem(ctx, node)
            continue
        fn = registry.find(node.op, node.overload)
        try:
            if fn is None:
                raise NotConvertible(f"no Caffe lowering for {node.op}")
            fn(ctx, node)
            if node.name not in ctx.env:
                raise RuntimeError(f"lowering {fn.__name__} did not bind a value for {node.name}")
        except NotConvertible as refusal:
            problems.append(Problem(node.target, node.module_path, node.source, refusal.reason, node.name,
                                    node.module_type))
            ctx.env[node.name] = _unconverted(node)
        except (UnsupportedError, ShapeError) as error:
            # Caffe's own rules refuse the parameters (e.g. pooling pad >= kernel): listed with the others.
            problems.append(Problem(node.target, node.module_path, node.source, error.message, node.name,
                                    node.module_type))
            ctx.env[node.name] = _unconverted(node)
        except ConverterBugError as bug:
            if not bug.op:
                bug = ConverterBugError(bug.message, op=node.target, module_path=node.module_path,
                                        source=node.source)
            raise bug from bug.__cause__
        except Exception as error:
            raise ConverterBugError(f"{type(error).__name__} in {getattr(fn, '__name__', 'lowering')}: {error}",
                                    op=node.target, module_path=node.module_path, source=node.source) from error
    ctx.node = None
    if problems:
        raise UnsupportedOpsError(problems, target)
    outputs = _output_blobs(ctx, graph, inputs)
    return Lowered(layers=tuple(ctx.layers), records=tuple(ctx.records), input_names=tuple(inputs),
                   output_names=tuple(outputs))


def _input_names(graph: Graph, wanted: Sequence[str] | None) -> list[str]:
    if wanted is not None:
        names = list(wanted)
        if len(names) != len(graph.inputs):
            raise PurecaffeError(f"{len(names)} input names given for {len(graph.inputs)} model inputs")
    elif len(graph.inputs) == 1:
        names = ["data"]
    else:
        names = [i.name for i in graph.inputs]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise PurecaffeError(f"input names must be distinct and non-empty: {names}")
    return names


def _unconverted(node: Node) -> Unconverted | tuple[Unconverted | None, ...]:
    if isinstance(node.outputs, tuple):
        return tuple(Unconverted(i) if i is not None else None for i in node.outputs)
    return Unconverted(node.outputs if isinstance(node.outputs, TensorInfo) else TensorInfo(()))


def _lower_getitem(ctx: LoweringContext, node: Node) -> None:
    source, index = node.unpack("self", "index")
    value = ctx.env.get(source.name)
    if isinstance(value, tuple):
        item = value[index]
        ctx.env[node.name] = item
        if isinstance(item, Blob):
            producer = next((r for r in reversed(ctx.records) if r.blob == item.name), None)
            if producer is not None:
                ctx.records.append(TensorRecord(torch_name=node.name, blob=item.name, layer=producer.layer,
                                                module_path=node.module_path, op=producer.op, shape=item.shape))
    else:
        ctx.env[node.name] = None


def _output_blobs(ctx: LoweringContext, graph: Graph, inputs: Sequence[str]) -> list[str]:
    """The blob of each model output; an output that is an input or another output gets a Split copy."""
    claimed: set[str] = set(inputs)
    output_blobs: list[str] = []
    for i, ref in enumerate(graph.outputs):
        value = ctx.env.get(ref.name)
        key = graph.output_keys[i] if i < len(graph.output_keys) else str(i)
        if isinstance(value, Constant):
            raise UnsupportedError(f"model output {key} is a constant, not computed from the inputs")
        if not isinstance(value, Blob):
            raise UnsupportedError(f"model output {key} is not a tensor")
        if value.name in claimed:
            copy = ctx.unique_name(f"{value.name}/copy")
            ctx.emit(builders.split(copy, value, [copy]))
            ctx.records.append(TensorRecord(torch_name=ref.name, blob=copy, layer=copy, module_path="",
                                            op="output copy", shape=value.shape))
            value = Blob(copy, value.shape)
        claimed.add(value.name)
        output_blobs.append(value.name)
    return output_blobs
