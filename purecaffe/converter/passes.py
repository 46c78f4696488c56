"""Torch-side clean-up passes, `Graph -> Graph`, run in the order of `PASSES`.

They only simplify the captured program (nothing Caffe-specific happens
here); the lowerings then see fewer, plainer nodes.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from purecaffe.converter.decompositions import decompose_attention, decompose_einsum, decompose_lstm_cell
from purecaffe.converter.graph import DROPOUT_OPS, GETITEM, Graph, Node, Ref, TensorInfo, map_refs
from purecaffe.converter.patterns import (fold_permute_into_linear, forget_copy_destination, fuse_channel_layer_norm,
                                         fuse_channel_shuffle, fuse_local_response_norm, fuse_stack_sum)

log = logging.getLogger(__name__)

Pass = Callable[[Graph], Graph]

# Ops that return their (first) input unchanged in inference.
IDENTITY_OPS = frozenset({
    "aten.clone", "aten.contiguous", "aten.detach", "aten.alias", "aten.lift_fresh_copy",
    *DROPOUT_OPS, "aten.native_dropout",
})


def fold_constants(graph: Graph) -> Graph:
    """Evaluate nodes that depend only on constants (`torch.ones(...)`, `weight.t()`) into constants."""
    constants = dict(graph.constants)
    kept: list[Node] = []
    for node in graph.nodes:
        if node.op == GETITEM:
            source = constants.get(node.arg("self").name) if isinstance(node.arg("self"), Ref) else None
            if isinstance(source, tuple):
                constants[node.name] = source[node.arg("index")]
                continue
            kept.append(node)
            continue
        if not _foldable(node, constants):
            kept.append(node)
            continue
        result = _evaluate(node, constants)
        if result is None:
            kept.append(node)
            continue
        constants[node.name] = result
        log.debug("folded %s (%s) into a constant", node.name, node.target)
    # Tuple constants were only needed to resolve getitem; drop them.
    constants = {k: v for k, v in constants.items() if isinstance(v, np.ndarray)}
    return graph.replace(nodes=tuple(kept), constants=constants)


def _foldable(node: Node, constants: dict[str, Any]) -> bool:
    if not node.op.startswith("aten."):
        return False
    target = _aten_target(node)
    if target is None or torch.Tag.nondeterministic_seeded in target.tags:
        return False
    if node.outputs is None:
        return False
    return all(ref.name in constants for ref in node.refs())


def _aten_target(node: Node) -> Any:
    packet = getattr(torch.ops.aten, node.op.split(".", 1)[1], None)
    return getattr(packet, node.overload or "default", None) if packet is not None else None


def _evaluate(node: Node, constants: dict[str, Any]) -> Any:
    target = _aten_target(node)

    def tensor(ref: Ref) -> Any:
        value = constants[ref.name]
        return torch.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else value

    args, kwargs = [], {}
    for argument in target._schema.arguments:
        value = map_refs(node.args.get(argument.name), tensor)
        if isinstance(value, str) and argument.name in ("dtype", "device", "layout", "memory_format"):
            value = _torch_enum(value)
        if argument.kwarg_only:
            kwargs[argument.name] = value
        else:
            args.append(value)
    with torch.no_grad():
        result = target(*args, **kwargs)
    if isinstance(result, torch.Tensor):
        return result.detach().numpy().copy()
    if isinstance(result, (tuple, list)) and all(isinstance(r, torch.Tensor) for r in result):
        return tuple(r.detach().numpy().copy() for r in result)
    return None


def _torch_enum(text: str) -> Any:
    if text.startswith("torch."):
        return getattr(torch, text.split(".", 1)[1])
    if text in ("cpu", "cuda", "meta"):
        return torch.device(text)
    return text


def remove_identities(graph: Graph) -> Graph:
    """Drop dropout (inference), clone, contiguous, detach, alias: uses read their input instead.

    A dropout with train=True stays, and its lowering refuses it.
    """
    replace: dict[str, Ref] = {}
    dropped_dropouts: dict[str, Node] = {}  # name -> a removed inference native_dropout (rewired)
    kept: list[Node] = []
    for node in graph.nodes:
        node = _rewired(node, replace)
        if node.op in IDENTITY_OPS and _is_inference_identity(node):
            if node.op == "aten.native_dropout":
                dropped_dropouts[node.name] = node  # its outputs are read through getitem, handled below
                continue
            replace[node.name] = node.arg("input") if "input" in node.args else node.arg("self")
            continue
        if node.op == GETITEM and isinstance(node.arg("self"), Ref) and node.arg("self").name in dropped_dropouts:
            if node.arg("index") == 0:
                replace[node.name] = dropped_dropouts[node.arg("self").name].arg("input")
            continue
        kept.append(node)
    outputs = tuple(map_refs(ref, lambda r: replace.get(r.name, r)) for ref in graph.outputs)
    return graph.replace(nodes=tuple(kept), outputs=outputs)


def _is_inference_identity(node: Node) -> bool:
    """Dropouts only with train=False; clone, contiguous, detach, alias always."""
    if "dropout" in node.op:
        return node.args.get("train") is False
    return True


def _rewired(node: Node, replace: dict[str, Ref]) -> Node:
    if not replace:
        return node
    args = {k: map_refs(v, lambda r: replace.get(r.name, r)) for k, v in node.args.items()}
    return node.replace(args=args)


def remove_dead_nodes(graph: Graph) -> Graph:
    """Drop nodes whose results nobody uses (e.g. pooling indices, folded leftovers)."""
    needed = {ref.name for ref in graph.outputs}
    kept: list[Node] = []
    for node in reversed(graph.nodes):
        if node.name in needed:
            kept.append(node)
            needed.update(ref.name for ref in node.refs())
    constants = {k: v for k, v in graph.constants.items() if k in needed}
    return graph.replace(nodes=tuple(reversed(kept)), constants=constants)


ZERO_PAD_OPS = frozenset({"aten.pad", "aten.constant_pad_nd"})
CONV_OPS = frozenset({"aten.conv2d", "aten.convolution"})


def fold_zero_pad_into_conv(graph: Graph) -> Graph:
    """`conv2d(F.pad(x, (l, r, t, b)))` with zero padding -> conv2d(x) with padding (t, b, l, r).

    The convolution's `padding` then holds four values, (top, bottom, left,
    right); its lowering makes that exact with a symmetric pad and a Slice.
    Pads feeding anything other than a 2-D convolution stay as they are.
    """
    pads: dict[str, tuple[Ref, tuple[int, int, int, int]]] = {}
    for node in graph.nodes:
        if node.op not in ZERO_PAD_OPS or not isinstance(node.outputs, TensorInfo) or node.info.rank != 4:
            continue
        if node.op == "aten.pad" and node.args.get("mode", "constant") != "constant":
            continue
        value = node.args.get("value")
        amounts = list(node.args.get("pad") or ())
        if value not in (None, 0, 0.0) or len(amounts) not in (2, 4) or any(a < 0 for a in amounts):
            continue
        left, right, top, bottom = (amounts + [0, 0])[:4]
        pads[node.name] = (node.arg("self"), (int(top), int(bottom), int(left), int(right)))
    if not pads:
        return graph
    nodes: list[Node] = []
    for node in graph.nodes:
        source = node.args.get("input")
        if (node.op in CONV_OPS and isinstance(source, Ref) and source.name in pads
                and not node.args.get("transposed", False) and not isinstance(node.args.get("padding"), str)):
            padding = [int(p) for p in node.arg("padding")]
            ph, pw = (padding * 2)[:2] if len(padding) == 1 else padding[:2]
            x, (top, bottom, left, right) = pads[source.name]
            args = dict(node.args)
            args["input"] = x
            args["padding"] = [top + ph, bottom + ph, left + pw, right + pw]
            node = node.replace(args=args)
        nodes.append(node)
    return graph.replace(nodes=tuple(nodes))


PASSES: tuple[Pass, ...] = (
    decompose_attention,
    decompose_einsum,
    decompose_lstm_cell,
    fold_constants,
    remove_identities,
    fold_zero_pad_into_conv,
    fuse_channel_shuffle,
    fuse_channel_layer_norm,
    fuse_stack_sum,
    forget_copy_destination,
    fuse_local_response_norm,
    fold_permute_into_linear,
    remove_dead_nodes,
)


def run_passes(graph: Graph, passes: tuple[Pass, ...] = PASSES) -> Graph:
    for graph_pass in passes:
        graph = graph_pass(graph)
    return graph
