"""The one checkpoint reader: a PyTorch-side checkpoint -> an ordered dict of name -> numpy array, safely.

Used by `purecaffe fill` (`purecaffe.manual`) and `purecaffe convert/verify --weights`
(`purecaffe.converter.model_spec`).

| format | how it is read | key order |
|---|---|---|
| `.pth` / `.pt` | `torch.load(weights_only=True)`: a pickle naming code is refused, not run | state_dict order |
| `.npz` | streamed member by member, `purecaffe.io.npz_format` (no pickles) | `np.savez` argument order |
| `.npy` (a dict) | restricted unpickler, `purecaffe.io.npy_dict` | dict order |
| `.safetensors` | parsed directly, `purecaffe.io.safetensors_format` | none (stored sorted by name) |

The format is recognised from the file's first bytes, not its name.  A
checkpoint dict holding the state_dict under `state_dict`, `model` or
`model_state_dict` is unwrapped; a `module.` (DataParallel) or `_orig_mod.`
(torch.compile) prefix on every key is stripped, also both nested.

Any file that cannot be read, whatever the reason, is a one-line `FormatError`
(`UnsafeCheckpointError` when its pickle names code) naming the file and, where
known, the key.  Every size a file claims is checked against the file before
memory is allocated for it.
"""
from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from purecaffe.errors import FormatError, PurecaffeError, first_line
from purecaffe.io.npy_dict import UnsafeCheckpointError, load_npy_dict
from purecaffe.io.npz_format import load_npz
from purecaffe.io.safetensors_format import load_safetensors
from purecaffe.io.torch_checkpoint import load_torch

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

REAL_KINDS = "biuf"  # numpy dtype kinds that convert to float32 exactly as numbers: bool, int, uint, float
STRIPPED_PREFIXES = ("module.", "_orig_mod.")
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError,
              RuntimeError)


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
    """Read a `.pth`/`.pt`, `.npz`, `.npy` (dict) or `.safetensors` checkpoint.

    Any failure to read is a one-line FormatError naming the file: the format readers name what
    they recognise, and whatever else a corrupt file makes a library raise (measured: numpy's
    `RuntimeError: Internal error, get_clear_loop not set` on a mutated pickled array) is caught
    here.  MemoryError and interrupts pass through.
    """
    try:
        return _load_checkpoint(path)
    except (PurecaffeError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as error:  # noqa: BLE001 - a corrupt file can make numpy/torch raise anything
        raise FormatError(f"not a readable checkpoint: {type(error).__name__}: {first_line(error)}",
                          path=path) from None


def _load_checkpoint(path: PathLike) -> Checkpoint:
    kind = sniff_format(path)
    unwrapped: str = ""
    skipped: tuple[str, ...] = ()
    if kind == "torch":
        tensors, unwrapped, skipped = load_torch(path)
    elif kind == "npz":
        tensors = load_npz(path)
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
    """"torch", "npz", "npy" or "safetensors", from the first bytes (and a zip's member names)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError as error:
        raise FormatError(f"cannot read: {error.strerror or error}", path=path) from None
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except ZIP_ERRORS as error:
            raise FormatError(f"a broken zip archive: {first_line(error)}", path=path) from None
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


def strip_common_prefix(tensors: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], str]:
    """Drop `module.` (or `_orig_mod.`, or both nested) when every key has it."""
    for prefix in STRIPPED_PREFIXES:
        if tensors and all(key.startswith(prefix) for key in tensors):
            inner, more = strip_common_prefix({key[len(prefix):]: value for key, value in tensors.items()})
            return inner, prefix + more
    return dict(tensors), ""


__all__ = ["Checkpoint", "UnsafeCheckpointError", "load_checkpoint", "sniff_format", "strip_common_prefix"]
