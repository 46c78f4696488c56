"""Reading a dict of arrays saved with `np.save(path, {...})` without executing pickled code.

`np.save` of a dict writes a 0-d object array, whose payload is a pickle.
`np.load(allow_pickle=True)` would run whatever that pickle names; here a
restricted unpickler admits only what reconstructs numpy arrays and plain
dicts/strings, and refuses every other global (`posix.system`,
`builtins.eval`, a user class, ...) *before* anything is called.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
import tokenize
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from purecaffe.errors import FormatError, first_line

PathLike = str | os.PathLike[str]

# (module, name) pairs a pickled dict of arrays needs; numpy 1.x spells `numpy.core`, 2.x `numpy._core`.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("collections", "OrderedDict"),
    ("builtins", "dict"),
    ("builtins", "str"),
})


# What numpy's header parser and the unpickler raise on damaged bytes.  A pickle's
# counted-bytes opcode claiming terabytes fails as MemoryError before anything is allocated.
HEADER_DAMAGE = (ValueError, OSError, EOFError, SyntaxError, TypeError, OverflowError, UnicodeDecodeError,
                 RecursionError, MemoryError, tokenize.TokenError)
PICKLE_DAMAGE = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError,
                 UnicodeDecodeError, OverflowError, RecursionError, MemoryError, struct.error)


class UnsafeCheckpointError(FormatError):
    """A checkpoint's pickle names code to run; it is refused, never executed."""


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def __init__(self, handle: io.BytesIO, path: PathLike) -> None:
        super().__init__(handle)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafeCheckpointError(
            f"refused: its pickle asks for {module}.{name}; only numpy arrays in a dict are accepted "
            f"(pickled code is never executed)", path=self._path)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeCheckpointError("refused: its pickle uses persistent ids (not a dict of arrays)",
                                    path=self._path)


def load_npy_dict(path: PathLike) -> dict[str, np.ndarray]:
    """The dict of name -> array in an `.npy` written by `np.save(path, dict)`."""
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise FormatError(f"cannot read: {error.strerror}", path=path) from None
    with handle:
        try:
            version = npy_format.read_magic(handle)
            read_header = (npy_format.read_array_header_1_0 if version == (1, 0)
                           else npy_format.read_array_header_2_0)
            shape, _fortran, dtype = read_header(handle, max_header_size=1 << 20)
        except HEADER_DAMAGE as error:
            raise FormatError(f"not a valid .npy file: {first_line(error)}", path=path) from None
        if dtype != np.dtype(object):
            raise FormatError(f"holds one {dtype} array of shape {tuple(shape)}, not a dict of name -> array "
                              f"(save a dict with np.save or np.savez)", path=path)
        payload = handle.read()  # the file's own bytes: a length inside the pickle cannot make this grow
    try:
        loaded = _ArraysOnlyUnpickler(io.BytesIO(payload), path).load()
    except UnsafeCheckpointError:
        raise
    except PICKLE_DAMAGE as error:
        raise FormatError(f"its pickle does not hold a dict of arrays: {type(error).__name__}: "
                          f"{first_line(error)}", path=path) from None
    finally:
        del payload
    value = loaded.item() if isinstance(loaded, np.ndarray) and loaded.dtype == object and loaded.ndim == 0 \
        else loaded
    if not isinstance(value, dict):
        raise FormatError(f"holds a {type(value).__name__}, not a dict of name -> array", path=path)
    arrays: dict[str, np.ndarray] = {}
    for key, array in value.items():
        if not isinstance(key, str):
            raise FormatError(f"dict key {key!r} is not a string", path=path)
        if not isinstance(array, np.ndarray) or array.dtype == object:
            raise FormatError(f"value is a {type(array).__name__}"
                              f"{' of objects' if isinstance(array, np.ndarray) else ''}, not a numeric array",
                              path=path, place=key)
        arrays[key] = array
    return arrays
