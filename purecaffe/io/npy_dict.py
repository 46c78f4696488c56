"""Reading a dict of arrays saved with `np.save(path, {...})` without executing pickled code.

`np.save` of a dict writes a 0-d object array, whose payload is a pickle.
`np.load(allow_pickle=True)` would run whatever that pickle names; here a
restricted unpickler admits only what reconstructs numpy arrays and plain
dicts/strings, and refuses every other global (`posix.system`,
`builtins.eval`, a user class, ...) *before* anything is called.

It is pickle's pure-Python unpickler, so that the arguments of `numpy.dtype`,
`_frombuffer` and every BUILD (`__setstate__`) of a dtype or an array are checked
before numpy sees them: crafted dtype arguments reach numpy bugs (measured with
mutation fuzzing: `align=(0,)` left numpy's error state set, and later calls
failed with `SystemError` / `RuntimeError: get_clear_loop not set`).
"""
from __future__ import annotations

import io
import math
import os
import pickle
import re
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


# The dtypes a state dict's arrays may have: bool, integers, floats, complex, in any byte order; and
# O8 for the 0-d object array that holds the dict itself.
_SIMPLE_DTYPE = re.compile(r"[<>|=]?(b1|[iu][1248]|f[248]|c(8|16)|O8)")


def _refuse(path: PathLike, what: str) -> FormatError:
    return FormatError(f"its pickle does not hold a dict of numeric arrays: {what}", path=path)


class _ArraysOnlyUnpickler(pickle._Unpickler):  # noqa: SLF001 - the pure-Python one lets BUILD be checked
    dispatch = dict(pickle._Unpickler.dispatch)  # noqa: SLF001

    def __init__(self, handle: io.BytesIO, path: PathLike) -> None:
        super().__init__(handle)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafeCheckpointError(
                f"refused: its pickle asks for {module}.{name}; only numpy arrays in a dict are accepted "
                f"(pickled code is never executed)", path=self._path)
        if (module, name) == ("numpy", "dtype"):
            return self._dtype
        if name == "_frombuffer":
            return self._frombuffer
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeCheckpointError("refused: its pickle uses persistent ids (not a dict of arrays)",
                                    path=self._path)

    def _dtype(self, obj: Any, align: Any = False, copy: Any = False) -> np.dtype:
        if not (isinstance(obj, str) and _SIMPLE_DTYPE.fullmatch(obj)) or type(align) is not bool or \
                type(copy) is not bool:
            raise _refuse(self._path, f"dtype({obj!r:.40}, {align!r:.20}, {copy!r:.20})")
        return np.dtype(obj)

    def _frombuffer(self, buffer: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
        if not isinstance(dtype, np.dtype) or not _valid_shape(shape) or order not in ("C", "F") or \
                not isinstance(buffer, (bytes, bytearray, memoryview)) or \
                len(buffer) != math.prod(shape) * dtype.itemsize:
            raise _refuse(self._path, "an array whose buffer, dtype or shape do not agree")
        return np.frombuffer(bytes(buffer), dtype=dtype).reshape(shape, order=order)

    def _load_build(self) -> None:
        state, target = self.stack[-1], self.stack[-2]
        if isinstance(target, np.dtype):
            ok = (isinstance(state, tuple) and len(state) == 8 and state[0] == 3 and state[1] in ("<", ">", "|", "=")
                  and state[2:5] == (None, None, None) and state[5:7] == (-1, -1) and type(state[7]) is int
                  and 0 <= state[7] < 256)
            if not ok:
                raise _refuse(self._path, f"a dtype state {state!r:.60}")
        elif isinstance(target, np.ndarray):
            ok = (isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and _valid_shape(state[1])
                  and isinstance(state[2], np.dtype) and state[2].kind in "biufcO" and type(state[3]) is bool)
            if ok and state[2].kind == "O":  # the object array holding the dict: its items, already built
                ok = isinstance(state[4], list) and len(state[4]) == math.prod(state[1])
            elif ok:
                ok = isinstance(state[4], (bytes, bytearray)) and \
                    len(state[4]) == math.prod(state[1]) * state[2].itemsize
            if not ok:
                raise _refuse(self._path, "an array state whose shape, dtype and data do not agree")
        else:
            raise _refuse(self._path, f"a {type(target).__name__} with a state")
        pickle._Unpickler.load_build(self)  # noqa: SLF001

    dispatch[pickle.BUILD[0]] = _load_build


def _valid_shape(shape: Any) -> bool:
    return isinstance(shape, tuple) and len(shape) <= 32 and all(type(d) is int and 0 <= d < 1 << 40 for d in shape)


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
