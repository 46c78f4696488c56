"""RKNN-Toolkit2's own reading faults, legalized (its Caffe -> ONNX step, rknn-toolkit2 2.5.0).

* An absent `stride` is read as 0, not caffe.proto's 1 (measured: a stride-1 Deconvolution, DCGAN's
  first ConvTranspose2d, fails to build with onnxruntime's "stride > 0 was false ... got: 0"), so
  Convolution and Deconvolution always carry stride and pad explicitly.
* A Scale of a blob with more than 4 axes fails in load_caffe with "Number of values does not match
  tensor's size. Expected 4, but it is 5." (measured: timm's ResNeSt split attention,
  x (N, radix, C, H, W) * attn (N, radix, C, 1, 1); a 5-D Reshape, Slice or Eltwise loads and runs
  right), so such a Scale runs on a 4-D view of its bottom: the axes before, inside and after the
  scaled ones merged, the same products.
* A global AVE Pooling (a 1 x 1 output of several channels) whose value reaches a Permute through Reshapes,
  Flattens, Powers and one-bottom Scales comes out of that Permute as if it had not permuted (measured: the
  mean of (1, 32, 7, 1) reshaped to (1, 2, 4, 4) and transposed gave the untransposed values, cosine 0.12;
  a global MAX Pooling, an input, a Sigmoid or a Convolution between are read right).  EfficientViT's
  linear attention, q @ (k^T @ v), was at cosine 0.07 this way: the inner product's sums are such a
  Pooling (`lowerings/linear.py`) and the outer one transposes it.  So such a Pooling averages the same
  values as one row of a (N, 1, C, H W) view, its (1, H W) window summing them in the same order (the
  same float32 values), and is Reshaped back to (N, C, 1, 1): `GLOBAL_AVERAGE_PERMUTED`.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Sequence

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, builders, relayer
from purecaffe.runtime.layers.base import canonical_axis
from purecaffe.targets.target import Applied, NetLimit, Target, readers_of, rewrite_named


def explicit_conv_geometry(layer: CaffeLayer, target: Target) -> Applied | None:
    """Convolution/Deconvolution with stride or pad left at caffe.proto's default -> written as 1 / 0
    (the same layer: the runtime and Caffe read both spellings alike)."""
    if layer.type not in ("Convolution", "Deconvolution") or (layer.params["stride"] and layer.params["pad"]):
        return None
    return Applied((relayer(layer, stride=tuple(layer.params["stride"]) or (1,), pad=tuple(layer.params["pad"]) or (0,)),))


def scale_in_four_axes(layer: CaffeLayer, target: Target) -> Applied | None:
    """Scale of a bottom with more than 4 axes -> Reshape to 4 axes, the Scale, Reshape back.

    With the factor over axes [a, b) of shape S: a >= 1 gives (prod S[:a], prod S[a:b], rest) with
    the factor flat over axis 1; a = 0 (a second bottom that holds the batch) gives
    (S[0], prod S[1:b], rest) with the factor as (S[0], prod S[1:b]) at axis 0, the spelling RKNN
    takes for a 4-D broadcast product.  "rest" is (S[b], prod S[b+1:]), or 1s where S ends.
    Reshapes move no value; every output is the same one product (and bias): identical.  Their dims
    are written out, never 0 ("copy"): RKNN's view of a blob of other than 4 axes can lack the batch
    (measured: a (1, 2, 4) factor is {2, 4} there, and `dims: 0 dims: 8` asks for {2, 8}).
    """
    if layer.type != "Scale" or len(layer.bottoms[0].shape) <= 4:
        return None
    shape = tuple(layer.bottoms[0].shape)
    two = len(layer.bottoms) == 2
    factor = tuple(layer.bottoms[1].shape) if two else tuple(layer.param_shapes[0])
    start = canonical_axis(int(layer.params["axis"]), len(shape))
    end = start + len(factor)
    if start == 0 and not two:
        return None  # a learned factor over the batch: left for the checks to refuse
    rest = shape[end:]
    tail = (rest[0], math.prod(rest[1:])) if rest else (1, 1)
    if start == 0:
        shape4, factor4, axis = (shape[0], math.prod(shape[1:end]), *tail), (shape[0], math.prod(shape[1:end])), 0
    else:
        shape4, factor4, axis = (math.prod(shape[:start]), math.prod(factor), *tail), (math.prod(factor),), 1

    def part(name: str) -> str:
        return f"{layer.name}/{name}"

    made = [builders.reshape(part("x4d"), layer.bottoms[0], part("x4d"), dims=shape4)]
    bottoms: list[Blob] = [made[0].top]
    if two:
        made.append(builders.reshape(part("factor4d"), layer.bottoms[1], part("factor4d"), dims=factor4))
        bottoms.append(made[-1].top)
    scaled = builders.scale(part("4d"), bottoms, part("4d"), axis=axis, num_axes=1,
                            bias_term=bool(layer.params["bias_term"]))
    weights = [np.asarray(w, dtype=np.float32).reshape(factor4) for w in layer.weights]
    made.append(dataclasses.replace(scaled, weights=tuple(weights)))
    made.append(builders.reshape(layer.name, made[-1].top, layer.top.name, dims=shape))
    return Applied(tuple(dataclasses.replace(m, origin=layer.origin) for m in made))


# Layers that pass a global AVE Pooling's value on to a Permute that RKNN then reads wrong (measured through
# Reshape and Power; Flatten, and a Scale or Bias of one bottom, move or scale values the same way).
_PASS_THROUGH = frozenset({"Reshape", "Flatten", "Power", "Scale", "Bias"})


def _global_average(layer: CaffeLayer) -> bool:
    """An AVE Pooling of several channels whose one window is its whole (unpadded) H x W."""
    if layer.type != "Pooling" or layer.params["pool"] != "AVE" or len(layer.bottoms[0].shape) != 4:
        return False
    _, channels, height, width = layer.bottoms[0].shape
    whole = bool(layer.params["global_pooling"]) or (
        tuple(layer.params["kernel"]) == (height, width) and tuple(layer.params["pad"]) == (0, 0))
    return whole and channels > 1 and height * width > 1 and tuple(layer.top.shape[2:]) == (1, 1)


def permuted_global_averages(layers: Sequence[CaffeLayer]) -> tuple[str, ...]:
    """The global AVE Poolings whose top reaches a Permute through `_PASS_THROUGH` layers of one bottom."""
    readers = readers_of(layers)

    def reaches_permute(blob: str) -> bool:
        pending, seen = [blob], {blob}
        while pending:
            for reader in readers.get(pending.pop(), ()):
                if reader.type == "Permute":
                    return True
                if reader.type in _PASS_THROUGH and len(reader.bottoms) == 1:
                    for top in reader.top_names:
                        if top not in seen:
                            seen.add(top)
                            pending.append(top)
        return False

    return tuple(layer.name for layer in layers if _global_average(layer) and reaches_permute(layer.top.name))


def _average_as_rows(layer: CaffeLayer) -> list[CaffeLayer]:
    x = layer.bottoms[0]
    batch, channels, height, width = x.shape
    rows = builders.reshape_to(f"{layer.name}/rows", x, f"{layer.name}/rows", (batch, 1, channels, height * width))
    mean = builders.pooling(f"{layer.name}/row_mean", rows.top, f"{layer.name}/row_mean", method="AVE",
                            kernel=(1, height * width), stride=1)
    return [rows, mean, builders.reshape_to(layer.name, mean.top, layer.top.name, layer.top.shape)]


def average_as_rows(layers: Sequence[CaffeLayer], names: Collection[str]) -> list[CaffeLayer]:
    """Each named global AVE Pooling of (N, C, H, W) -> Reshape to (N, 1, C, H W), AVE Pooling (1, H W),
    Reshape to (N, C, 1, 1) under the Pooling's name and top: the same sums in the same order, identical."""
    return rewrite_named(layers, names, _average_as_rows)


GLOBAL_AVERAGE_PERMUTED = NetLimit(
    "rknn-global-average-permuted", permuted_global_averages, average_as_rows,
    "{target} reads a Permute of this global AVE Pooling's value (through Reshapes and Powers) as no permutation "
    "(measured: the transpose of a (1, 2, 4, 4) view of a mean at cosine 0.12)",
    "measured with RKNN-Toolkit2 2.5.0's load_caffe and its simulator")

RULES = (explicit_conv_geometry, scale_in_four_axes)

__all__ = ["GLOBAL_AVERAGE_PERMUTED", "RULES", "average_as_rows", "explicit_conv_geometry",
           "permuted_global_averages", "scale_in_four_axes"]
