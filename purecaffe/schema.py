"""Protobuf bindings for `caffe.proto`, generated with grpcio-tools.

grpcio-tools' `protoc` compiles the proto file into a serialized descriptor set
(cached under the user cache dir, keyed by the file's hash and the protobuf
version).  The message classes are then built by protobuf's message factory in a
*private* descriptor pool per proto file, so the bundled `caffe.proto` and a
vendor's own `caffe.proto` (same `caffe` package, different fields) can be used
side by side in one process.  Nothing generated is committed.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from google.protobuf import __version__ as protobuf_version
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from purecaffe.cache import cache_dir
from purecaffe.errors import SchemaError

log = logging.getLogger(__name__)

REQUIRED_MESSAGES = ("NetParameter", "LayerParameter", "BlobProto", "BlobShape")


@dataclass(frozen=True)
class CaffeSchema:
    """Message classes of one compiled caffe.proto."""

    source: str
    sha256: str
    pool: descriptor_pool.DescriptorPool = field(repr=False, compare=False)

    def message(self, name: str) -> type[Message]:
        """The class of message `name` (e.g. 'NetParameter') in package caffe."""
        return _message_class(self, name)

    def has_message(self, name: str) -> bool:
        try:
            self.pool.FindMessageTypeByName(f"caffe.{name}")
        except KeyError:
            return False
        return True

    @property
    def NetParameter(self) -> type[Message]:  # noqa: N802 - mirrors the proto name
        return self.message("NetParameter")

    @property
    def LayerParameter(self) -> type[Message]:  # noqa: N802
        return self.message("LayerParameter")

    @property
    def V1LayerParameter(self) -> type[Message]:  # noqa: N802
        return self.message("V1LayerParameter")

    @property
    def BlobProto(self) -> type[Message]:  # noqa: N802
        return self.message("BlobProto")

    @property
    def BlobShape(self) -> type[Message]:  # noqa: N802
        return self.message("BlobShape")


@functools.lru_cache(maxsize=None)
def _message_class(schema: CaffeSchema, name: str) -> type[Message]:
    try:
        descriptor = schema.pool.FindMessageTypeByName(f"caffe.{name}")
    except KeyError:
        raise SchemaError(f"message caffe.{name} is not defined", path=schema.source) from None
    return message_factory.GetMessageClass(descriptor)


def bundled_proto_path() -> Path:
    """The caffe.proto shipped with purecaffe (BVLC master + fork extensions)."""
    return Path(str(resources.files("purecaffe") / "data" / "caffe.proto"))


def load_schema(proto: str | os.PathLike[str] | None = None) -> CaffeSchema:
    """Compile (or take from the cache) `proto`, default the bundled caffe.proto."""
    path = Path(proto) if proto is not None else bundled_proto_path()
    try:
        content = path.read_bytes()
    except OSError as error:
        raise SchemaError(f"cannot read proto file: {error.strerror}", path=path) from None
    return _schema_for(str(path), hashlib.sha256(content).hexdigest())


@functools.lru_cache(maxsize=16)
def _schema_for(path: str, sha256: str) -> CaffeSchema:
    descriptor_set = _compiled_descriptor_set(Path(path), sha256)
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
    pool = descriptor_pool.DescriptorPool()
    for file_proto in files.file:
        pool.Add(file_proto)
    schema = CaffeSchema(source=path, sha256=sha256, pool=pool)
    missing = [name for name in REQUIRED_MESSAGES if not schema.has_message(name)]
    if missing:
        raise SchemaError(f"not a Caffe schema: package caffe lacks {', '.join(missing)}", path=path)
    return schema


def _compiled_descriptor_set(path: Path, sha256: str) -> bytes:
    cached = cache_dir() / "schema" / f"{sha256[:24]}-protobuf{protobuf_version}.desc"
    if cached.is_file():
        return cached.read_bytes()
    data = _run_protoc(path)
    cached.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".desc-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, cached)
    log.debug("compiled %s into %s", path, cached)
    return data


def _run_protoc(path: Path) -> bytes:
    """Run grpcio-tools' protoc on `path`; its one-line error becomes a SchemaError."""
    with tempfile.TemporaryDirectory(prefix="purecaffe-protoc-") as work:
        # protoc wants a file name relative to an include dir; copy so that a
        # symlinked or oddly named file compiles the same way everywhere.
        source = Path(work) / "caffe.proto"
        source.write_bytes(path.read_bytes())
        out = Path(work) / "caffe.desc"
        command = [
            sys.executable, "-m", "grpc_tools.protoc",
            f"--proto_path={work}", f"--descriptor_set_out={out}", "--include_imports", "caffe.proto",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not out.is_file():
            lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
            detail = lines[0] if lines else f"protoc exited with status {result.returncode}"
            place, _, message = detail.partition(": ")
            place = place.replace("caffe.proto:", "", 1) if place.startswith("caffe.proto:") else None
            raise SchemaError(f"protoc: {message or detail}", path=path, place=place)
        return out.read_bytes()
