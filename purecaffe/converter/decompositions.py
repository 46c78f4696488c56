"""Torch-side decompositions (`Graph -> Graph`): an op without a Caffe layer of its own rewritten
into the plainer ATen ops it is defined as, which the lowerings already convert.

* `decompose_attention`: `scaled_dot_product_attention(q, k, v, attn_mask)` without dropout, a
  causal flag or a boolean mask becomes `softmax((q @ k^T) * scale + attn_mask, -1) @ v` (scale
  1/sqrt(E) unless given; the float mask only if there is one), the
  math PyTorch documents; its fused CPU kernels round differently, within float32 rounding.
  The new intermediate nodes are `synthetic` (no torch tensor to map them to); the last keeps the
  attention node's name.
* `decompose_einsum`: a permutation of one operand, or a product of two (batch, contracted and
  free labels) as permutes, reshapes to 3-D and one matmul; exact like the matmul it becomes.
* `decompose_lstm_cell`: one `nn.LSTMCell` step as its two linears, gates and state arithmetic.
"""
from __future__ import annotations

import math

from purecaffe.converter.graph import GETITEM, Graph, Node, Ref, TensorInfo


def _info_of(graph: Graph, ref: object) -> TensorInfo | None:
    """Shape and dtype of a graph value (an input, a constant or a single-output node)."""
    if not isinstance(ref, Ref):
        return None
    for graph_input in graph.inputs:
        if graph_input.name == ref.name:
            return graph_input.info
    if ref.name in graph.constants:
        value = graph.constants[ref.name]
        return TensorInfo(tuple(value.shape), str(value.dtype))
    for node in graph.nodes:
        if node.name == ref.name and isinstance(node.outputs, TensorInfo):
            return node.outputs
    return None


def _shape_of(graph: Graph, ref: object) -> tuple[int, ...] | None:
    info = _info_of(graph, ref)
    return None if info is None else tuple(info.shape)


def _attention_nodes(graph: Graph, node: Node, taken: set[str]) -> list[Node] | None:
    query, key, value = node.arg("query"), node.arg("key"), node.arg("value")
    mask = node.args.get("attn_mask")
    if node.args.get("dropout_p", 0.0) or node.args.get("is_causal") or node.args.get("enable_gqa"):
        return None
    mask_info = _info_of(graph, mask) if mask is not None else None
    if mask is not None and (mask_info is None or not mask_info.dtype.startswith("float")):
        return None  # a boolean mask selects (-inf where False): not decomposed
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
    biased = scaled
    if mask is not None:  # a float mask is added to the scaled scores (MaxViT's relative position bias)
        biased = make("biased", "aten.add", "Tensor", {"self": Ref(scaled.name), "other": mask, "alpha": 1},
                      scores_shape)
    weights = make("weights", "aten._softmax", "default",
                   {"self": Ref(biased.name), "dim": -1, "half_to_float": False}, scores_shape)
    out = node.replace(op="aten.matmul", overload="default", args={"self": Ref(weights.name), "other": value})
    return [key_t, scores, scaled, *([biased] if mask is not None else []), weights, out]


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


class _Builder:
    """New synthetic nodes standing in for one node (names unique in the graph, its module and source)."""

    def __init__(self, graph_node: Node, taken: set[str]) -> None:
        self.node, self.taken = graph_node, taken
        self.made: list[Node] = []

    def add(self, part: str, op: str, overload: str, args: dict, shape: tuple[int, ...]) -> Ref:
        wanted, i = f"{self.node.name}_{part}", 1
        name = wanted
        while name in self.taken:
            name, i = f"{wanted}_{i}", i + 1
        self.taken.add(name)
        info = self.node.outputs if isinstance(self.node.outputs, TensorInfo) else TensorInfo(shape)
        self.made.append(Node(name=name, op=op, overload=overload, args=args, outputs=TensorInfo(shape, info.dtype),
                              module_path=self.node.module_path, module_type=self.node.module_type,
                              source=self.node.source, module_calls=self.node.module_calls, synthetic=True))
        return Ref(name)

    def permute(self, part: str, x: Ref, shape: tuple[int, ...], order: list[int]) -> tuple[Ref, tuple[int, ...]]:
        if order == sorted(order):
            return x, shape
        new = tuple(shape[i] for i in order)
        return self.add(part, "aten.permute", "default", {"self": x, "dims": order}, new), new

    def reshape(self, part: str, x: Ref, shape: tuple[int, ...], new: tuple[int, ...]) -> tuple[Ref, tuple[int, ...]]:
        if tuple(new) == tuple(shape):
            return x, shape
        return self.add(part, "aten.reshape", "default", {"self": x, "shape": list(new)}, tuple(new)), tuple(new)


def _einsum_nodes(graph: Graph, node: Node, taken: set[str]) -> list[Node] | None:
    """`einsum` of one operand (a permutation) or two (batch, contracted, left-only and right-only
    labels: permute each operand to (batch, free, contracted), flatten to 3-D, one matmul, unflatten,
    permute to the output's order).  Sums over a label of one operand, diagonals and ellipses are left
    alone (the node keeps no lowering and is refused by name)."""
    equation = str(node.arg("equation")).replace(" ", "")
    operands = list(node.arg("tensors"))
    if "..." in equation or "->" not in equation or not isinstance(node.outputs, TensorInfo):
        return None
    inputs, output = equation.split("->")
    labels = inputs.split(",")
    shapes = [_shape_of(graph, ref) for ref in operands]
    if len(labels) != len(operands) or len(labels) not in (1, 2) or any(s is None for s in shapes):
        return None
    if any(len(set(lab)) != len(lab) or len(lab) != len(s) for lab, s in zip(labels, shapes)) \
            or len(set(output)) != len(output):
        return None
    build = _Builder(node, taken)
    if len(labels) == 1:
        if sorted(labels[0]) != sorted(output):
            return None
        order = [labels[0].index(c) for c in output]
        if order == sorted(order):
            return None
        return [node.replace(op="aten.permute", overload="default", args={"self": operands[0], "dims": order})]
    (a, b), (sa, sb) = labels, shapes
    size = {**dict(zip(a, sa)), **dict(zip(b, sb))}
    if any(c not in a and c not in b for c in output) or any(dict(zip(a, sa))[c] != dict(zip(b, sb))[c]
                                                            for c in set(a) & set(b)):
        return None
    batch = [c for c in output if c in a and c in b]
    left = [c for c in output if c in a and c not in b]
    right = [c for c in output if c in b and c not in a]
    contracted = [c for c in a if c in b and c not in output]
    if set(a) != set(batch + left + contracted) or set(b) != set(batch + right + contracted):
        return None  # a label summed in one operand only

    def count(group: list[str]) -> int:
        return math.prod(size[c] for c in group)

    # With batch labels: (B, L, K) @ (B, K, R).  Without: the left operand keeps its free axes,
    # (..., K) @ (K, R), so a constant right operand stays a plain weight matrix (InnerProduct).
    lead = (count(batch), count(left)) if batch else tuple(size[c] for c in left)
    x, shape = build.permute("left_order", operands[0], sa, [a.index(c) for c in batch + left + contracted])
    x, shape = build.reshape("left_flat", x, shape, (*lead, count(contracted)))
    y, yshape = build.permute("right_order", operands[1], sb, [b.index(c) for c in batch + contracted + right])
    y, yshape = build.reshape("right_flat", y, yshape, ((count(batch),) if batch else ()) + (count(contracted),
                                                                                          count(right)))
    product_shape = (*lead, count(right))
    product = build.add("product", "aten.matmul", "default", {"self": x, "other": y}, product_shape)
    grouped = tuple(size[c] for c in batch + left + right)
    result, rshape = build.reshape("unflat", product, product_shape, grouped)
    order = [(batch + left + right).index(c) for c in output]
    if order != sorted(order):
        result, rshape = build.permute("order", result, rshape, order)
    if not build.made:
        return None
    last = build.made.pop()  # the last new node becomes the einsum node itself (its name and mapping)
    if last.name != result.name:
        return None
    return [*build.made, node.replace(op=last.op, overload=last.overload, args=last.args)]


def decompose_einsum(graph: Graph) -> Graph:
    if not any(n.op == "aten.einsum" for n in graph.nodes):
        return graph
    taken = {n.name for n in graph.nodes} | {i.name for i in graph.inputs} | set(graph.constants)
    nodes: list[Node] = []
    for node in graph.nodes:
        replacement = _einsum_nodes(graph, node, taken) if node.op == "aten.einsum" else None
        nodes.extend(replacement if replacement is not None else [node])
    return graph.replace(nodes=tuple(nodes))


def _lstm_cell_nodes(graph: Graph, node: Node, taken: set[str]) -> tuple[list[Node], Ref, Ref] | None:
    """One LSTM step as PyTorch defines it: gates = x W_ih^T + b_ih + h W_hh^T + b_hh, split (i, f, g, o);
    c' = sigmoid(f) c + sigmoid(i) tanh(g); h' = sigmoid(o) tanh(c').  Returns the nodes, h' and c'."""
    hx = node.args.get("hx")
    if not isinstance(hx, (list, tuple)) or len(hx) != 2 or not isinstance(node.outputs, tuple):
        return None
    (h, c), x = hx, node.arg("input")
    h_shape = _shape_of(graph, h)
    if h_shape is None or len(h_shape) != 2:
        return None
    build = _Builder(node, taken)
    hidden = h_shape[1]
    gate_shape = (h_shape[0], 4 * hidden)
    from_input = build.add("input_gates", "aten.linear", "default",
                           {"input": x, "weight": node.arg("w_ih"), "bias": node.args.get("b_ih")}, gate_shape)
    from_state = build.add("state_gates", "aten.linear", "default",
                           {"input": h, "weight": node.arg("w_hh"), "bias": node.args.get("b_hh")}, gate_shape)
    gates = build.add("gates", "aten.add", "Tensor", {"self": from_input, "other": from_state, "alpha": 1}, gate_shape)
    split = build.add("split", "aten.split", "Tensor", {"self": gates, "split_size": hidden, "dim": 1}, h_shape)
    build.made[-1] = build.made[-1].replace(outputs=tuple(TensorInfo(h_shape, "float32") for _ in range(4)))
    parts = [build.add(f"gate{i}", GETITEM, "", {"self": split, "index": i}, h_shape) for i in range(4)]
    i_gate, f_gate, o_gate = (build.add(f"{n}_sigmoid", "aten.sigmoid", "default", {"self": parts[k]}, h_shape)
                              for n, k in (("input", 0), ("forget", 1), ("output", 3)))
    candidate = build.add("candidate", "aten.tanh", "default", {"self": parts[2]}, h_shape)
    kept = build.add("kept", "aten.mul", "Tensor", {"self": f_gate, "other": c}, h_shape)
    written = build.add("written", "aten.mul", "Tensor", {"self": i_gate, "other": candidate}, h_shape)
    cell = build.add("cell", "aten.add", "Tensor", {"self": kept, "other": written, "alpha": 1}, h_shape)
    squashed = build.add("cell_tanh", "aten.tanh", "default", {"self": cell}, h_shape)
    hidden_out = build.add("hidden", "aten.mul", "Tensor", {"self": o_gate, "other": squashed}, h_shape)
    return build.made, hidden_out, cell


def decompose_lstm_cell(graph: Graph) -> Graph:
    """`aten.lstm_cell` -> the step's linear, sigmoid, tanh and arithmetic nodes; the getitems reading
    its (h', c') become aliases of the new h' and c' nodes (`remove_identities` then drops them)."""
    if not any(n.op == "aten.lstm_cell" for n in graph.nodes):
        return graph
    taken = {n.name for n in graph.nodes} | {i.name for i in graph.inputs} | set(graph.constants)
    results: dict[str, tuple[Ref, Ref]] = {}
    nodes: list[Node] = []
    for node in graph.nodes:
        if node.op == "aten.lstm_cell":
            made = _lstm_cell_nodes(graph, node, taken)
            if made is not None:
                nodes.extend(made[0])
                results[node.name] = (made[1], made[2])
                continue
        source = node.args.get("self") if node.op == GETITEM else None
        if isinstance(source, Ref) and source.name in results:
            target = results[source.name][int(node.arg("index"))]
            node = node.replace(op="aten.alias", overload="default", args={"self": target})
        nodes.append(node)
    return graph.replace(nodes=tuple(nodes))
