"""Prototxt (protobuf text format) reading and writing.

Parsing is by field *name* against the chosen schema (default: the bundled
caffe.proto).  V1 nets are upgraded to V2 on reading, as Caffe does; the input
declaration is kept in whichever of the three styles the file uses (see
`purecaffe.io.netspec.input_shapes`).
"""
from __future__ import annotations

import os
from pathlib import Path

from google.protobuf import text_format
from google.protobuf.message import Message

from purecaffe.errors import FormatError
from purecaffe.io.atomic import atomic_write
from purecaffe.io.upgrade import upgrade_v1_net
from purecaffe.schema import CaffeSchema, load_schema

PathLike = str | os.PathLike[str]


def parse_net_text(text: str, *, schema: CaffeSchema | None = None, path: PathLike | None = None,
                   upgrade: bool = True) -> Message:
    """Parse prototxt `text` into a NetParameter (V1 upgraded to V2 unless `upgrade=False`)."""
    schema = schema or load_schema()
    net = schema.NetParameter()
    try:
        text_format.Parse(text, net, allow_unknown_field=False)
    except text_format.ParseError as error:
        line, column = error.GetLine(), error.GetColumn()
        message = str(error)
        prefix = f"{line}:{column} : "
        if message.startswith(prefix):
            message = message[len(prefix):]
        if message.startswith("'"):  # protobuf repeats the offending line in quotes; the place says it
            _, separator, rest = message.partition("': ")
            message = rest if separator else message
        place = f"{line}:{column}" if line else None
        raise FormatError(f"malformed prototxt: {message}", path=path, place=place) from None
    return upgrade_v1_net(net, path=None if path is None else str(path)) if upgrade else net


def read_net(path: PathLike, *, schema: CaffeSchema | None = None, upgrade: bool = True) -> Message:
    """Read a prototxt file into a NetParameter."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise FormatError(f"cannot read: {error.strerror}", path=path) from None
    if b"\x00" in raw[:4096]:
        raise FormatError("binary data where a text prototxt was expected "
                          "(a .caffemodel? use it as the weights file)", path=path, place="1:1")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise FormatError("not UTF-8 text, so not a prototxt", path=path, place=f"{line}:1") from None
    return parse_net_text(text, schema=schema, path=path, upgrade=upgrade)


def net_to_text(net: Message) -> str:
    """The prototxt text of `net` in Caffe's conventional layout (2-space indent, layers last)."""
    return text_format.MessageToString(net, as_utf8=True)


def write_net(net: Message, path: PathLike) -> None:
    """Write `net` as prototxt, atomically."""
    with atomic_write(path, "w") as handle:
        handle.write(net_to_text(net))
