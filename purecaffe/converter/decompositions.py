"""Torch-side decompositions (`Graph -> Graph`): an op without a Caffe layer of its own rewritten
into the plainer ATen ops it is defined as, which the lowerings already convert.

* `decompose_attention`: `scaled_dot_product_attention(q, k, v)` without a mask, dropout or
  causal flag becomes `softmax((q @ k^T) * scale, -1) @ v` (scale 1/sqrt(E) unless given), the
  math PyTorch documents; its fused CPU kernels round differently, within float32 rounding.
  The new intermediate nodes are `synthetic` (no torch tensor to map them to); the last keeps the
  attention node's name.
"""
from __future__ import annotations

import math

from purecaffe.converter.graph import Graph, Node, Ref, TensorInfo


def _shape_of(graph: Graph, ref: object) -> tuple[int, ...] | None:
    if not isinstance(ref, Ref):
        return None
    for graph_input in graph.inputs:
        if graph_input.name == ref.name:
            return tuple(graph_input.info.shape)
    if ref.name in graph.constants:
        return tuple(graph.constants[ref.name].shape)
    for node in graph.nodes:
        if node.name == ref.name and isinstance(node.outputs, TensorInfo):
            return tuple(node.outputs.shape)
    return None


def _attention_nodes(graph: Graph, node: Node, taken: set[str]) -> list[Node] | None:
    query, key, value = node.arg("query"), node.arg("key"), node.arg("value")
    if node.args.get("attn_mask") is not None or node.args.get("dropout_p", 0.0) or node.args.get("is_causal") \
            or node.args.get("enable_gqa"):
        return None
    q, k = _shape_of(graph, query), _shape_of(graph, key)
    if q is None or k is None or len(q) < 2 or len(k) != len(q) or not isinstance(node.outputs, TensorInfo):
        return None
    scale = node.args.get("scale")
    scale = 1.0 / math.sqrt(q[-1]) if scale is None else float(scale)
    dtype = node.outputs.dtype

    def name(part: str) -> str:
        wanted, i = f"{node.name}_{part}", 1
        found = wanted
        while found in taken:
            found, i = f"{wanted}_{i}", i + 1
        taken.add(found)
        return found

    def make(part: str, op: str, overload: str, args: dict, shape: tuple[int, ...]) -> Node:
        return Node(name=name(part), op=op, overload=overload, args=args, outputs=TensorInfo(shape, dtype),
                    module_path=node.module_path, module_type=node.module_type, source=node.source,
                    module_calls=node.module_calls, synthetic=True)

    scores_shape = (*q[:-1], k[-2])
    key_t = make("key_t", "aten.transpose", "int", {"self": key, "dim0": -2, "dim1": -1}, (*k[:-2], k[-1], k[-2]))
    scores = make("scores", "aten.matmul", "default", {"self": query, "other": Ref(key_t.name)}, scores_shape)
    scaled = make("scaled", "aten.mul", "Tensor", {"self": Ref(scores.name), "other": scale}, scores_shape)
    weights = make("weights", "aten._softmax", "default",
                   {"self": Ref(scaled.name), "dim": -1, "half_to_float": False}, scores_shape)
    out = node.replace(op="aten.matmul", overload="default", args={"self": Ref(weights.name), "other": value})
    return [key_t, scores, scaled, weights, out]


def decompose_attention(graph: Graph) -> Graph:
    if not any(n.op == "aten.scaled_dot_product_attention" for n in graph.nodes):
        return graph
    taken = {n.name for n in graph.nodes} | {i.name for i in graph.inputs} | set(graph.constants)
    nodes: list[Node] = []
    for node in graph.nodes:
        replacement = _attention_nodes(graph, node, taken) if node.op == "aten.scaled_dot_product_attention" \
            else None
        nodes.extend(replacement if replacement is not None else [node])
    return graph.replace(nodes=tuple(nodes))
