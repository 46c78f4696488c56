"""Binary caffemodel reading (V1 and V2) and streaming writing.

Reading walks the file with `purecaffe.io.wire`, takes from each layer only
what every Caffe fork numbers the same (name, type, bottom, top, blobs) and
reads float data straight into float32 numpy arrays (no Python lists, no
second copy of the file in memory).

Writing never builds the whole NetParameter: each layer's header (name, type,
bottom, top) and each blob's shape are serialized by protobuf, the float data
is written as raw packed little-endian bytes behind them.  Fork-specific
parameter fields never reach the binary, because every consumer copies weights
into the deploy net by layer name.
"""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from purecaffe.errors import FormatError, ModelTooLargeError
from purecaffe.io import wire
from purecaffe.io.atomic import atomic_write
from purecaffe.io.upgrade import v1_type_name
from purecaffe.schema import CaffeSchema, load_schema

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

# Caffe reads binary protos through CodedInputStream with a total limit of INT_MAX bytes.
CAFFE_MAX_PROTO_BYTES = 2**31 - 1

# NetParameter / LayerParameter / V1LayerParameter / BlobProto field numbers.
NET_NAME, NET_V1_LAYERS, NET_LAYER = 1, 2, 100
LAYER_NAME, LAYER_TYPE, LAYER_BOTTOM, LAYER_TOP, LAYER_BLOBS = 1, 2, 3, 4, 7
V1_V0_LAYER, V1_BOTTOM, V1_TOP, V1_NAME, V1_TYPE, V1_BLOBS = 1, 2, 3, 4, 5, 6
BLOB_NUM, BLOB_CHANNELS, BLOB_HEIGHT, BLOB_WIDTH = 1, 2, 3, 4
BLOB_DATA, BLOB_DIFF, BLOB_SHAPE, BLOB_DOUBLE_DATA, BLOB_DOUBLE_DIFF = 5, 6, 7, 8, 9
SHAPE_DIM = 1
NET_FIELD_NUMBERS = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 100})

_FOREIGN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive (a PyTorch .pth/.pt checkpoint or an .npz?)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89HDF", "an HDF5 file (Caffe's .caffemodel.h5 format is not supported; save as binary proto)"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\x93NUMPY", "a numpy .npy file"),
    (b"\x80\x02", "a Python pickle"),
    (b"\x80\x03", "a Python pickle"),
    (b"\x80\x04", "a Python pickle"),
    (b"\x80\x05", "a Python pickle"),
    (b"ONNX", "an ONNX file"),
)


@dataclass(frozen=True)
class WeightLayer:
    """One layer's parameters as a caffemodel stores them."""

    name: str
    type: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    blobs: tuple[np.ndarray, ...]
    legacy_shapes: tuple[bool, ...] = ()  # per blob: shape came from num/channels/height/width


@dataclass(frozen=True)
class CaffeModel:
    """What a caffemodel holds: the net name, its format and every layer (with or without blobs)."""

    name: str
    format: str  # "V1" or "V2"
    layers: tuple[WeightLayer, ...]


def owned_blob_shape(layer_type: str, index: int, legacy_dims: Sequence[int]) -> tuple[int, ...]:
    """The shape Caffe's layer allocates for a blob stored with legacy 4-D dims.

    V1 files only have num/channels/height/width: an InnerProduct weight reads
    1x1xNxK and every bias 1x1x1xN, while the layers own NxK and N.  Caffe accepts
    them because element counts match; we return the owned shapes.
    """
    num, channels, height, width = legacy_dims
    if layer_type in ("Convolution", "Deconvolution") and index == 0:
        return (num, channels, height, width)
    if layer_type == "InnerProduct" and index == 0 and num == 1 and channels == 1:
        return (height, width)
    if num == 1 and channels == 1 and height == 1:
        return (width,)
    return (num, channels, height, width)


def read_caffemodel(path: PathLike, *, schema: CaffeSchema | None = None) -> CaffeModel:
    """Read a binary caffemodel (V1 or V2)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        handle = open(path, "rb", buffering=1 << 16)
    except OSError as error:
        raise FormatError(f"cannot read: {error.strerror}", path=path) from None
    with handle:
        head = handle.read(16)
        _reject_foreign(head, size, path)
        handle.seek(0)
        try:
            return _read_net(handle, size, schema or load_schema(), path)
        except wire.WireError as error:
            problem = "truncated" if error.truncated else "not a caffemodel"
            raise FormatError(f"{problem}: {error}", path=path, place=f"byte {error.offset}") from None


def _reject_foreign(head: bytes, size: int, path: Path) -> None:
    if size == 0:
        raise FormatError("empty file, not a caffemodel", path=path)
    for magic, what in _FOREIGN_MAGIC:
        if head.startswith(magic):
            raise FormatError(f"not a caffemodel: this is {what}", path=path, place="byte 0")
    stripped = head.lstrip()
    if stripped[:5] in (b"name:", b"layer", b"input") or stripped[:1] == b"#":
        raise FormatError("not a caffemodel: this looks like a text prototxt", path=path, place="byte 0")


def _read_net(handle: BinaryIO, size: int, schema: CaffeSchema, path: Path) -> CaffeModel:
    fields = wire.FileFields(handle, 0, size)
    name = ""
    layers: list[WeightLayer] = []
    seen_v1 = seen_v2 = False
    foreign_fields = 0
    while (field := fields.next_field()) is not None:
        number, wire_type, offset = field
        if number not in NET_FIELD_NUMBERS:
            foreign_fields += 1
        if number == NET_NAME and wire_type == wire.LEN:
            name = _read_string(fields)
        elif number == NET_LAYER and wire_type == wire.LEN:
            seen_v2 = True
            layers.append(_read_layer(fields, schema, v1=False, path=path, offset=offset))
        elif number == NET_V1_LAYERS and wire_type == wire.LEN:
            seen_v1 = True
            layers.append(_read_layer(fields, schema, v1=True, path=path, offset=offset))
        else:
            fields.skip(wire_type)
    if not layers and (foreign_fields or not name):
        # A net with no layers is valid only as a net: named, and nothing NetParameter lacks.
        raise FormatError("no layers found: not a caffemodel", path=path)
    if seen_v1 and seen_v2:
        raise FormatError("has both V1 'layers' and V2 'layer' entries", path=path)
    return CaffeModel(name=name, format="V1" if seen_v1 else "V2", layers=tuple(layers))


def _read_string(fields: wire.FileFields) -> str:
    raw = fields.read_bytes(fields.read_length())
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise wire.WireError("string field is not UTF-8", fields.pos - len(raw)) from None


def _read_layer(fields: wire.FileFields, schema: CaffeSchema, *, v1: bool, path: Path, offset: int) -> WeightLayer:
    inner = fields.message()
    name_no, type_no, bottom_no, top_no, blobs_no = (
        (V1_NAME, V1_TYPE, V1_BOTTOM, V1_TOP, V1_BLOBS) if v1
        else (LAYER_NAME, LAYER_TYPE, LAYER_BOTTOM, LAYER_TOP, LAYER_BLOBS))
    name, layer_type = "", ""
    bottoms: list[str] = []
    tops: list[str] = []
    raw_blobs: list[tuple[np.ndarray, tuple[int, ...] | None, tuple[int, int, int, int]]] = []
    while (field := inner.next_field()) is not None:
        number, wire_type, _ = field
        if number == name_no and wire_type == wire.LEN:
            name = _read_string(inner)
        elif number == type_no and v1 and wire_type == wire.VARINT:
            enum = schema.V1LayerParameter.DESCRIPTOR.enum_types_by_name["LayerType"]
            value = inner.read_varint()
            if value not in enum.values_by_number:
                raise FormatError(f"unknown V1 layer type number {value}", path=path, place=f"byte {offset}")
            layer_type = v1_type_name(enum.values_by_number[value].name)
        elif number == type_no and not v1 and wire_type == wire.LEN:
            layer_type = _read_string(inner)
        elif number == bottom_no and wire_type == wire.LEN:
            bottoms.append(_read_string(inner))
        elif number == top_no and wire_type == wire.LEN:
            tops.append(_read_string(inner))
        elif number == blobs_no and wire_type == wire.LEN:
            raw_blobs.append(_read_blob(inner))
        elif v1 and number == V1_V0_LAYER and wire_type == wire.LEN:
            raise FormatError("V0 layer definitions are not supported; upgrade the file with Caffe's "
                              "upgrade_net_proto_binary first", path=path, place=f"byte {offset}")
        else:
            inner.skip(wire_type)
    fields.finish(inner)
    blobs: list[np.ndarray] = []
    legacy: list[bool] = []
    for index, (data, shape, legacy_dims) in enumerate(raw_blobs):
        if shape is None:
            shape = owned_blob_shape(layer_type, index, legacy_dims)
        expected = math.prod(shape)
        if data.size != expected:
            raise FormatError(f"layer '{name}' blob {index} has {data.size} values but shape "
                              f"{'x'.join(map(str, shape))} needs {expected}", path=path, place=f"byte {offset}")
        blobs.append(data.reshape(shape))
        legacy.append(raw_blobs[index][1] is None)
    return WeightLayer(name=name, type=layer_type, bottoms=tuple(bottoms), tops=tuple(tops),
                       blobs=tuple(blobs), legacy_shapes=tuple(legacy))


BlobRecord = tuple[np.ndarray, "tuple[int, ...] | None", tuple[int, int, int, int]]


def _read_blob(fields: wire.FileFields) -> BlobRecord:
    """Read an embedded BlobProto: (float32 data, shape or None if legacy-only, legacy n/c/h/w)."""
    inner = fields.message()
    record = _read_blob_fields(inner)
    fields.finish(inner)
    return record


def _read_blob_fields(inner: wire.FileFields) -> BlobRecord:
    legacy = [0, 0, 0, 0]
    has_legacy = False
    shape: tuple[int, ...] | None = None
    chunks: list[np.ndarray] = []
    while (field := inner.next_field()) is not None:
        number, wire_type, _ = field
        if number == BLOB_DATA and wire_type == wire.LEN:
            count, rest = divmod(inner.read_length(), 4)
            if rest:
                raise wire.WireError("packed float data length is not a multiple of 4", inner.pos)
            array = np.empty(count, dtype="<f4")
            inner.read_into(memoryview(array).cast("B"))
            chunks.append(array)
        elif number == BLOB_DATA and wire_type == wire.FIXED32:
            chunks.append(np.frombuffer(inner.read_bytes(4), dtype="<f4").copy())
        elif number == BLOB_DOUBLE_DATA and wire_type == wire.LEN:
            count, rest = divmod(inner.read_length(), 8)
            if rest:
                raise wire.WireError("packed double data length is not a multiple of 8", inner.pos)
            chunks.append(_doubles_to_float32(inner.read_bytes(count * 8)))
        elif number == BLOB_DOUBLE_DATA and wire_type == wire.FIXED64:
            chunks.append(_doubles_to_float32(inner.read_bytes(8)))
        elif number == BLOB_SHAPE and wire_type == wire.LEN:
            shape = _read_shape(inner)
        elif number in (BLOB_NUM, BLOB_CHANNELS, BLOB_HEIGHT, BLOB_WIDTH) and wire_type == wire.VARINT:
            legacy[number - 1] = inner.read_varint()
            has_legacy = True
        else:
            inner.skip(wire_type)
    if len(chunks) == 1:
        data = chunks[0]
    elif chunks:
        data = np.concatenate(chunks)
    else:
        data = np.empty(0, dtype="<f4")
    if shape is None and not has_legacy:
        shape = (data.size,)
    return data.astype(np.float32, copy=False), shape, (legacy[0], legacy[1], legacy[2], legacy[3])


def _doubles_to_float32(raw: bytes) -> np.ndarray:
    """double_data as float32, as Caffe's Blob<float>::FromProto casts it (beyond float range: +-inf)."""
    with np.errstate(over="ignore"):
        return np.frombuffer(raw, dtype="<f8").astype(np.float32)


def _read_shape(fields: wire.FileFields) -> tuple[int, ...]:
    inner = fields.message()
    dims: list[int] = []
    while (field := inner.next_field()) is not None:
        number, wire_type, _ = field
        if number == SHAPE_DIM and wire_type == wire.VARINT:
            dims.append(inner.read_varint())
        elif number == SHAPE_DIM and wire_type == wire.LEN:
            packed = inner.read_bytes(inner.read_length())
            pos = 0
            while pos < len(packed):
                value, pos = wire.decode_varint(packed, pos)
                dims.append(value)
        else:
            inner.skip(wire_type)
    fields.finish(inner)
    return tuple(dims)


# --------------------------------------------------------------------------- writing


def _layer_header(schema: CaffeSchema, layer: WeightLayer) -> bytes:
    message = schema.LayerParameter(name=layer.name, type=layer.type, bottom=list(layer.bottoms),
                                    top=list(layer.tops))
    return message.SerializeToString()


def _blob_parts(schema: CaffeSchema, blob: np.ndarray) -> tuple[bytes, np.ndarray]:
    """(serialized BlobProto prefix with shape and data header, contiguous float32 data)."""
    # np.require, not np.ascontiguousarray: the latter turns a 0-D blob (Caffe's
    # shared PReLU slope, a scalar Scale) into shape (1,), disagreeing with _layer_size.
    data = np.require(blob, dtype="<f4", requirements="C")
    shape = schema.BlobShape(dim=[int(d) for d in data.shape])
    shape_bytes = shape.SerializeToString()
    prefix = wire.len_field_header(BLOB_SHAPE, len(shape_bytes)) + shape_bytes
    prefix += wire.len_field_header(BLOB_DATA, data.nbytes)
    return prefix, data


def caffemodel_size(layers: Sequence[WeightLayer], name: str = "") -> int:
    """Bytes the caffemodel of `layers` takes, computed without serializing any data."""
    return _total_size([_layer_size(load_schema(), layer) for layer in layers], name)


def _total_size(layer_sizes: Sequence[int], name: str) -> int:
    total = wire.len_field_size(NET_NAME, len(name.encode("utf-8"))) if name else 0
    return total + sum(wire.len_field_size(NET_LAYER, size) for size in layer_sizes)


def _layer_size(schema: CaffeSchema, layer: WeightLayer) -> int:
    size = len(_layer_header(schema, layer))
    for blob in layer.blobs:
        shape_len = len(schema.BlobShape(dim=[int(d) for d in blob.shape]).SerializeToString())
        blob_len = wire.len_field_size(BLOB_SHAPE, shape_len) + wire.len_field_size(BLOB_DATA, 4 * int(blob.size))
        size += wire.len_field_size(LAYER_BLOBS, blob_len)
    return size


def write_caffemodel(path: PathLike, layers: Iterable[WeightLayer], *, name: str = "") -> int:
    """Write a V2 caffemodel atomically, streaming float data; returns the byte count.

    Refuses (before writing anything) a model over Caffe's 2 GB read limit.
    """
    layers = list(layers)
    schema = load_schema()
    sizes = [_layer_size(schema, layer) for layer in layers]
    total = _total_size(sizes, name)
    if total > CAFFE_MAX_PROTO_BYTES:
        raise ModelTooLargeError(f"the caffemodel would be {total / 2**30:.2f} GiB; Caffe cannot read binary "
                                 f"protos over 2 GiB ({CAFFE_MAX_PROTO_BYTES} bytes)", path=path)
    with atomic_write(path, "wb") as handle:
        if name:
            encoded = name.encode("utf-8")
            handle.write(wire.len_field_header(NET_NAME, len(encoded)) + encoded)
        for layer, size in zip(layers, sizes):
            handle.write(wire.len_field_header(NET_LAYER, size))
            handle.write(_layer_header(schema, layer))
            for blob in layer.blobs:
                prefix, data = _blob_parts(schema, blob)
                blob_len = len(prefix) + data.nbytes
                handle.write(wire.len_field_header(LAYER_BLOBS, blob_len))
                handle.write(prefix)
                handle.write(memoryview(data).cast("B"))
    log.debug("wrote %s (%d bytes, %d layers)", path, total, len(layers))
    return total


def read_blob_proto(path: PathLike) -> np.ndarray:
    """Read a `.binaryproto` (a single BlobProto, e.g. a mean file) as float32 (legacy dims kept 4-D)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        handle = open(path, "rb")
    except OSError as error:
        raise FormatError(f"cannot read: {error.strerror}", path=path) from None
    with handle:
        _reject_foreign(handle.read(16), size, path)
        handle.seek(0)
        try:
            data, shape, legacy = _read_blob_fields(wire.FileFields(handle, 0, size))
        except wire.WireError as error:
            problem = "truncated" if error.truncated else "not a binaryproto"
            raise FormatError(f"{problem}: {error}", path=path, place=f"byte {error.offset}") from None
    shape = shape if shape is not None else legacy
    if data.size != math.prod(shape):
        raise FormatError(f"blob has {data.size} values but shape {shape}", path=path)
    return data.reshape(shape)

