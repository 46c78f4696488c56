"""Just enough of the protobuf wire format to stream caffemodels.

A caffemodel's float data is far larger than everything else in it, so the
reader walks the message structure field by field from a file and reads each
packed float array straight into a numpy array, and the writer emits raw packed
float bytes after protobuf-serialized headers.  Only this module knows how
tags, varints and lengths are laid out.
"""
from __future__ import annotations

from typing import BinaryIO

VARINT, FIXED64, LEN, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5


class WireError(Exception):
    """The bytes are not valid protobuf wire format (truncated or foreign data)."""

    def __init__(self, message: str, offset: int, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.offset = offset
        self.truncated = truncated


def encode_varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_tag(field_number: int, wire_type: int) -> bytes:
    return encode_varint((field_number << 3) | wire_type)


def len_field_header(field_number: int, length: int) -> bytes:
    """Tag and length prefix of a length-delimited field."""
    return encode_tag(field_number, LEN) + encode_varint(length)


def len_field_size(field_number: int, length: int) -> int:
    """Total encoded size of a length-delimited field with a `length`-byte payload."""
    return len(len_field_header(field_number, length)) + length


def decode_varint(buffer: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode a varint from `buffer` at `pos`; returns (value, new position)."""
    result = 0
    shift = 0
    start = pos
    while True:
        if pos >= len(buffer):
            raise WireError("truncated varint", start)
        byte = buffer[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes", start)


class FileFields:
    """Iterates the fields of one message stored in a file between two offsets."""

    def __init__(self, handle: BinaryIO, start: int, end: int, file_size: int | None = None) -> None:
        self.handle = handle
        self.pos = start
        self.end = end
        self.file_size = end if file_size is None else file_size

    def message(self) -> FileFields:
        """Read a LEN prefix and return a reader for the embedded message that follows."""
        length = self.read_length()
        return FileFields(self.handle, self.pos, self.pos + length, self.file_size)

    def finish(self, inner: FileFields) -> None:
        """Continue after an embedded message read through `message()`."""
        self.pos = inner.pos

    def read_varint(self) -> int:
        result = 0
        shift = 0
        start = self.pos
        while True:
            if self.pos >= self.end:
                raise WireError("varint runs past the end of its message", start,
                                truncated=self.pos >= self.file_size)
            chunk = self.handle.read(1)
            if not chunk:
                raise WireError("file ends inside a varint", start, truncated=True)
            self.pos += 1
            result |= (chunk[0] & 0x7F) << shift
            if not chunk[0] & 0x80:
                return result
            shift += 7
            if shift >= 70:
                raise WireError("varint longer than 10 bytes", start)

    def next_field(self) -> tuple[int, int, int] | None:
        """(field number, wire type, offset of the tag), or None at the end."""
        if self.pos >= self.end:
            return None
        offset = self.pos
        key = self.read_varint()
        field_number, wire_type = key >> 3, key & 7
        if field_number == 0 or wire_type in (START_GROUP, END_GROUP, 6, 7):
            raise WireError(f"invalid field key {key:#x}", offset)
        return field_number, wire_type, offset

    def read_length(self) -> int:
        """Read a LEN prefix and check the payload lies inside this message."""
        start = self.pos
        length = self.read_varint()
        if self.pos + length > self.end:
            where = "the file" if self.pos + length > self.file_size else "its message"
            raise WireError(f"field of {length} bytes runs past the end of {where}", start,
                            truncated=self.pos + length > self.file_size)
        return length

    def read_bytes(self, length: int) -> bytes:
        data = self.handle.read(length)
        if len(data) != length:
            raise WireError("file ends inside a field", self.pos, truncated=True)
        self.pos += length
        return data

    def read_into(self, buffer: memoryview) -> None:
        wanted = len(buffer)
        got = self.handle.readinto(buffer)
        while got is not None and got < wanted:
            more = self.handle.readinto(buffer[got:])
            if not more:
                break
            got += more
        if got != wanted:
            raise WireError("file ends inside float data", self.pos, truncated=True)
        self.pos += wanted

    def skip(self, wire_type: int) -> None:
        if wire_type == VARINT:
            self.read_varint()
        elif wire_type == FIXED64:
            self._seek_forward(8)
        elif wire_type == FIXED32:
            self._seek_forward(4)
        elif wire_type == LEN:
            self._seek_forward(self.read_length())
        else:  # pragma: no cover - rejected in next_field
            raise WireError(f"cannot skip wire type {wire_type}", self.pos)

    def _seek_forward(self, count: int) -> None:
        if self.pos + count > self.end:
            raise WireError("field runs past the end of its message", self.pos,
                            truncated=self.pos + count > self.file_size)
        self.handle.seek(count, 1)
        self.pos += count
