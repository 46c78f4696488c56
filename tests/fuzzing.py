"""A seeded mutation fuzzer for every file reader: small seed files, byte-level mutations, a verdict per input.

Shared by `tests/io/test_fuzz_readers.py` (a few thousand inputs per reader in
CI) and `benchmarks/fuzz_readers.py` (100,000+ offline, with hang and memory
watch).  Input `i` of a reader is a pure function of (seed, reader, i), so any
crash is reproduced by `mutated_input(reader, seed, i)`.

Mutations (1 to 3 per input): bit flips, truncation, a length varint replaced by
one claiming terabytes, a fixed-width little-endian integer overwritten with a
huge value, a chunk duplicated, a chunk deleted, bytes set to boundary values.
"""
from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from purecaffe.errors import PurecaffeError

HUGE_VARINTS = (b"\xff\xff\xff\xff\xff\xff\x3f", b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",
                b"\xff\xff\xff\xff\x0f", b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")
HUGE_INTS = (2**40, 2**62, 2**63 - 1, 2**64 - 1, 2**31, 2**32 - 1)
BOUNDARY_BYTES = (0x00, 0xFF, 0x7F, 0x80, 0x01)


# --------------------------------------------------------------------------- seed files


def seed_net() -> str:
    return """name: "tiny"
input: "data"
input_shape { dim: 1 dim: 1 dim: 6 dim: 6 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  convolution_param { num_output: 2 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 3 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""


def seed_weights() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    return {"conv": [rng.standard_normal((2, 1, 3, 3)).astype(np.float32), np.zeros(2, np.float32)],
            "fc": [rng.standard_normal((3, 8)).astype(np.float32), np.ones(3, np.float32)]}


def seed_caffemodel_v2(folder: Path) -> bytes:
    from purecaffe.io.prototxt import parse_net_text
    from purecaffe.io.weights import save_weights

    path = folder / "seed_v2.caffemodel"
    save_weights(path, seed_weights(), net=parse_net_text(seed_net()))
    return path.read_bytes()


def seed_caffemodel_v1() -> bytes:
    """A V1 (`layers {}`, enum types, legacy num/channels/height/width blobs) caffemodel, as old Caffe wrote."""
    from purecaffe.schema import load_schema

    schema = load_schema()
    net = schema.NetParameter(name="tiny_v1")
    kinds = schema.V1LayerParameter.DESCRIPTOR.enum_types_by_name["LayerType"].values_by_name
    for name, kind, blobs in (("conv", "CONVOLUTION", seed_weights()["conv"]), ("relu", "RELU", []),
                              ("fc", "INNER_PRODUCT", seed_weights()["fc"])):
        layer = net.layers.add(name=name, type=kinds[kind].number, bottom=["data"], top=[name])
        for blob in blobs:
            dims = (1,) * (4 - blob.ndim) + blob.shape
            layer.blobs.add(num=dims[0], channels=dims[1], height=dims[2], width=dims[3],
                            data=blob.ravel().tolist())
    return net.SerializeToString()


def seed_binaryproto() -> bytes:
    from purecaffe.schema import load_schema

    blob = load_schema().BlobProto()
    blob.shape.dim.extend([1, 3, 2, 2])
    blob.data.extend(np.arange(12, dtype=np.float32).tolist())
    return blob.SerializeToString()


def seed_state() -> dict[str, np.ndarray]:
    weights = seed_weights()
    return {"conv.weight": weights["conv"][0], "conv.bias": weights["conv"][1],
            "fc.weight": weights["fc"][0], "fc.bias": weights["fc"][1]}


def seed_pth() -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save({k: torch.from_numpy(v) for k, v in seed_state().items()}, buffer)
    return buffer.getvalue()


def seed_npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **seed_state())
    return buffer.getvalue()


def seed_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, seed_state(), allow_pickle=True)
    return buffer.getvalue()


def seed_safetensors() -> bytes:
    import json

    header: dict[str, dict] = {}
    data = b""
    for key, array in seed_state().items():
        raw = array.astype("<f4").tobytes()
        header[key] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


# --------------------------------------------------------------------------- readers


def _read_caffemodel(path: Path) -> None:
    from purecaffe.io.weights import load_weights

    load_weights(path)


def _read_prototxt(path: Path) -> None:
    from purecaffe.io.prototxt import read_net

    read_net(path)


def _read_binaryproto(path: Path) -> None:
    from purecaffe.io.caffemodel import read_blob_proto

    read_blob_proto(path)


def _read_checkpoint(path: Path) -> None:
    from purecaffe.io.checkpoint import load_checkpoint

    load_checkpoint(path)


@dataclass(frozen=True)
class Reader:
    name: str
    suffix: str
    seed: Callable[[Path], bytes]
    read: Callable[[Path], None]


READERS: tuple[Reader, ...] = (
    Reader("caffemodel_v2", ".caffemodel", seed_caffemodel_v2, _read_caffemodel),
    Reader("caffemodel_v1", ".caffemodel", lambda folder: seed_caffemodel_v1(), _read_caffemodel),
    Reader("prototxt", ".prototxt", lambda folder: seed_net().encode(), _read_prototxt),
    Reader("binaryproto", ".binaryproto", lambda folder: seed_binaryproto(), _read_binaryproto),
    Reader("pth", ".pth", lambda folder: seed_pth(), _read_checkpoint),
    Reader("npz", ".npz", lambda folder: seed_npz(), _read_checkpoint),
    Reader("npy", ".npy", lambda folder: seed_npy(), _read_checkpoint),
    Reader("safetensors", ".safetensors", lambda folder: seed_safetensors(), _read_checkpoint),
)
BY_NAME = {reader.name: reader for reader in READERS}


# --------------------------------------------------------------------------- mutations


def _flip_bits(data: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(data))
        data[position] ^= 1 << rng.randrange(8)


def _truncate(data: bytearray, rng: random.Random) -> None:
    del data[rng.randrange(len(data)):]


def _inflate_varint(data: bytearray, rng: random.Random) -> None:
    """Replace the varint at a random position (often a length prefix) with one claiming terabytes."""
    start = rng.randrange(len(data))
    end = start
    while end < len(data) and data[end] & 0x80 and end - start < 10:
        end += 1
    data[start:end + 1] = rng.choice(HUGE_VARINTS)


def _inflate_int(data: bytearray, rng: random.Random) -> None:
    """Overwrite a fixed-width little-endian integer (safetensors, zip and npy lengths) with a huge value."""
    width = rng.choice((4, 8))
    start = rng.randrange(len(data))
    value = rng.choice(HUGE_INTS) & ((1 << (8 * width)) - 1)
    data[start:start + width] = value.to_bytes(width, "little")


def _duplicate_chunk(data: bytearray, rng: random.Random) -> None:
    start = rng.randrange(len(data))
    end = min(len(data), start + rng.randint(1, 64))
    at = rng.randrange(len(data) + 1)
    data[at:at] = data[start:end]


def _delete_chunk(data: bytearray, rng: random.Random) -> None:
    start = rng.randrange(len(data))
    del data[start:start + rng.randint(1, 16)]


def _boundary_bytes(data: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 3)):
        data[rng.randrange(len(data))] = rng.choice(BOUNDARY_BYTES)


MUTATIONS: tuple[Callable[[bytearray, random.Random], None], ...] = (
    _flip_bits, _truncate, _inflate_varint, _inflate_int, _duplicate_chunk, _delete_chunk, _boundary_bytes)


def mutate(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 3)):
        if not data:
            break
        rng.choice(MUTATIONS)(data, rng)
    return bytes(data)


def mutated_input(seed_bytes: bytes, reader: str, run_seed: int, index: int) -> bytes:
    return mutate(seed_bytes, random.Random(f"{run_seed}/{reader}/{index}"))


@dataclass(frozen=True)
class Verdict:
    """How one input went: 'parsed', 'refused' (a PurecaffeError) or 'crash' (anything else)."""

    index: int
    outcome: str
    detail: str = ""


def try_input(reader: Reader, path: Path, data: bytes, index: int) -> Verdict:
    path.write_bytes(data)
    try:
        reader.read(path)
    except PurecaffeError:
        return Verdict(index, "refused")
    except Exception as error:  # noqa: BLE001 - the point: anything else is a crash to report
        return Verdict(index, "crash", f"{type(error).__name__}: {error}"[:300])
    return Verdict(index, "parsed")
