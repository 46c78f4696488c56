"""InnerProduct and Embed (inner_product_layer.cpp, embed_layer.cpp).

* InnerProduct flattens every axis from `axis` (default 1) into K and keeps the axes before it:
  top `bottom.shape[:axis] + (num_output,)`.  Weight `(num_output, K)`, or `(K, num_output)`
  with `transpose: true`; bias `(num_output,)`.
* Embed: each bottom value is a row index (truncated to int, must lie in `[0, input_dim)`);
  top `bottom.shape + (num_output,)`; weight `(input_dim, num_output)`, bias `(num_output,)`.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from purecaffe.runtime.layers.base import (LayerProblem, LayerShapes, Shape, Tensor, canonical_axis, count,
                                           need_bottoms)


def inner_product_shapes(bottoms: Sequence[Shape], *, num_output: int, bias_term: bool, axis: int,
                         transpose: bool) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    if num_output <= 0:
        raise LayerProblem("num_output must be positive")
    axis = canonical_axis(axis, len(shape))
    k = count(shape, axis)
    weight = (k, num_output) if transpose else (num_output, k)
    params = (weight, (num_output,)) if bias_term else (weight,)
    return LayerShapes(tops=((*shape[:axis], num_output),), params=params)


def inner_product(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], num_output: int, bias_term: bool,
                  axis: int, transpose: bool) -> list[Tensor]:
    x = bottoms[0]
    axis = canonical_axis(axis, x.dim())
    rows = x.reshape(count(tuple(x.shape), 0, axis), -1)
    bias = blobs[1] if bias_term else None
    if transpose:
        y = rows @ blobs[0]
        if bias is not None:
            y = y + bias
    else:
        y = F.linear(rows, blobs[0], bias)
    return [y.reshape(*x.shape[:axis], num_output)]


def embed_shapes(bottoms: Sequence[Shape], *, num_output: int, input_dim: int, bias_term: bool) -> LayerShapes:
    need_bottoms(bottoms, 1)
    if num_output <= 0 or input_dim <= 0:
        raise LayerProblem("num_output and input_dim must be positive")
    weight = (input_dim, num_output)
    return LayerShapes(tops=((*bottoms[0], num_output),),
                       params=(weight, (num_output,)) if bias_term else (weight,))


def embed(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], num_output: int, input_dim: int,
          bias_term: bool) -> list[Tensor]:
    x = bottoms[0]
    index = x.to(torch.int64)
    if bool((index.to(x.dtype) != x).any()):
        raise LayerProblem("non-integer input to Embed")
    if bool(((index < 0) | (index >= input_dim)).any()):
        raise LayerProblem(f"Embed input outside [0, {input_dim})")
    y = blobs[0][index.reshape(-1)]
    if bias_term:
        y = y + blobs[1]
    return [y.reshape(*x.shape, num_output)]
