"""MNN's own reading faults, legalized (MNNConvert -f CAFFE and its CPU runtime, mnn 3.6.1).

* MNN's converter turns an InnerProduct into a 1 x 1 Convolution (tools/converter/source/optimizer/postconvert/
  TransformInnerProduct.cpp): when the product reads a Reshape that nothing else reads, it drops that Reshape
  as if it were a Flatten and views the Reshape's *input* with its first `axis` dims copied.  Right when those
  dims are the product's own rows (a classifier's (1, 3136) flatten); otherwise the product comes out of MNN's
  runtime as an empty (0, 0, 0, 0) tensor, and so does every blob after it (measured: (1, 196, 16) reshaped to
  (196, 16) or (1, 196, 16) then a Linear; LeViT's subsampled queries, a (1, 7, 7, 128) map viewed as
  (1, 49, 128); docTR's ViTSTR, whose LayerNorm ends in a Reshape of a (129, 384, 1, 1) product).  So such a
  product becomes a 1 x 1 Convolution of a (rows, K, 1, 1) view, Reshaped to the product's shape: the same dot
  products and bias per output (measured right on MNN: `READ_RESHAPED_ROWS`).
"""
from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np

from purecaffe.canonical import CaffeLayer, builders
from purecaffe.runtime.layers.base import canonical_axis
from purecaffe.targets.target import NetLimit, readers_of, rewrite_named


def _leading(layer: CaffeLayer) -> int:
    """The InnerProduct's `axis`, counted from the front of its bottom."""
    return canonical_axis(int(layer.params["axis"]), len(layer.bottoms[0].shape))


def reshaped_row_products(layers: Sequence[CaffeLayer]) -> tuple[str, ...]:
    """The InnerProducts reading a Reshape that only they read, whose input's first `axis` dims are not the
    product's: MNN reads that input in the Reshape's place."""
    writers = {top: layer for layer in layers for top in layer.top_names}
    readers = readers_of(layers)
    faulty = []
    for layer in layers:
        if layer.type != "InnerProduct":
            continue
        x = layer.bottoms[0]
        writer = writers.get(x.name)
        if writer is None or writer.type != "Reshape" or len(readers.get(x.name, ())) != 1:
            continue
        axis = _leading(layer)
        if tuple(writer.bottoms[0].shape[:axis]) != tuple(x.shape[:axis]):
            faulty.append(layer.name)
    return tuple(faulty)


def _product_as_convolution(layer: CaffeLayer) -> list[CaffeLayer]:
    x = layer.bottoms[0]
    rows = math.prod(x.shape[:_leading(layer)])
    depth, outputs = math.prod(x.shape) // rows, int(layer.params["num_output"])
    view = builders.reshape_to(f"{layer.name}/columns", x, f"{layer.name}/columns", (rows, depth, 1, 1))
    product = builders.convolution(f"{layer.name}/product", view.top, f"{layer.name}/product",
                                   num_output=outputs, kernel=1, bias_term=bool(layer.params["bias_term"]))
    weights = (np.asarray(layer.weights[0], dtype=np.float32).reshape(outputs, depth, 1, 1), *layer.weights[1:])
    return [view, product.with_weights(weights),
            builders.reshape_to(layer.name, product.top, layer.top.name, layer.top.shape)]


def products_as_convolutions(layers: Sequence[CaffeLayer], names: Collection[str]) -> list[CaffeLayer]:
    """Each named InnerProduct of (rows, K) values -> Reshape to (rows, K, 1, 1), a 1 x 1 Convolution with its
    weights as (outputs, K, 1, 1) and its bias, Reshape to its top's shape under its name and top."""
    return rewrite_named(layers, names, _product_as_convolution)


READ_RESHAPED_ROWS = NetLimit(
    "mnn-reshaped-rows", reshaped_row_products, products_as_convolutions,
    "{target} drops the Reshape this InnerProduct alone reads and views the Reshape's input in its place, whose "
    "first dims are not the product's rows (measured: (0, 0, 0, 0) for every blob after it)",
    "measured with MNN 3.6.1 (MNNConvert -f CAFFE, CPU runtime)")

__all__ = ["READ_RESHAPED_ROWS", "products_as_convolutions", "reshaped_row_products"]
