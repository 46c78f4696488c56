"""PyTorch-side values of every captured tensor, for layer-by-layer comparison.

Runs the exported program's graph with a torch.fx Interpreter and records
each node's output under its torch value name (multi-output nodes as
`name[i]`), the names the sidecar and `ConvertedNet.mapping` use.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind

from purecaffe.errors import PurecaffeError


class _Recorder(torch.fx.Interpreter):
    def __init__(self, module: torch.fx.GraphModule) -> None:
        super().__init__(module)
        self.values: dict[str, np.ndarray] = {}

    def run_node(self, n: torch.fx.Node) -> Any:
        result = super().run_node(n)
        if n.op in ("placeholder", "call_function"):
            if isinstance(result, torch.Tensor):
                self.values[n.name] = _numpy(result)
            elif isinstance(result, (tuple, list)):
                for i, item in enumerate(result):
                    if isinstance(item, torch.Tensor):
                        self.values[f"{n.name}[{i}]"] = _numpy(item)
        return result


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    value = tensor.detach().cpu()
    if value.is_floating_point():
        value = value.float()
    return value.numpy().copy()


def torch_values(program: ExportedProgram, inputs: Sequence[Any]) -> dict[str, np.ndarray]:
    """Every node's value for the user `inputs` (arrays or tensors, in the model's input order)."""
    signature = program.graph_signature
    user = [spec for spec in signature.input_specs if spec.kind == InputKind.USER_INPUT]
    if len(inputs) != len(user):
        raise PurecaffeError(f"{len(inputs)} inputs given, the model takes {len(user)}")
    given = iter(inputs)
    args: list[Any] = []
    for spec in signature.input_specs:
        if spec.kind == InputKind.USER_INPUT:
            value = next(given)
            args.append(value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value)))
        elif spec.target in program.state_dict:
            args.append(program.state_dict[spec.target])
        else:
            args.append(program.constants[spec.target])
    recorder = _Recorder(program.graph_module)
    with torch.no_grad():
        recorder.run(*args)
    return recorder.values


def order_inputs(inputs: Sequence[Any] | Mapping[str, Any], names: Sequence[str]) -> list[Any]:
    """Inputs as a list in model order, from a list or a dict keyed by input blob names."""
    if isinstance(inputs, Mapping):
        missing = [n for n in names if n not in inputs]
        if missing:
            raise PurecaffeError(f"inputs lack {', '.join(missing)} (the net's inputs are {', '.join(names)})")
        return [inputs[n] for n in names]
    if isinstance(inputs, (torch.Tensor, np.ndarray)):
        return [inputs]
    return list(inputs)
