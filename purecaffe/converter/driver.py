"""The lowering loop: Graph -> Caffe layers, weights and the torch<->Caffe mapping.

`lower()` walks the nodes in order (the torch.fx Interpreter's shape: one
handler per node kind), asks the registry for each op's lowering, and
collects *every* op that cannot be lowered before raising one
`UnsupportedOpsError` that lists them all; nothing is written before that.
After lowering: outputs get their names, unused tops end in a Silence layer,
and in-place tops are assigned where safe (`inplace`).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from google.protobuf.message import Message

from purecaffe.converter import builders
from purecaffe.converter.builders import Blob, Layer
from purecaffe.converter.context import Constant, LoweringContext, NotConvertible, TensorRecord, Unconverted
from purecaffe.converter.dialect import Dialect
from purecaffe.converter.graph import GETITEM, Graph, Node, TensorInfo
from purecaffe.converter.inplace import assign_inplace, rename_blobs
from purecaffe.converter.naming import plan_layer_names
from purecaffe.converter.registry import Registry
from purecaffe.errors import PurecaffeError, ShapeError, UnsupportedError
from purecaffe.schema import load_schema

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

    def __init__(self, problems: Sequence[Problem], dialect: str) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        listing = "; ".join(f"[{i + 1}] {p.describe()}" for i, p in enumerate(self.problems))
        super().__init__(f"{count} op{'s' if count != 1 else ''} cannot be converted to {dialect} Caffe "
                         f"(nothing was written): {listing}")


@dataclass(frozen=True)
class Lowered:
    net: Message
    weights: dict[str, list[np.ndarray]]
    records: tuple[TensorRecord, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]


def lower(graph: Graph, *, registry: Registry, dialect: Dialect, name: str,
          input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None) -> Lowered:
    inputs = _input_names(graph, input_names)
    base_names = plan_layer_names(graph.nodes, reserved=inputs)
    ctx = LoweringContext(graph=graph, dialect=dialect, base_names=base_names)
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
            # ShapeError: Caffe's shape rules refuse the layer (e.g. pooling pad >= kernel), or
            # a lowering's top disagrees with torch; either way listed with the others.
            problems.append(Problem(node.target, node.module_path, node.source, error.message, node.name,
                                    node.module_type))
            ctx.env[node.name] = _unconverted(node)
    ctx.node = None
    if problems:
        raise UnsupportedOpsError(problems, dialect.name)

    layers, records, outputs = _finish_outputs(ctx, graph, inputs, output_names)
    net = load_schema().NetParameter()
    net.name = name
    for layer in layers:
        net.layer.add().CopyFrom(layer.param)
    return Lowered(net=net, weights=ctx.weights, records=tuple(records), input_names=tuple(inputs),
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


def _finish_outputs(ctx: LoweringContext, graph: Graph, inputs: Sequence[str],
                    output_names: Sequence[str] | None) -> tuple[list[Layer], list[TensorRecord], list[str]]:
    if output_names is not None and len(output_names) != len(graph.outputs):
        raise PurecaffeError(f"{len(output_names)} output names given for {len(graph.outputs)} model outputs")
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
            # The same blob is an input or another output: give this output its own copy.
            copy = ctx.unique_name(f"{value.name}/copy")
            ctx.emit(builders.split(copy, value, [copy]))
            ctx.records.append(TensorRecord(torch_name=ref.name, blob=copy, layer=copy, module_path="",
                                            op="output copy", shape=value.shape))
            value = Blob(copy, value.shape)
        claimed.add(value.name)
        output_blobs.append(value.name)

    layers = list(ctx.layers)
    consumed = {bottom for layer in layers for bottom in layer.bottoms}
    dangling = [top for layer in layers for top in layer.tops
                if top.name not in consumed and top.name not in output_blobs and layer.type != "Input"]
    if dangling:
        layers.append(builders.silence(ctx.unique_name("silence"), dangling))

    layers, records, inplace = assign_inplace(layers, list(ctx.records), protected=set(inputs) | set(output_blobs))
    output_blobs = [_follow(name, inplace) for name in output_blobs]
    final = list(output_blobs)
    if output_names is not None:
        wanted = list(output_names)
        if len(set(wanted)) != len(wanted) or set(wanted) & set(inputs):
            raise PurecaffeError(f"output names must be distinct and differ from the input names: {wanted}")
        renames = {old: new for old, new in zip(output_blobs, wanted) if old != new}
        taken = {t.name for layer in layers for t in layer.tops} - set(renames)
        clash = [new for new in renames.values() if new in taken]
        if clash:
            raise PurecaffeError(f"output name(s) {', '.join(clash)} already name other blobs of the net")
        layers, records = rename_blobs(layers, records, renames)
        final = wanted
    return layers, records, final


def _follow(name: str, renames: dict[str, str]) -> str:
    while name in renames:
        name = renames[name]
    return name
