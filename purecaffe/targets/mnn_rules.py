"""MNN's own reading faults, legalized (MNNConvert -f CAFFE and its CPU runtime, mnn 3.6.1).

* An InnerProduct that reads a Reshape's top, where the product's rows (the axes before its `axis`) are not
  the Reshape's input batch, comes out of MNN's runtime as an empty (0, 0, 0, 0) tensor, and so does every
  blob after it (measured: (1, 196, 16) reshaped to (196, 16) or (1, 196, 16) then a Linear; LeViT's
  subsampled queries, docTR's ViTSTR, Segformer and SwinIR came out empty this way).  A Reshape to
  (1, 3136) before a classifier's InnerProduct (rows = the batch), an InnerProduct reading a Permute, and one
  reading a Power after the Reshape are right.  So such a product becomes a 1 x 1 Convolution of a
  (rows, K, 1, 1) view, Reshaped to the product's shape: the same dot products and bias per output
  (measured right on MNN: `READ_RESHAPED_ROWS`).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Sequence

import numpy as np

from purecaffe.canonical import CaffeLayer, builders
from purecaffe.runtime.layers.base import canonical_axis
from purecaffe.targets.target import NetLimit


def _rows(layer: CaffeLayer) -> int:
    x = layer.bottoms[0]
    return math.prod(x.shape[:canonical_axis(int(layer.params["axis"]), len(x.shape))])


def reshaped_row_products(layers: Sequence[CaffeLayer]) -> tuple[str, ...]:
    """The InnerProducts reading a Reshape's top with other rows than the Reshape's input batch."""
    writers = {top: layer for layer in layers for top in layer.top_names}
    faulty = []
    for layer in layers:
        if layer.type != "InnerProduct":
            continue
        writer = writers.get(layer.bottoms[0].name)
        if writer is not None and writer.type == "Reshape" and writer.bottoms[0].shape and \
                _rows(layer) != writer.bottoms[0].shape[0]:
            faulty.append(layer.name)
    return tuple(faulty)


def products_as_convolutions(layers: Sequence[CaffeLayer], names: Collection[str]) -> list[CaffeLayer]:
    """Each named InnerProduct of (rows, K) values -> Reshape to (rows, K, 1, 1), a 1 x 1 Convolution with its
    weights as (outputs, K, 1, 1) and its bias, Reshape to its top's shape under its name and top."""
    out: list[CaffeLayer] = []
    for layer in layers:
        if layer.name not in names:
            out.append(layer)
            continue
        x = layer.bottoms[0]
        rows = _rows(layer)
        depth, outputs = math.prod(x.shape) // rows, int(layer.params["num_output"])
        view = builders.reshape_to(f"{layer.name}/columns", x, f"{layer.name}/columns", (rows, depth, 1, 1))
        product = builders.convolution(f"{layer.name}/product", view.top, f"{layer.name}/product",
                                       num_output=outputs, kernel=1, bias_term=bool(layer.params["bias_term"]))
        weights = (np.asarray(layer.weights[0], dtype=np.float32).reshape(outputs, depth, 1, 1), *layer.weights[1:])
        back = builders.reshape_to(layer.name, product.top, layer.top.name, layer.top.shape)
        out.extend(dataclasses.replace(made, origin=layer.origin)
                   for made in (view, product.with_weights(weights), back))
    return out


READ_RESHAPED_ROWS = NetLimit(
    "mnn-reshaped-rows", reshaped_row_products, products_as_convolutions,
    "{target} gives an empty tensor for an InnerProduct reading a Reshape's top whose rows are not the Reshape's "
    "input batch (measured: (0, 0, 0, 0) for every blob after it)",
    "measured with MNN 3.6.1 (MNNConvert -f CAFFE, CPU runtime)")

__all__ = ["READ_RESHAPED_ROWS", "products_as_convolutions", "reshaped_row_products"]
