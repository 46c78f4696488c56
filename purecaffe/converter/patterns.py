"""Torch-side pattern passes (`Graph -> Graph`): multi-node idioms rewritten into one plainer op.

* `fuse_channel_shuffle`: ShuffleNet's `view(N, g, C/g, *rest) -> transpose(1, 2) [-> contiguous]
  -> view(N, C, *rest)` becomes one `aten.channel_shuffle(x, g)` node (the op
  `nn.ChannelShuffle` records), which `lowerings/permute.py` lowers exactly.
* `fold_permute_into_linear`: `permute(x) [-> contiguous] -> flatten/view(N, -1) -> linear` (the
  facenet-pytorch MTCNN idiom, reading Caffe's (W, H, C)-ordered weights) becomes
  `flatten(x) -> linear` with the weight's columns permuted: the same products, summed
  in another order, and no Permute layer.
* `fuse_channel_layer_norm`: ConvNeXt's LayerNorm2d, `permute(0, 2, 3, 1) -> layer_norm over the
  last dim (C) -> permute(0, 3, 1, 2)`, becomes one `aten.channel_layer_norm(x, weight, bias, eps)`
  node: LayerNorm over C at every pixel of the NCHW tensor.  There is no such ATen op; the node is
  named like one so that it has a lowering key (`lowerings/norm.py`), and keeps the last
  permute's name (it computes the same tensor).  The channels-last values in between have no blob.
* `fuse_stack_sum`: `torch.stack(tensors, dim).sum(dim)` (or `.mean(dim)`, keepdim False; smp FPN's
  merge, DABNet) becomes one `aten.sum_stacked(tensors, mean)` node, lowered as one Eltwise SUM
  (`lowerings/concat_split.py`); the stacked tensor has no blob.
* `forget_copy_destination`: `copy(dest, src)` (a functionalized `dest[...] = src`) never reads
  dest's values, only its shape, which the node's result records: dest is dropped from its
  arguments so that a slice computed only to be overwritten leaves no Caffe layer (and no unused top).
* `fuse_local_response_norm`: `F.local_response_norm`'s squares, 5-D view, depth padding,
  `avg_pool3d`, power and division become one `aten.local_response_norm(x, size, alpha, beta, k)`
  node (`lowerings/lrn.py`), named after the division.

The channel shuffle keeps the last node's name (it computes the same tensor), so later nodes and
the model outputs still refer to it; the intermediate values removed (a 5-D view, a transposed
tensor) have no Caffe blob.  The folded flatten computes a different tensor than torch's, so it
is renamed and marked `synthetic` (not in the blob<->tensor mapping).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from purecaffe.converter.graph import Graph, Node, Ref

VIEW_OPS = frozenset({"aten.view", "aten.reshape", "aten._unsafe_view", "aten.view_copy"})


def _only_user(users: dict[str, list[Node]], name: str, outputs: set[str]) -> Node | None:
    readers = users.get(name, [])
    if len(readers) != 1 or name in outputs:
        return None
    return readers[0]


def _shape(node: Node) -> tuple[int, ...] | None:
    try:
        return tuple(node.shape)
    except TypeError:
        return None


def _value_shapes(graph: Graph) -> dict[str, tuple[int, ...]]:
    shapes = {i.name: tuple(i.info.shape) for i in graph.inputs}
    shapes.update({name: tuple(value.shape) for name, value in graph.constants.items()})
    for node in graph.nodes:
        shape = _shape(node)
        if shape is not None:
            shapes[node.name] = shape
    return shapes


def _transposes_1_2(node: Node, rank: int) -> bool:
    if node.op == "aten.transpose":
        pair = {int(node.arg("dim0")) % rank, int(node.arg("dim1")) % rank}
        return pair == {1, 2}
    if node.op == "aten.permute":
        order = [int(d) % rank for d in node.arg("dims")]
        return order == [0, 2, 1, *range(3, rank)]
    return False


def fuse_channel_shuffle(graph: Graph) -> Graph:
    users = graph.users()
    outputs = {ref.name for ref in graph.outputs}
    shapes = _value_shapes(graph)
    removed: set[str] = set()
    replaced: dict[str, Node] = {}
    for split in graph.nodes:
        if split.op not in VIEW_OPS or not isinstance(split.args.get("self"), Ref):
            continue
        source = split.arg("self")
        before, grouped = shapes.get(source.name), _shape(split)
        if before is None or grouped is None or len(before) < 3 or len(grouped) != len(before) + 1:
            continue
        groups, per_group = grouped[1], grouped[2]
        if grouped[0] != before[0] or grouped[3:] != before[2:] or groups * per_group != before[1]:
            continue
        swap = _only_user(users, split.name, outputs)
        if swap is None or swap.args.get("self") != Ref(split.name) or not _transposes_1_2(swap, len(grouped)):
            continue
        merge = _only_user(users, swap.name, outputs)
        if merge is None or merge.args.get("self") != Ref(swap.name) or _shape(merge) != before:
            continue
        if merge.op not in VIEW_OPS and merge.op != "aten.flatten":
            continue
        removed.update({split.name, swap.name})
        replaced[merge.name] = Node(
            name=merge.name, op="aten.channel_shuffle", overload="default",
            args={"self": source, "groups": groups}, outputs=merge.outputs,
            module_path=split.module_path, module_type=split.module_type, source=split.source)
    if not replaced:
        return graph
    nodes = tuple(replaced.get(n.name, n) for n in graph.nodes if n.name not in removed)
    return graph.replace(nodes=nodes)


def _flattens_all_but_batch(node: Node, before: Sequence[int]) -> bool:
    shape = _shape(node)
    if shape is None or len(before) < 2:
        return False
    if node.op in VIEW_OPS or node.op == "aten.flatten":
        return shape == (before[0], math.prod(before[1:]))
    return False


def fold_permute_into_linear(graph: Graph) -> Graph:
    users = graph.users()
    outputs = {ref.name for ref in graph.outputs}
    shapes = _value_shapes(graph)
    constants = dict(graph.constants)
    removed: set[str] = set()
    replaced: dict[str, Node] = {}
    for permute in graph.nodes:
        if permute.op != "aten.permute" or not isinstance(permute.args.get("self"), Ref):
            continue
        source = permute.arg("self")
        before = shapes.get(source.name)
        if before is None or len(before) < 3:
            continue
        order = [int(d) % len(before) for d in permute.arg("dims")]
        if order[0] != 0:
            continue  # the batch axis must stay first
        flat = _only_user(users, permute.name, outputs)
        if flat is None or flat.args.get("self") != Ref(permute.name) or not _flattens_all_but_batch(flat, before):
            continue
        readers = users.get(flat.name, [])
        if flat.name in outputs or not readers or any(
                r.op != "aten.linear" or r.arg("input") != Ref(flat.name)
                or not isinstance(r.arg("weight"), Ref) or r.arg("weight").name not in constants
                for r in readers):
            continue
        # Column k of the new weight multiplies x.flatten()[k]; it is the old column that
        # multiplied the same element after the permute.
        index = np.arange(math.prod(before[1:])).reshape(before[1:])
        column_of = np.transpose(index, [d - 1 for d in order[1:]]).reshape(-1)
        inverse = np.empty_like(column_of)
        inverse[column_of] = np.arange(column_of.size)
        removed.add(permute.name)
        # The flatten now holds x.flatten(), not torch's flatten(permute(x)): a new, synthetic value.
        unpermuted = f"{flat.name}_unpermuted"
        replaced[flat.name] = flat.replace(name=unpermuted, args={**flat.args, "self": source}, synthetic=True)
        for linear in readers:
            weight = linear.arg("weight").name
            new_name = f"{weight}_unpermuted_for_{linear.name}"
            constants[new_name] = np.ascontiguousarray(constants[weight][:, inverse])
            replaced[linear.name] = linear.replace(args={**linear.args, "input": Ref(unpermuted),
                                                         "weight": Ref(new_name)})
    if not replaced:
        return graph
    nodes = tuple(replaced.get(n.name, n) for n in graph.nodes if n.name not in removed)
    return graph.replace(nodes=nodes, constants=constants)


def fuse_channel_layer_norm(graph: Graph) -> Graph:
    users = graph.users()
    outputs = {ref.name for ref in graph.outputs}
    shapes = _value_shapes(graph)
    removed: set[str] = set()
    replaced: dict[str, Node] = {}
    for first in graph.nodes:
        if first.op != "aten.permute" or not isinstance(first.args.get("self"), Ref):
            continue
        source = first.args["self"]
        before = shapes.get(source.name)
        if before is None or len(before) != 4 or [int(d) % 4 for d in first.arg("dims")] != [0, 2, 3, 1]:
            continue
        norm = _only_user(users, first.name, outputs)
        if (norm is None or norm.op != "aten.layer_norm" or norm.args.get("input") != Ref(first.name)
                or [int(d) for d in norm.arg("normalized_shape")] != [before[1]]):
            continue
        last = _only_user(users, norm.name, outputs)
        if (last is None or last.op != "aten.permute" or last.args.get("self") != Ref(norm.name)
                or [int(d) % 4 for d in last.arg("dims")] != [0, 3, 1, 2]):
            continue
        removed.update({first.name, norm.name})
        replaced[last.name] = Node(
            name=last.name, op="aten.channel_layer_norm", overload="default",
            args={"input": source, "weight": norm.arg("weight"), "bias": norm.arg("bias"), "eps": norm.arg("eps")},
            outputs=last.outputs, module_path=norm.module_path, module_type=norm.module_type, source=norm.source)
    if not replaced:
        return graph
    nodes = tuple(replaced.get(n.name, n) for n in graph.nodes if n.name not in removed)
    return graph.replace(nodes=nodes)


STACK_SUM_OPS = frozenset({"aten.sum", "aten.mean"})


def fuse_stack_sum(graph: Graph) -> Graph:
    users = graph.users()
    outputs = {ref.name for ref in graph.outputs}
    removed: set[str] = set()
    replaced: dict[str, Node] = {}
    for stack in graph.nodes:
        if stack.op != "aten.stack" or _shape(stack) is None:
            continue
        rank = len(stack.shape)
        reduce = _only_user(users, stack.name, outputs)
        if reduce is None or reduce.op not in STACK_SUM_OPS or reduce.args.get("self") != Ref(stack.name):
            continue
        dims = reduce.args.get("dim")
        if (not isinstance(dims, (list, tuple)) or [int(d) % rank for d in dims] != [int(stack.arg("dim")) % rank]
                or reduce.args.get("keepdim") or reduce.args.get("dtype") is not None):
            continue
        removed.add(stack.name)
        replaced[reduce.name] = reduce.replace(op="aten.sum_stacked", overload="default",
                                               args={"tensors": stack.arg("tensors"), "mean": reduce.op == "aten.mean"})
    if not replaced:
        return graph
    nodes = tuple(replaced.get(n.name, n) for n in graph.nodes if n.name not in removed)
    return graph.replace(nodes=nodes)


def _scalar_arg(node: Node, name: str) -> float | None:
    value = node.args.get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _next(users: dict[str, list[Node]], outputs: set[str], node: Node, ops: Sequence[str], arg: str = "self"
          ) -> Node | None:
    """The one reader of `node`, if it is one of `ops` and reads it as `arg`."""
    reader = _only_user(users, node.name, outputs)
    if reader is None or reader.op not in ops or reader.args.get(arg) != Ref(node.name):
        return None
    return reader


def _lrn_window(pool: Node) -> int | None:
    """The window of `avg_pool3d((size, 1, 1), stride 1)` with PyTorch's defaults, else None."""
    kernel = [int(k) for k in pool.args.get("kernel_size", [])]
    stride = [int(s) for s in pool.args.get("stride", [])]
    if len(kernel) != 3 or kernel[1:] != [1, 1] or stride not in ([], [1], [1, 1, 1]):
        return None
    if [int(p) for p in pool.args.get("padding", [0])] not in ([0], [0, 0, 0]) or pool.args.get("ceil_mode"):
        return None
    if pool.args.get("count_include_pad") is False or pool.args.get("divisor_override") is not None:
        return None
    return kernel[0]


def fuse_local_response_norm(graph: Graph) -> Graph:
    """`F.local_response_norm` on a 4-D input, as PyTorch writes it:

        x * x -> view (N, 1, C, H, W) -> pad depth (size // 2, (size - 1) // 2) with zeros
          -> avg_pool3d((size, 1, 1), stride 1) -> squeeze(1) -> view (N, C, H, W)
          -> * alpha -> + k -> ** beta -> x / that

    becomes one `aten.local_response_norm(input, size, alpha, beta, k)` node (no such ATen op;
    named like one for its lowering key, `lowerings/lrn.py`), keeping the division's name.
    """
    users = graph.users()
    outputs = {ref.name for ref in graph.outputs}
    shapes = _value_shapes(graph)
    removed: set[str] = set()
    replaced: dict[str, Node] = {}
    for square in graph.nodes:
        if square.op != "aten.mul" or not isinstance(square.args.get("self"), Ref) \
                or square.args.get("other") != square.args.get("self"):
            continue
        source = square.args["self"]
        before = shapes.get(source.name)
        if before is None or len(before) != 4:
            continue
        view = _next(users, outputs, square, VIEW_OPS)
        if view is None or _shape(view) != (before[0], 1, *before[1:]):
            continue
        pad = _next(users, outputs, view, ("aten.pad", "aten.constant_pad_nd"))
        if pad is None or pad.args.get("mode", "constant") != "constant" or pad.args.get("value") not in (None, 0, 0.0):
            continue
        pool = _next(users, outputs, pad, ("aten.avg_pool3d",))
        size = None if pool is None else _lrn_window(pool)
        if pool is None or size is None or [int(p) for p in pad.arg("pad")] != [0, 0, 0, 0, size // 2,
                                                                               (size - 1) // 2]:
            continue
        squeeze = _next(users, outputs, pool, ("aten.squeeze",))
        if squeeze is None or _shape(squeeze) != before:
            continue
        chain = [square, view, pad, pool, squeeze]
        last = squeeze
        back = _next(users, outputs, last, VIEW_OPS)
        if back is not None and _shape(back) == before:
            chain.append(back)
            last = back
        scaled = _next(users, outputs, last, ("aten.mul",))
        alpha = None if scaled is None else _scalar_arg(scaled, "other")
        shifted = None if scaled is None else _next(users, outputs, scaled, ("aten.add",))
        k = None if shifted is None else _scalar_arg(shifted, "other")
        power = None if shifted is None else _next(users, outputs, shifted, ("aten.pow",))
        beta = None if power is None else _scalar_arg(power, "exponent")
        divide = None if power is None else _next(users, outputs, power, ("aten.div",), arg="other")
        if (alpha is None or k is None or beta is None or divide is None or shifted.args.get("alpha", 1) != 1
                or divide.args.get("self") != source or divide.args.get("rounding_mode") is not None):
            continue
        chain += [scaled, shifted, power]
        removed.update(n.name for n in chain)
        replaced[divide.name] = Node(
            name=divide.name, op="aten.local_response_norm", overload="default",
            args={"input": source, "size": size, "alpha": alpha, "beta": beta, "k": k}, outputs=divide.outputs,
            module_path=pool.module_path, module_type=pool.module_type, source=pool.source,
            module_calls=pool.module_calls)
    if not replaced:
        return graph
    nodes = tuple(replaced.get(n.name, n) for n in graph.nodes if n.name not in removed)
    return graph.replace(nodes=nodes)


def forget_copy_destination(graph: Graph) -> Graph:
    changed = False
    nodes = []
    for node in graph.nodes:
        if node.op == "aten.copy" and isinstance(node.args.get("self"), Ref) and _shape(node) is not None:
            node = node.replace(args={**node.args, "self": None})
            changed = True
        nodes.append(node)
    return graph.replace(nodes=tuple(nodes)) if changed else graph
