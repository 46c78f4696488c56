"""The one registry idiom: an immutable name -> entry table built once from a literal tuple.

No module fills a global dict from decorators at import time.  A module lists its
entries in one tuple (readable top to bottom as a coverage map) and builds the
table from it; a name listed twice is an error when the table is built.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TypeVar

T = TypeVar("T")


def frozen_table(entries: Iterable[tuple[str, T]], *, what: str) -> Mapping[str, T]:
    """name -> entry, read-only; `what` names the kind of entry in the duplicate error."""
    table: dict[str, T] = {}
    for name, entry in entries:
        if name in table:
            raise ValueError(f"{what} {name!r} registered twice")
        table[name] = entry
    return MappingProxyType(table)
