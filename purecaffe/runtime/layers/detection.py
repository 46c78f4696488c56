"""SSD fork detection layers: PriorBox (shape and forward) and DetectionOutput (shape only).

* PriorBox (weiliu89/caffe `prior_box_layer.cpp`, the variant OpenCV also implements): per
  feature-map cell, per `min_size`: a square box of `min_size`; with `max_size` a square of
  `sqrt(min_size * max_size)`; then one box per extra aspect ratio r (ratios other than 1,
  de-duplicated, plus 1/r with `flip`): `min_size * sqrt(r)` wide, `min_size / sqrt(r)` high.
  Boxes are (xmin, ymin, xmax, ymax) / image size, centred at `(w + offset) * step_w`, clipped
  to [0, 1] with `clip`.  Image size: `img_size`/`img_h`/`img_w`, else bottom 1's H, W; step:
  `step`/`step_h`/`step_w`, else image size / feature size.  Top: `(1, 2, H*W*num_priors*4)`,
  channel 0 the boxes, channel 1 the variances (one value, or four repeated).
* DetectionOutput: NMS output of data-dependent length.  Shape inference gives
  `(1, 1, 1, 7)`, the shape Caffe's Reshape allocates before the first forward; there is no
  forward here (an UnsupportedError).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from purecaffe.runtime.layers.base import LayerProblem, LayerShapes, Shape, Tensor, need_bottoms


def prior_aspect_ratios(aspect_ratio: tuple[float, ...], flip: bool) -> list[float]:
    ratios = [1.0]
    for ar in aspect_ratio:
        if any(abs(ar - known) < 1e-6 for known in ratios):
            continue
        ratios.append(ar)
        if flip:
            ratios.append(1.0 / ar)
    return ratios


def _num_priors(min_size: tuple[float, ...], max_size: tuple[float, ...], aspect_ratio: tuple[float, ...],
                flip: bool) -> int:
    if not min_size:
        raise LayerProblem("PriorBox must provide min_size")
    if max_size and len(max_size) != len(min_size):
        raise LayerProblem(f"{len(max_size)} max_size for {len(min_size)} min_size")
    if any(mx <= mn for mn, mx in zip(min_size, max_size)):
        raise LayerProblem("max_size must be greater than min_size")
    return len(prior_aspect_ratios(aspect_ratio, flip)) * len(min_size) + len(max_size)


def prior_box_shapes(bottoms: Sequence[Shape], *, min_size: tuple[float, ...], max_size: tuple[float, ...],
                     aspect_ratio: tuple[float, ...], flip: bool, clip: bool, variance: tuple[float, ...],
                     img: tuple[int, int], step: tuple[float, float], offset: float) -> LayerShapes:
    need_bottoms(bottoms, 1, 2)
    feature = bottoms[0]
    if len(feature) != 4:
        raise LayerProblem(f"bottom 0 must be 4-D, got {feature}")
    if len(variance) not in (0, 1, 4):
        raise LayerProblem(f"give one or four variances, not {len(variance)}")
    priors = _num_priors(min_size, max_size, aspect_ratio, flip)
    return LayerShapes(tops=((1, 2, feature[2] * feature[3] * priors * 4),))


def prior_box(bottoms: Sequence[Tensor], *, min_size: tuple[float, ...], max_size: tuple[float, ...],
              aspect_ratio: tuple[float, ...], flip: bool, clip: bool, variance: tuple[float, ...],
              img: tuple[int, int], step: tuple[float, float], offset: float) -> list[Tensor]:
    layer_h, layer_w = int(bottoms[0].shape[2]), int(bottoms[0].shape[3])
    if img == (0, 0):
        if len(bottoms) < 2:
            raise LayerProblem("PriorBox needs the image as bottom 1 when img_size is not set")
        img_h, img_w = int(bottoms[1].shape[2]), int(bottoms[1].shape[3])
    else:
        img_h, img_w = img
    step_h, step_w = step if step[0] and step[1] else (img_h / layer_h, img_w / layer_w)
    ratios = prior_aspect_ratios(aspect_ratio, flip)
    sizes: list[tuple[float, float]] = []
    for s, low in enumerate(min_size):
        sizes.append((low, low))
        if max_size:
            side = math.sqrt(low * max_size[s])
            sizes.append((side, side))
        for ar in ratios:
            if abs(ar - 1.0) >= 1e-6:
                sizes.append((low * math.sqrt(ar), low / math.sqrt(ar)))
    boxes = np.empty((layer_h, layer_w, len(sizes), 4), dtype=np.float64)
    cy = ((np.arange(layer_h) + offset) * step_h)[:, None, None]
    cx = ((np.arange(layer_w) + offset) * step_w)[None, :, None]
    bw = np.array([s[0] for s in sizes])[None, None, :]
    bh = np.array([s[1] for s in sizes])[None, None, :]
    boxes[..., 0] = (cx - bw / 2) / img_w
    boxes[..., 1] = (cy - bh / 2) / img_h
    boxes[..., 2] = (cx + bw / 2) / img_w
    boxes[..., 3] = (cy + bh / 2) / img_h
    flat = boxes.astype(np.float32).reshape(-1)
    if clip:
        flat = np.clip(flat, 0.0, 1.0)
    if len(variance) == 4:
        var = np.tile(np.asarray(variance, dtype=np.float32), flat.size // 4)
    else:
        var = np.full(flat.size, variance[0] if variance else 0.1, dtype=np.float32)
    return [torch.from_numpy(np.stack([flat, var])[None].copy())]


def detection_output_shapes(bottoms: Sequence[Shape], *, num_classes: int, keep_top_k: int) -> LayerShapes:
    need_bottoms(bottoms, 3, 4)
    return LayerShapes(tops=((1, 1, 1, 7),))
