"""A reader for the `.safetensors` format, parsed directly (no dependency).

The format is: an 8-byte little-endian header length N, N bytes of JSON
(`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`),
then the raw little-endian tensor bytes, offsets relative to the end of the
header.  It holds no code, so reading it is safe by construction; every offset
and size is checked against the file before it is used.
"""
from __future__ import annotations

import json
import math
import os
from typing import BinaryIO

import numpy as np

from purecaffe.errors import FormatError

PathLike = str | os.PathLike[str]

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the reference implementation's limit

DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
    "BF16": np.dtype("<u2"),  # read as raw 16-bit words, widened to float32 below
}


def load_safetensors(path: PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a `.safetensors` file as a numpy array (BF16 widened to float32), in data order."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < 8:
                raise FormatError("too short for a safetensors file (no 8-byte header length)", path=path)
            header_length = int.from_bytes(handle.read(8), "little")
            if header_length > MAX_HEADER_BYTES or 8 + header_length > size:
                raise FormatError(f"safetensors header length {header_length} does not fit the file "
                                  f"({size} bytes)", path=path, place="byte 0")
            header = _header(handle.read(header_length), path)
            return _tensors(handle, header, 8 + header_length, size, path)
    except OSError as error:
        raise FormatError(f"cannot read: {error.strerror}", path=path) from None


def _header(raw: bytes, path: PathLike) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(f"safetensors header is not JSON: {error}", path=path, place="byte 8") from None
    if not isinstance(header, dict):
        raise FormatError("safetensors header is not a JSON object", path=path, place="byte 8")
    return header


def _tensors(handle: BinaryIO, header: dict, start: int, size: int, path: PathLike) -> dict[str, np.ndarray]:
    entries = [(name, info) for name, info in header.items() if name != "__metadata__"]
    entries.sort(key=lambda item: _offsets(item[1], item[0], path)[0])
    tensors: dict[str, np.ndarray] = {}
    for name, info in entries:
        dtype_name = info.get("dtype")
        if dtype_name not in DTYPES:
            raise FormatError(f"unsupported safetensors dtype {dtype_name!r}", path=path, place=name)
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise FormatError(f"bad shape {shape!r}", path=path, place=name)
        begin, end = _offsets(info, name, path)
        dtype = DTYPES[dtype_name]
        if end - begin != math.prod(shape) * dtype.itemsize or start + end > size:
            raise FormatError(f"data_offsets [{begin}, {end}] do not fit a {dtype_name} tensor of shape "
                              f"{tuple(shape)} in a file of {size} bytes", path=path, place=name)
        handle.seek(start + begin)
        array = np.frombuffer(handle.read(end - begin), dtype=dtype).reshape(shape)
        if dtype_name == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = array.copy() if not array.flags.writeable else array
    return tensors


def _offsets(info: object, name: str, path: PathLike) -> tuple[int, int]:
    offsets = info.get("data_offsets") if isinstance(info, dict) else None
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise FormatError(f"bad data_offsets {offsets!r}", path=path, place=name)
    return offsets[0], offsets[1]
