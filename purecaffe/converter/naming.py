"""Readable, stable layer names from module paths.

* A node that is the only op of a leaf module is named by the module path:
  `layer1.0.conv1`.
* A leaf module called several times (torchvision's shared `relu`) gives
  `layer1.0.relu`, `layer1.0.relu_1`, ...
* Ops written inline in a container's `forward` (or a leaf module doing
  several different ops) are `<path>/<op>`: `layer1.0/add`; at the top
  level just `<op>`: `flatten`.
Names are made unique in graph order; `reserved` (input blob names) are
never used.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from purecaffe.converter.graph import GETITEM, Node


def short_op(op: str) -> str:
    """`aten._native_batch_norm_legit_no_training` -> `native_batch_norm_legit_no_training`."""
    name = op.rsplit(".", 1)[-1].strip("_")
    return name or op


def plan_layer_names(nodes: Sequence[Node], *, reserved: Iterable[str] = ()) -> dict[str, str]:
    lowered = [n for n in nodes if n.op != GETITEM]
    paths = {n.module_path for n in lowered}
    # A container is a path that is a dotted prefix of another (`b` of `b.c`): every prefix, one pass.
    containers = {q[:i] for q in paths for i, char in enumerate(q) if char == "."} & paths
    ops_by_path: dict[str, set[str]] = {}
    for node in lowered:
        ops_by_path.setdefault(node.module_path, set()).add(node.op)

    def wanted_name(node: Node) -> str:
        path = node.module_path
        if path and path not in containers and len(ops_by_path[path]) == 1:
            return path
        if path:
            return f"{path}/{short_op(node.op)}"
        return short_op(node.op)

    wanted = {node.name: wanted_name(node) for node in lowered}
    claimed = set(wanted.values())  # a suffixed name never takes another node's own name (module `relu_1`)
    used = set(reserved)
    names: dict[str, str] = {}
    for node in lowered:
        base = wanted[node.name]
        name, i = base, 1
        while name in used or (name != base and name in claimed):
            name = f"{base}_{i}"
            i += 1
        used.add(name)
        names[node.name] = name
    return names
