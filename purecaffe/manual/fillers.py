"""Caffe's weight fillers, one plain numpy function each, keyed by the filler's `type` string.

Each function reproduces the *distribution* of the filler of the same name in
BVLC Caffe (`include/caffe/filler.hpp`), not its random stream: values differ
from a Caffe run with the same seed, statistics do not.  Fan sizes follow
Caffe's definitions, which are not PyTorch's:

    fan_in  = count / shape[0]
    fan_out = count / shape[1]   (count itself for a 1-axis blob)

so for a Convolution weight (out, in/g, kh, kw) fan_in = in/g*kh*kw and
fan_out = out*kh*kw, and for an InnerProduct weight (out, in) fan_in = in,
fan_out = out.  Random fillers draw in float64 and cast to float32; the
bilinear filler computes in float32 step by step, so its values are
bit-identical to Caffe's.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from google.protobuf.message import Message

from purecaffe.errors import PurecaffeError
from purecaffe.tables import frozen_table

Shape = tuple[int, ...]
FillFunction = Callable[[Shape, "FillerSpec", np.random.Generator], np.ndarray]

VARIANCE_NORMS = ("FAN_IN", "FAN_OUT", "AVERAGE")  # FillerParameter.VarianceNorm values 0, 1, 2


@dataclass(frozen=True)
class FillerSpec:
    """A FillerParameter as plain values; defaults are caffe.proto's (a zero constant)."""

    type: str = "constant"
    value: float = 0.0
    min: float = 0.0
    max: float = 1.0
    mean: float = 0.0
    std: float = 1.0
    sparse: int = -1
    variance_norm: str = "FAN_IN"

    @classmethod
    def from_proto(cls, message: Message) -> FillerSpec:
        norm = int(message.variance_norm)
        return cls(type=message.type, value=float(message.value), min=float(message.min),
                   max=float(message.max), mean=float(message.mean), std=float(message.std),
                   sparse=int(message.sparse),
                   variance_norm=VARIANCE_NORMS[norm] if 0 <= norm < len(VARIANCE_NORMS) else str(norm))

    def describe(self) -> str:
        if self.type == "constant":
            return f"constant {self.value:g}"
        if self.type == "uniform":
            return f"uniform [{self.min:g}, {self.max:g})"
        if self.type == "gaussian":
            sparse = f", sparse {self.sparse}" if self.sparse >= 0 else ""
            return f"gaussian mean {self.mean:g} std {self.std:g}{sparse}"
        if self.type in ("xavier", "msra"):
            return f"{self.type} {self.variance_norm}"
        return self.type


class FillerError(PurecaffeError):
    """A filler cannot fill a blob (unknown type, wrong blob rank, unsupported option)."""


def known_fillers() -> tuple[str, ...]:
    return tuple(sorted(FILLERS))


def fill(shape: Shape, spec: FillerSpec, rng: np.random.Generator) -> np.ndarray:
    """A float32 array of `shape` filled as Caffe's filler `spec.type` would fill it."""
    function = FILLERS.get(spec.type)
    if function is None:
        raise FillerError(f"unknown filler type {spec.type!r} (Caffe knows {', '.join(known_fillers())})")
    shape = tuple(int(d) for d in shape)
    if math.prod(shape) == 0:
        raise FillerError(f"cannot fill an empty blob of shape {shape}")
    if spec.sparse != -1 and spec.type != "gaussian":
        raise FillerError(f"sparse is only supported by the gaussian filler, not {spec.type!r}")
    return np.asarray(function(shape, spec, rng)).astype(np.float32, order="C")  # keeps 0-d blobs 0-d


def fans(shape: Shape) -> tuple[int, int]:
    """Caffe's (fan_in, fan_out) of a blob: count/shape[0] and count/shape[1] (count if 1-D)."""
    if len(shape) < 1:
        raise FillerError("xavier/msra fillers need a blob with at least one axis (Caffe checks shape(0))")
    count = math.prod(shape)
    fan_in = count // shape[0]
    fan_out = count // shape[1] if len(shape) > 1 else count
    return fan_in, fan_out


def variance_n(shape: Shape, spec: FillerSpec) -> float:
    """The `n` of xavier/msra: fan_in (default), fan_out, or their mean, by `variance_norm`."""
    fan_in, fan_out = fans(shape)
    if spec.variance_norm == "AVERAGE":
        return (fan_in + fan_out) / 2.0
    if spec.variance_norm == "FAN_OUT":
        return float(fan_out)
    return float(fan_in)


def fill_constant(shape: Shape, spec: FillerSpec, rng: np.random.Generator) -> np.ndarray:
    return np.full(shape, spec.value, dtype=np.float64)


def fill_uniform(shape: Shape, spec: FillerSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.max < spec.min:
        raise FillerError(f"uniform filler with max {spec.max:g} < min {spec.min:g}")
    return rng.uniform(spec.min, spec.max, size=shape)


def fill_gaussian(shape: Shape, spec: FillerSpec, rng: np.random.Generator) -> np.ndarray:
    """N(mean, std); with `sparse >= 0` each value is kept with probability sparse / shape[0]."""
    if spec.std < 0:
        raise FillerError(f"gaussian filler with negative std {spec.std:g}")
    data = rng.normal(spec.mean, spec.std, size=shape)
    if spec.sparse < -1:
        raise FillerError(f"gaussian filler sparse must be >= -1, not {spec.sparse}")
    if spec.sparse >= 0:
        if len(shape) < 1:
            raise FillerError("a sparse gaussian filler needs a blob with at least one axis")
        probability = spec.sparse / shape[0]
        if probability > 1:
            raise FillerError(f"sparse {spec.sparse} exceeds the blob's {shape[0]} outputs "
                              f"(Caffe checks sparse / shape[0] <= 1)")
        data = data * (rng.random(size=shape) < probability)
    return data


def fill_positive_unitball(shape: Shape, spec: FillerSpec, rng: np.random.Generator) -> np.ndarray:
    """U[0, 1), then every slice along axis 0 divided by its sum (each sums to 1)."""
    if len(shape) < 1:
        raise FillerError("positive_unitball filler needs a blob with at least one axis")
    rows = rng.uniform(0.0, 1.0, size=shape).reshape(shape[0], -1)
    rows /= rows.sum(axis=1, keepdims=True)
    return rows.reshape(shape)


def fill_xavier(shape: Shape, spec: FillerSpec, rng: np.random.Generator) -> np.ndarray:
    """U(-a, a) with a = sqrt(3 / n), so std = 1 / sqrt(n)."""
    scale = math.sqrt(3.0 / variance_n(shape, spec))
    return rng.uniform(-scale, scale, size=shape)


def fill_msra(shape: Shape, spec: FillerSpec, rng: np.random.Generator) -> np.ndarray:
    """N(0, 2 / n)."""
    return rng.normal(0.0, math.sqrt(2.0 / variance_n(shape, spec)), size=shape)


def fill_bilinear(shape: Shape, spec: FillerSpec, rng: np.random.Generator) -> np.ndarray:
    """The same (K, K) bilinear interpolation kernel in every (n, c) slice of a 4-D square blob."""
    if len(shape) != 4:
        raise FillerError(f"bilinear filler needs a 4-D blob, got shape {shape}")
    height, width = shape[2], shape[3]
    if height != width:
        raise FillerError(f"bilinear filler needs a square kernel, got {height}x{width}")
    # In float32 step by step, as Caffe computes it, so the values are bit-identical to Caffe's.
    f = np.float32(math.ceil(width / 2.0))
    c = np.float32((width - 1) / (2.0 * float(f)))
    line = np.float32(1) - np.abs(np.arange(width, dtype=np.float32) / f - c)
    kernel = np.outer(line, line)
    return np.broadcast_to(kernel, shape).copy()


# Caffe's filler type strings (FillerParameter.type), in filler.hpp's order.
FILLERS: Mapping[str, FillFunction] = frozen_table((
    ("constant", fill_constant),
    ("uniform", fill_uniform),
    ("gaussian", fill_gaussian),
    ("positive_unitball", fill_positive_unitball),
    ("xavier", fill_xavier),
    ("msra", fill_msra),
    ("bilinear", fill_bilinear),
), what="filler")
