"""A length field that claims terabytes never makes a reader allocate it.

Each file below holds 4 MB of real data and one size field inflated to 2**40 or
more.  They are read in a fresh process (after one warm-up read of a valid file
of every format, so imports and caches are done); after each read the
process's peak RSS may have grown by at most 2x the file plus 8 MB (the Python
and numpy allocators' slack).  Every file must also be refused with a
PurecaffeError naming it.
"""
from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from fuzzing import BY_NAME

N = 1_000_000  # float32 values: 4 MB of real data in every file
TERA = 2**40
SLACK_BYTES = 8 * 2**20


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def caffemodel_layer_claim() -> bytes:
    """NetParameter.layer (field 100) whose length claims 1 TiB, followed by 4 MB."""
    return varint(100 << 3 | 2) + varint(TERA) + b"\x00" * (4 * N)


def caffemodel_blob_claim() -> bytes:
    """A layer whose blob's packed data claims 1 TiB inside a message of 4 MB."""
    blob = b"\x2a" + varint(TERA) + b"\x00" * (4 * N)
    layer = b"\x0a\x01c" + b"\x3a" + varint(len(blob)) + blob
    return varint(100 << 3 | 2) + varint(len(layer)) + layer


def binaryproto_claim() -> bytes:
    return b"\x2a" + varint(TERA) + b"\x00" * (4 * N)


def torch_zip(data_pkl: bytes, source: bytes) -> bytes:
    """`source` (a torch.save zip) with data.pkl replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(source)) as old, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as new:
        for info in old.infolist():
            new.writestr(info.filename, data_pkl if info.filename.endswith("data.pkl") else old.read(info))
    return out.getvalue()


def pth_claim(claim: int = TERA) -> bytes:
    """The tensor's size and its storage's element count both claim `claim` (BININT 1000000 -> LONG1)."""
    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(N)}, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        pickle_name = next(name for name in archive.namelist() if name.endswith("data.pkl"))
        pickled = archive.read(pickle_name)
    long1 = b"\x8a\x06" + claim.to_bytes(6, "little")
    inflated = pickled.replace(b"J" + struct.pack("<i", N), long1)
    assert inflated.count(long1) == 2
    return torch_zip(inflated, buffer.getvalue())


def npz_claim(claim: int = TERA) -> bytes:
    """An .npz whose member header claims `claim` float32 values (the header keeps its length)."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(N, np.float32))
    member = buffer.getvalue()
    header_end = member.index(b"\n") + 1
    header = member[10:header_end].decode("latin1")
    claimed = header.replace(f"({N},)", f"({claim},)").rstrip()
    claimed = claimed + " " * (len(header) - 1 - len(claimed)) + "\n"
    assert len(claimed) == len(header)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("w.npy", member[:10] + claimed.encode("latin1") + member[header_end:])
    return out.getvalue()


def npy_frame_claim() -> bytes:
    """np.save of a dict: a pickle (protocol 4) whose FRAME and BINBYTES lengths claim terabytes / 4 GiB."""
    buffer = io.BytesIO()
    np.save(buffer, {"w": np.zeros(N, np.float32)}, allow_pickle=True)
    data = bytearray(buffer.getvalue())
    frame = data.index(b"\x95", data.index(b"\n") + 1)
    data[frame + 1:frame + 9] = TERA.to_bytes(8, "little")
    binbytes = data.index(b"B" + struct.pack("<I", 4 * N))
    data[binbytes + 1:binbytes + 5] = b"\xff\xff\xff\xff"
    return bytes(data)


def safetensors_header_claim() -> bytes:
    return struct.pack("<Q", TERA) + b'{"w": {}}' + b"\x00" * (4 * N)


def safetensors_offsets_claim() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [TERA // 4], "data_offsets": [0, TERA]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\x00" * (4 * N)


CLAIMS = {
    "caffemodel_layer.caffemodel": ("caffemodel_v2", caffemodel_layer_claim),
    "caffemodel_blob.caffemodel": ("caffemodel_v2", caffemodel_blob_claim),
    "claim.binaryproto": ("binaryproto", binaryproto_claim),
    "claim.pth": ("pth", pth_claim),
    "claim.npz": ("npz", npz_claim),
    "claim.npy": ("npy", npy_frame_claim),
    "header.safetensors": ("safetensors", safetensors_header_claim),
    "offsets.safetensors": ("safetensors", safetensors_offsets_claim),
}

CHILD = r"""
import json, resource, sys, warnings
from collections.abc import Callable
from pathlib import Path
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore")
import fuzzing
from purecaffe.errors import PurecaffeError

folder = Path(sys.argv[2])
for reader in fuzzing.READERS:  # warm-up: imports, schema, caches
    path = folder / f"warm{reader.suffix}"
    path.write_bytes(reader.seed(folder))
    reader.read(path)
for name, reader_name in json.loads(sys.argv[3]):
    path = folder / name
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        fuzzing.BY_NAME[reader_name].read(path)
        outcome = "parsed"
    except PurecaffeError as error:
        outcome = str(error)
    except BaseException as error:
        outcome = f"CRASH {type(error).__name__}: {error}"
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"name": name, "grew": after - before, "size": path.stat().st_size, "outcome": outcome}))
"""


def test_terabyte_length_claims_are_refused_without_allocating(tmp_path: Path) -> None:
    for name, (_, make) in CLAIMS.items():
        (tmp_path / name).write_bytes(make())
    tests_dir = str(Path(__file__).resolve().parent.parent)
    order = [(name, reader) for name, (reader, _) in CLAIMS.items()]
    done = subprocess.run([sys.executable, "-c", CHILD, tests_dir, str(tmp_path), json.dumps(order)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["name"] for r in results] == list(CLAIMS)
    for result in results:
        assert result["outcome"].startswith(str(tmp_path / result["name"])), result
        assert result["grew"] <= 2 * result["size"] + SLACK_BYTES, result


@pytest.mark.parametrize(("reader", "make"), [("pth", pth_claim), ("npz", npz_claim)])
def test_the_rewritten_files_parse_when_the_claim_is_true(tmp_path: Path, reader: str, make: Callable) -> None:
    """The crafted files differ from valid ones only in the size field: with the true size they parse."""
    path = tmp_path / f"true.{reader}"
    path.write_bytes(make(N))
    BY_NAME[reader].read(path)
