"""Checkpoint tensors -> one Caffe blob: the one place that fixes dtype, layout and shape.

Every result is a C-contiguous float32 array of exactly the Caffe shape.
Besides the named transforms, the only reshaping done is between shapes that
differ in size-1 axes alone (a Linear weight (out, in) for a 1x1 Convolution's
(out, in, 1, 1); a PReLU's (1,) for Caffe's shared () slope), which keeps the
element order.  Anything else is a shape mismatch, reported, never guessed.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from purecaffe.io.blob_layouts import caffe_lstm_gates
from purecaffe.manual.layouts import AS_IS, LSTM_GATES, ONE, SUM, SUM_LSTM_GATES, TRANSPOSE

Shape = tuple[int, ...]


class TransformProblem(ValueError):
    """The tensors cannot make the blob; the message describes the tensors ("10x300 after transpose")."""


def fmt_shape(shape: Sequence[int]) -> str:
    return "x".join(str(int(d)) for d in shape) if len(shape) else "scalar"


def squeezed(shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(d) for d in shape if d != 1)


def fits(shape: Sequence[int], target: Sequence[int]) -> bool:
    """Same shape, or the same once size-1 axes are dropped (a reshape that keeps element order)."""
    return tuple(shape) == tuple(target) or squeezed(shape) == squeezed(target)


def make_blob(arrays: Sequence[np.ndarray], transform: str, target: Shape) -> np.ndarray:
    """The Caffe blob of shape `target` made from `arrays` by `transform`."""
    if transform == ONE:
        return np.ones(target, dtype=np.float32)
    if not arrays:
        raise TransformProblem("no tensor at all")
    values = [np.asarray(a, dtype=np.float32) for a in arrays]
    if transform in (SUM, SUM_LSTM_GATES):
        if len({v.shape for v in values}) != 1:
            raise TransformProblem(f"{' + '.join(fmt_shape(v.shape) for v in values)} (tensors of different shapes "
                                   f"cannot be added)")
        value = np.sum(values, axis=0, dtype=np.float32)
    elif len(values) != 1:
        raise TransformProblem(f"{len(values)} tensors (transform {transform} takes one)")
    else:
        value = values[0]
    if transform == TRANSPOSE:
        if value.ndim != 2:
            raise TransformProblem(f"{fmt_shape(value.shape)} (transpose needs a 2-D tensor)")
        value = value.T
    elif transform in (LSTM_GATES, SUM_LSTM_GATES):
        if value.ndim < 1 or value.shape[0] % 4:
            raise TransformProblem(f"{fmt_shape(value.shape)} (LSTM gates need axis 0 divisible by 4)")
        value = caffe_lstm_gates(value)
    elif transform not in (AS_IS, SUM):
        raise TransformProblem(f"unknown transform {transform!r}")
    if not fits(value.shape, target):
        detail = "" if transform == AS_IS else f" after {transform}"
        raise TransformProblem(f"{fmt_shape(value.shape)}{detail}")
    return np.asarray(value).reshape(target).astype(np.float32, order="C")  # (ascontiguousarray makes 0-d 1-d)
