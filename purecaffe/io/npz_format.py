"""`.npz` checkpoints, read member by member without `np.load`.

`np.load` allocates each array at the size its header claims before reading
any data, so a damaged header claiming terabytes makes it fail with a
MemoryError (or allocate); its zip layer fails with `BadZipFile`, `OSError`,
`EOFError` or `NotImplementedError` on other damage.  Here every member's
header is parsed with `numpy.lib.format`, the claimed size is checked against
the size the zip directory records (which for stored members is bounded by the
file itself), and data is read in chunks into an array whose pages are only
touched as real bytes arrive.  Object arrays (pickles) are refused unread.
"""
from __future__ import annotations

import math
import tokenize
import os
import zipfile
import zlib
from typing import IO

import numpy as np
from numpy.lib import format as npy_format

from purecaffe.errors import FormatError, PurecaffeError, first_line
from purecaffe.io.npy_dict import UnsafeCheckpointError

PathLike = str | os.PathLike[str]

CHUNK_BYTES = 1 << 20
MAX_HEADER_BYTES = 1 << 20
DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data by more than this
# What the zip layer (zipfile, zlib; RuntimeError: "encrypted") and numpy's header parser raise on damage.
DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, ValueError, TypeError,
          RuntimeError, SyntaxError, OverflowError, NotImplementedError, UnicodeDecodeError, KeyError,
          RecursionError, tokenize.TokenError)


def load_npz(path: PathLike) -> dict[str, np.ndarray]:
    """name -> array for every `.npy` member, in archive order."""
    try:
        archive = zipfile.ZipFile(path)
    except DAMAGE as error:
        raise FormatError(f"not a valid .npz: {first_line(error)}", path=path) from None
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for info in archive.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            try:
                arrays[key] = _read_member(archive, info, path, key)
            except PurecaffeError:
                raise
            except DAMAGE as error:
                raise FormatError(f"not a valid .npz member: {type(error).__name__}: {first_line(error)}",
                                  path=path, place=key) from None
    return arrays


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: PathLike, key: str) -> np.ndarray:
    limit = info.file_size
    if info.compress_type == zipfile.ZIP_STORED:
        limit = min(limit, info.compress_size)
    else:
        limit = min(limit, info.compress_size * DEFLATE_MAX_RATIO)
    with archive.open(info) as member:
        version = npy_format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(member, max_header_size=MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(member, max_header_size=MAX_HEADER_BYTES)
        else:
            raise FormatError(f"unsupported .npy format version {version[0]}.{version[1]}", path=path, place=key)
        if dtype.hasobject:
            raise UnsafeCheckpointError("refused: it holds pickled objects (only plain numeric arrays are "
                                        "accepted; pickled code is never executed)", path=path)
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if nbytes > limit:
            raise FormatError(f"header claims a {dtype} array of shape {tuple(shape)} ({nbytes} bytes) but the "
                              f"member holds at most {limit} bytes", path=path, place=key)
        array = np.empty(count, dtype=dtype)
        _read_exactly(member, array.view(np.uint8) if nbytes else None, nbytes, path, key)
        if member.read(1):
            raise FormatError(f"member has bytes after its {nbytes} bytes of array data", path=path, place=key)
    if fortran:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)


def _read_exactly(member: IO[bytes], target: np.ndarray | None, nbytes: int, path: PathLike, key: str) -> None:
    done = 0
    while done < nbytes:
        chunk = member.read(min(CHUNK_BYTES, nbytes - done))
        if not chunk:
            raise FormatError(f"truncated: array data ends after {done} of {nbytes} bytes", path=path, place=key)
        assert target is not None
        target[done:done + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        done += len(chunk)
