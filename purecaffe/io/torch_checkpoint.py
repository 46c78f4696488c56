"""`.pth`/`.pt` checkpoints: `torch.load(weights_only=True)` and finding the state_dict inside.

torch's weights-only unpickler refuses any pickle that names code (`UnsafeCheckpointError`).
On a damaged file, torch and its zip reader fail with many exception types
(`RuntimeError`, `EOFError`, `UnicodeDecodeError`, `IndexError`, ...): every one
of them is the file's fault here, so each becomes a one-line `FormatError`.
torch reads each storage record at its stored size, so a damaged size field
cannot make it allocate more than the file holds.
"""
from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from purecaffe.errors import FormatError, PurecaffeError, first_line
from purecaffe.io.npy_dict import UnsafeCheckpointError

PathLike = str | os.PathLike[str]

WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")


def load_torch(path: PathLike) -> tuple[dict[str, np.ndarray], str, tuple[str, ...]]:
    """(tensors as numpy, the wrapper key it sat under or "", non-tensor entries skipped)."""
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(_refusal(str(error)), path=path) from None
    except PurecaffeError:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged file makes torch fail in many ways
        raise FormatError(f"torch.load failed: {type(error).__name__}: {first_line(error)}", path=path) from None
    state, unwrapped = find_state_dict(loaded, path)
    tensors: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            tensors[str(key)] = _tensor_to_numpy(value, path, str(key))
        else:
            skipped.append(str(key))
    return tensors, unwrapped, tuple(skipped)


def _refusal(message: str) -> str:
    """One line saying why torch's weights-only unpickler refused the file."""
    found = re.search(r"GLOBAL ([\w.]+)", message)
    what = f"asks for {found.group(1)}" if found else "holds more than tensors"
    return (f"refused: its pickle {what}, which weights-only loading does not allow "
            f"(a checkpoint that carries code is never executed; save model.state_dict() instead)")


def find_state_dict(loaded: Any, path: PathLike) -> tuple[Mapping[str, Any], str]:
    """The state_dict: `loaded` itself when it holds tensors, else the one under a `WRAPPER_KEYS` key."""
    import torch

    if not isinstance(loaded, Mapping):
        raise FormatError(f"holds a {type(loaded).__name__}, not a state_dict (save model.state_dict())",
                          path=path)
    if any(isinstance(value, torch.Tensor) for value in loaded.values()):
        return loaded, ""
    for key in WRAPPER_KEYS:
        inner = loaded.get(key)
        if isinstance(inner, Mapping) and any(isinstance(v, torch.Tensor) for v in inner.values()):
            return inner, key
    keys = ", ".join(map(str, list(loaded)[:8]))
    raise FormatError(f"no state_dict found: the dict has no tensors and none under "
                      f"{'/'.join(WRAPPER_KEYS)} (its keys: {keys})", path=path)


def _tensor_to_numpy(tensor: Any, path: PathLike, key: str) -> np.ndarray:
    import torch

    if tensor.is_sparse or tensor.is_quantized or tensor.is_complex() or tensor.layout != torch.strided:
        raise FormatError("sparse, quantized or complex tensors are not supported", path=path, place=key)
    tensor = tensor.detach()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    try:
        return tensor.contiguous().numpy()
    except (TypeError, RuntimeError) as error:  # a dtype numpy lacks (float8, uint16 on old numpy, ...)
        raise FormatError(f"a {tensor.dtype} tensor cannot be read as numbers: {first_line(error)}",
                          path=path, place=key) from None
