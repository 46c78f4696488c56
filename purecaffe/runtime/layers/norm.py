"""Normalisation layers: BatchNorm, LRN, MVN, and the fork layers BN (PSPNet) and Normalize (SSD).

* BatchNorm (batch_norm_layer.cpp): blobs are running mean `(C,)`, running variance `(C,)`
  and the moving-average factor `(1,)`.  With `use_global_stats` (the TEST default) Caffe
  multiplies mean and variance by `1/factor` (`0` when the factor is 0) and computes
  `(x - mean) / sqrt(var + eps)`; without it, the batch statistics (biased variance) of
  the bottom over every axis but 1.  No scale/shift: that is a following Scale layer.
* LRN (lrn_layer.cpp), `local_size` odd:
  ACROSS_CHANNELS: `x / (k + alpha/n * sum of x^2 over channels c-(n-1)/2 .. c+(n-1)/2)^beta`
  (zero outside the channel range);
  WITHIN_CHANNEL: `x / (1 + alpha * avg)^beta` where `avg` is Caffe's AVE pooling of `x^2`
  with kernel n, stride 1, pad (n-1)/2 (so the divisor shrinks at the bottom/right border
  but not at the top/left one); `k` is not used in this mode.
* MVN (mvn_layer.cpp): per (n, c) plane, or per n with `across_channels`: subtract the mean;
  with `normalize_variance` divide by `sqrt(var) + eps` (eps added to the standard deviation).
  The top is reshaped to the bottom's legacy 4-D shape (N, C, H, W), as Caffe does.
* BN (PSPNet/DeepLab fork, documented here, not in BVLC): four blobs `(1, C, 1, 1)`: scale,
  shift, running mean, running variance; inference computes
  `scale * (x - mean) / sqrt(var + eps) + shift` from the stored statistics.
* Normalize (SSD fork normalize_layer.cpp): L2 norm over C*H*W per sample
  (`across_spatial`, default) or over C per position: `x / sqrt(sum x^2 + eps)`, then times the
  scale blob: `()` with `channel_shared` (default) or `(C,)`.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from purecaffe.runtime.layers.base import LayerProblem, LayerShapes, Shape, Tensor, need_axes, need_bottoms, same
from purecaffe.runtime.layers.pool import pooling


def _legacy4(shape: Shape) -> Shape:
    if len(shape) > 4:
        raise LayerProblem(f"needs at most 4 axes (legacy N, C, H, W), got {len(shape)}")
    return tuple(shape) + (1,) * (4 - len(shape))


def batch_norm_shapes(bottoms: Sequence[Shape], *, use_global_stats: bool, eps: float) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    channels = 1 if len(shape) == 1 else shape[1]
    return same(shape, params=((channels,), (channels,), (1,)))


def _channel_view(v: Tensor, ndim: int) -> Tensor:
    return v.reshape(1, -1, *([1] * (ndim - 2))) if ndim >= 2 else v.reshape(-1)


def batch_norm(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], use_global_stats: bool,
               eps: float) -> list[Tensor]:
    x = bottoms[0]
    if use_global_stats:
        stored = float(blobs[2].reshape(-1)[0])
        factor = torch.tensor(0.0 if stored == 0 else 1.0 / stored, dtype=torch.float32)
        mean = blobs[0].reshape(-1) * factor
        var = blobs[1].reshape(-1) * factor
    else:
        dims = [d for d in range(x.dim()) if d != 1]
        mean = x.mean(dim=dims)
        var = ((x - _channel_view(mean, x.dim())) ** 2).mean(dim=dims)
    std = torch.sqrt(var + eps)
    return [(x - _channel_view(mean, x.dim())) / _channel_view(std, x.dim())]


def bn_shapes(bottoms: Sequence[Shape], *, eps: float) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    need_axes(shape, 4)
    param = (1, shape[1], 1, 1)
    return same(shape, params=(param,) * 4)


def bn(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], eps: float) -> list[Tensor]:
    x = bottoms[0]
    scale, shift, mean, var = (b.reshape(1, -1, 1, 1) for b in blobs[:4])
    return [scale * ((x - mean) / torch.sqrt(var + eps)) + shift]


def lrn_shapes(bottoms: Sequence[Shape], *, local_size: int, alpha: float, beta: float, k: float,
               norm_region: str) -> LayerShapes:
    need_bottoms(bottoms, 1)
    need_axes(bottoms[0], 4)
    if local_size % 2 != 1:
        raise LayerProblem(f"LRN only supports odd values for local_size, got {local_size}")
    if norm_region not in ("ACROSS_CHANNELS", "WITHIN_CHANNEL"):
        raise LayerProblem(f"unknown norm_region {norm_region}")
    return same(bottoms[0])


def lrn(bottoms: Sequence[Tensor], *, local_size: int, alpha: float, beta: float, k: float,
        norm_region: str) -> list[Tensor]:
    x = bottoms[0]
    pre_pad = (local_size - 1) // 2
    square = x * x
    if norm_region == "ACROSS_CHANNELS":
        channels = x.shape[1]
        padded = torch.nn.functional.pad(square, (0, 0, 0, 0, pre_pad, local_size - 1 - pre_pad))
        window = padded[:, 0:channels]
        for j in range(1, local_size):
            window = window + padded[:, j:j + channels]
        scale = k + (alpha / local_size) * window
        return [x * torch.pow(scale, -beta)]
    average = pooling([square], pool="AVE", kernel=(local_size, local_size), stride=(1, 1),
                      pad=(pre_pad, pre_pad), global_pooling=False, round_mode="CEIL")[0]
    return [x * torch.pow(alpha * average + 1.0, -beta)]


def mvn_shapes(bottoms: Sequence[Shape], *, normalize_variance: bool, across_channels: bool,
               eps: float) -> LayerShapes:
    need_bottoms(bottoms, 1)
    return LayerShapes(tops=(_legacy4(bottoms[0]),))


def mvn(bottoms: Sequence[Tensor], *, normalize_variance: bool, across_channels: bool,
        eps: float) -> list[Tensor]:
    shape = _legacy4(tuple(bottoms[0].shape))
    rows = shape[0] if across_channels else shape[0] * shape[1]
    x = bottoms[0].reshape(rows, -1)
    centred = x - x.mean(dim=1, keepdim=True)
    if normalize_variance:
        std = torch.sqrt((centred * centred).mean(dim=1, keepdim=True)) + eps
        centred = centred / std
    return [centred.reshape(shape)]


def normalize_shapes(bottoms: Sequence[Shape], *, across_spatial: bool, channel_shared: bool,
                     eps: float) -> LayerShapes:
    need_bottoms(bottoms, 1)
    shape = bottoms[0]
    if len(shape) < 2:
        raise LayerProblem("number of axes of bottom blob must be >= 2")
    return same(shape, params=((),) if channel_shared else ((shape[1],),))


def normalize(bottoms: Sequence[Tensor], *, blobs: Sequence[Tensor], across_spatial: bool,
              channel_shared: bool, eps: float) -> list[Tensor]:
    x = bottoms[0]
    n, c = x.shape[0], x.shape[1]
    flat = x.reshape(n, c, -1)
    if across_spatial:
        norm = torch.sqrt((flat * flat).sum(dim=(1, 2), keepdim=True) + eps)
    else:
        norm = torch.sqrt((flat * flat).sum(dim=1, keepdim=True) + eps)
    y = flat / norm
    factor = blobs[0].reshape(-1)
    y = y * (factor[0] if channel_shared else factor.reshape(1, c, 1))
    return [y.reshape(x.shape)]
