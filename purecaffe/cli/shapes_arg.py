"""Parsing `--input-shape NAME=D,D,...` options shared by several commands."""
from __future__ import annotations

from collections.abc import Sequence

from purecaffe.errors import PurecaffeError


def parse_input_shapes(values: Sequence[str]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for value in values:
        name, sep, dims = value.partition("=")
        try:
            shape = tuple(int(d) for d in dims.replace("x", ",").split(",") if d.strip())
        except ValueError:
            shape = ()
        if not sep or not name or not shape or any(d <= 0 for d in shape):
            raise PurecaffeError(f"--input-shape {value!r}: expected NAME=D,D,... with positive integers")
        shapes[name] = shape
    return shapes
