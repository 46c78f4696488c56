"""Parsing the `--input-shape` options of the CLI commands.

`convert` and `verify` take one shape per model input (`1,3,224,224` or `1x3x224x224`);
`init` and `fill` name the net input they override (`data=1,3,224,224`).
"""
from __future__ import annotations

from collections.abc import Sequence

from purecaffe.errors import PurecaffeError


def _dims(text: str) -> tuple[int, ...] | None:
    """Positive integers separated by `,` or `x`, or None if `text` is not that."""
    try:
        shape = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        return None
    return shape if shape and all(d > 0 for d in shape) else None


def parse_shape(text: str) -> tuple[int, ...]:
    """`1,3,224,224` or `1x3x224x224` -> (1, 3, 224, 224)."""
    shape = _dims(text)
    if shape is None:
        raise PurecaffeError(f"input shape {text!r}: expected positive integers like 1,3,224,224")
    return shape


def parse_input_shapes(values: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """`NAME=D,D,...` options -> {name: shape}."""
    shapes: dict[str, tuple[int, ...]] = {}
    for value in values:
        name, sep, dims = value.partition("=")
        shape = _dims(dims)
        if not sep or not name or shape is None:
            raise PurecaffeError(f"--input-shape {value!r}: expected NAME=D,D,... with positive integers")
        shapes[name] = shape
    return shapes
