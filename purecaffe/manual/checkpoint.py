"""Loading a PyTorch-side checkpoint into an ordered dict of name -> numpy array, safely.

| format | how it is read | key order |
|---|---|---|
| `.pth` / `.pt` | `torch.load(weights_only=True)`: a pickle naming code is refused, not run | state_dict order |
| `.npz` | `np.load(allow_pickle=False)` | `np.savez` argument order |
| `.npy` (a dict) | restricted unpickler, `purecaffe.manual.npy_dict` | dict order |
| `.safetensors` | parsed directly, `purecaffe.manual.safetensors_format` | none (stored sorted by name) |

The format is recognised from the file's first bytes, not its name.  A
checkpoint dict holding the state_dict under `state_dict`, `model` or
`model_state_dict` is unwrapped; a `module.` (DataParallel) or `_orig_mod.`
(torch.compile) prefix on every key is stripped.
"""
from __future__ import annotations

import logging
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from purecaffe.errors import FormatError
from purecaffe.manual.npy_dict import UnsafeCheckpointError, load_npy_dict
from purecaffe.manual.safetensors_format import load_safetensors

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")
REAL_KINDS = "biuf"  # numpy dtype kinds that convert to float32 exactly as numbers: bool, int, uint, float
STRIPPED_PREFIXES = ("module.", "_orig_mod.")


@dataclass(frozen=True)
class Checkpoint:
    """The tensors of a checkpoint, keys as the model names them."""

    path: str
    format: str                               # "torch", "npz", "npy", "safetensors"
    tensors: Mapping[str, np.ndarray] = field(repr=False)
    ordered: bool                             # key order is the model's registration order
    stripped_prefix: str = ""                 # "module." when DataParallel keys were unwrapped
    unwrapped_from: str = ""                  # "state_dict" when the tensors sat under that key
    skipped: tuple[str, ...] = ()             # non-tensor entries of the state dict (e.g. _extra_state)


def load_checkpoint(path: PathLike) -> Checkpoint:
    """Read a `.pth`/`.pt`, `.npz`, `.npy` (dict) or `.safetensors` checkpoint."""
    kind = sniff_format(path)
    unwrapped: str = ""
    skipped: tuple[str, ...] = ()
    if kind == "torch":
        tensors, unwrapped, skipped = _load_torch(path)
    elif kind == "npz":
        tensors = _load_npz(path)
    elif kind == "npy":
        tensors = load_npy_dict(path)
    else:
        tensors = load_safetensors(path)
    if not tensors:
        raise FormatError("holds no tensors", path=path)
    _require_real_numbers(tensors, path)
    tensors, stripped = strip_common_prefix(tensors)
    if stripped:
        log.info("%s: stripped the %r prefix of every key", path, stripped)
    return Checkpoint(path=str(path), format=kind, tensors=tensors, ordered=kind != "safetensors",
                      stripped_prefix=stripped, unwrapped_from=unwrapped, skipped=skipped)


def _require_real_numbers(tensors: Mapping[str, np.ndarray], path: PathLike) -> None:
    """Refuse strings, dates, complex numbers, ...: float32 conversion would fail or drop a part silently."""
    for key, array in tensors.items():
        if array.dtype.kind not in REAL_KINDS:
            raise FormatError(f"holds a {array.dtype} array, not real numbers", path=path, place=key)


def sniff_format(path: PathLike) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as error:
        raise FormatError(f"cannot read: {error.strerror}", path=path) from None
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except zipfile.BadZipFile as error:
            raise FormatError(f"a broken zip archive: {error}", path=path) from None
        if any(name.endswith("/data.pkl") or name == "data.pkl" for name in names):
            return "torch"
        if names and all(name.endswith(".npy") for name in names):
            return "npz"
        raise FormatError("a zip archive that is neither a PyTorch checkpoint nor an .npz", path=path)
    if len(head) > 8 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") > 1:
        return "safetensors"
    if head[:1] == b"\x80":
        return "torch"  # legacy (pre-1.6) torch.save pickle; torch.load reads it, still weights-only
    suffix = Path(path).suffix.lower()
    raise FormatError(f"not a checkpoint purecaffe reads{f' (a {suffix} file)' if suffix else ''}: "
                      f"expected .pth/.pt, .npz, .npy (a dict) or .safetensors", path=path, place="byte 0")


def _load_torch(path: PathLike) -> tuple[dict[str, np.ndarray], str, tuple[str, ...]]:
    import pickle

    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(_refusal(str(error)), path=path) from None
    except (RuntimeError, EOFError, ValueError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FormatError(f"torch.load failed: {first}", path=path) from None
    state, unwrapped = _find_state_dict(loaded, path)
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


def _find_state_dict(loaded: Any, path: PathLike) -> tuple[Mapping[str, Any], str]:
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

    if tensor.is_sparse or tensor.is_quantized or tensor.is_complex():
        raise FormatError("sparse, quantized or complex tensors are not supported", path=path, place=key)
    tensor = tensor.detach()
    if tensor.dtype in (torch.bfloat16, torch.float16):
        tensor = tensor.float()
    return tensor.contiguous().numpy()


def _load_npz(path: PathLike) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise UnsafeCheckpointError("refused: it holds pickled objects (only plain numeric arrays are "
                                        "accepted; pickled code is never executed)", path=path) from None
        raise FormatError(f"not a valid .npz: {error}", path=path) from None


def strip_common_prefix(tensors: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], str]:
    """Drop `module.` (or `_orig_mod.`) when every key has it."""
    for prefix in STRIPPED_PREFIXES:
        if tensors and all(key.startswith(prefix) for key in tensors):
            inner, more = strip_common_prefix({key[len(prefix):]: value for key, value in tensors.items()})
            return inner, prefix + more
    return dict(tensors), ""
