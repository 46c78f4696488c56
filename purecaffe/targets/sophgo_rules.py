"""tpu-mlir's own reading faults across layers, legalized (its Caffe front end, tpu-mlir 1.30.2).

* Its converter names the weights it makes after the layer (tpu_mlir/python/transform/CaffeConverter.py):
  `<layer>_weight_<i>` for the caffemodel's blobs, and for those it makes up `<layer>_1` (a one-bottom
  Scale's zero bias when it has none), `<layer>_mean` and `_var` (BatchNorm), `_filter` (InnerProduct),
  `_shape` (Interp), `_0` (Normalize).  Weights and blobs share one table of shapes (BaseConverter.addShape),
  so a weight named like a blob of another shape stops model_transform with "shape X conflict" (measured:
  docTR's FAST-tiny, whose bias-less Scale `.../add` made a weight `.../add_1` beside the Eltwise top
  `.../add_1`; torchreid's OSNet-AIN the same way).  The layer's name keys its PyTorch records, so it stays:
  a bias-less Scale is given a zero bias instead (its weights are then `_weight_0` and `_weight_1`; x s + 0
  is x s, -0 aside); any other clash is left for the checks to refuse (`WEIGHT_NAMES`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

import numpy as np

from purecaffe.canonical import CaffeLayer, relayer
from purecaffe.targets.target import NetLimit, rewrite_named

# The weights CaffeConverter makes up, by layer type (beside `_weight_<i>` for each caffemodel blob).
MADE_UP = {"BatchNorm": ("_mean", "_var"), "InnerProduct": ("_filter",), "Interp": ("_shape",), "Normalize": ("_0",)}


def _weight_names(layer: CaffeLayer) -> set[str]:
    names = {f"{layer.name}_weight_{i}" for i in range(len(layer.weights))}
    names |= {layer.name + suffix for suffix in MADE_UP.get(layer.type, ())}
    if layer.type == "Scale" and len(layer.bottoms) == 1 and not layer.params["bias_term"]:
        names.add(f"{layer.name}_1")
    return names


def weight_name_clashes(layers: Sequence[CaffeLayer]) -> tuple[str, ...]:
    """The layers one of whose weights tpu-mlir would name like a blob of the net."""
    blobs = {blob.name for layer in layers for blob in (*layer.bottoms, *layer.tops)}
    return tuple(layer.name for layer in layers if _weight_names(layer) & blobs)


def _with_zero_bias(layer: CaffeLayer) -> list[CaffeLayer]:
    if layer.type != "Scale" or len(layer.bottoms) != 1 or layer.params["bias_term"]:
        return [layer]  # another clash: left for the checks to refuse
    factor = np.asarray(layer.weights[0], dtype=np.float32)
    return [dataclasses.replace(relayer(layer, bias_term=True),
                                weights=(factor, np.zeros(factor.shape, dtype=np.float32)))]


def zero_biases(layers: Sequence[CaffeLayer], names: Collection[str]) -> list[CaffeLayer]:
    """Each named bias-less one-bottom Scale with a zero bias (the others as they are, for the checks)."""
    return rewrite_named(layers, names, _with_zero_bias)


WEIGHT_NAMES = NetLimit(
    "tpu-mlir-weight-names", weight_name_clashes, zero_biases,
    "{target} names a weight it makes for this layer after it (`<layer>_1`, `<layer>_mean`, ...), and a blob "
    "of the net has that name: model_transform stops with \"shape ... conflict\"",
    "tpu-mlir 1.30.2 tpu_mlir/python/transform/CaffeConverter.py, BaseConverter.addShape; measured")

__all__ = ["MADE_UP", "WEIGHT_NAMES", "weight_name_clashes", "zero_biases"]
