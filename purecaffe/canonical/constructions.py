"""Exact multi-layer constructions shared by lowerings and legalization rules.

* `linear_resize_matrix`: PyTorch's bilinear interpolation along one axis as an (out, in)
  float32 matrix, its two weights per row computed as ATen computes them (UpSample.h:
  `area_pixel_compute_scale`, `area_pixel_compute_source_index`, in float32);
* `resize_layers`: a separable resize of (N, C, H, W) by such matrices: InnerProduct along W
  (`axis: 3`, weight (W_out, W_in)), then along H a grouped Convolution (group C, C * H_out
  outputs, an (H, 1) kernel holding the H matrix for every channel) and a Reshape of its
  (N, C * H_out, 1, W_out) top to (N, C, H_out, W_out) that keeps the batch axis.  Each output
  is the same two products and one sum as PyTorch's (the other terms are 0 * x), so the
  results agree to float32 rounding.
"""
from __future__ import annotations

import math

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, builders

# A resize whose matrices would hold more floats than this is refused as unreasonable
# (64 MB of fixed weights): the caller says so with the number.
MAX_RESIZE_WEIGHTS = 1 << 24


def linear_resize_matrix(size_in: int, size_out: int, *, align_corners: bool,
                         scale: float | None = None) -> np.ndarray:
    """(size_out, size_in) float32 weights of bilinear (linear) interpolation along one axis."""
    f32 = np.float32
    if align_corners:
        ratio = f32(size_in - 1) / f32(size_out - 1) if size_out > 1 else f32(0.0)
    elif scale is not None and scale > 0:
        ratio = f32(1.0 / scale)
    else:
        ratio = f32(size_in) / f32(size_out)
    matrix = np.zeros((size_out, size_in), dtype=np.float32)
    for dst in range(size_out):
        if align_corners:
            src = f32(ratio * f32(dst))
        else:
            src = max(f32(ratio * (f32(dst) + f32(0.5)) - f32(0.5)), f32(0.0))
        low = min(int(math.floor(src)), size_in - 1)
        high = low + (1 if low < size_in - 1 else 0)
        weight_high = min(max(f32(src - f32(low)), f32(0.0)), f32(1.0))
        weight_low = f32(1.0) - weight_high
        matrix[dst, low] += weight_low
        matrix[dst, high] += weight_high
    return matrix


def resize_cost(x: Blob, matrix_h: np.ndarray, matrix_w: np.ndarray) -> int:
    """Fixed weights the construction stores (the H matrix once per channel)."""
    return int(matrix_h.size * x.shape[1] + matrix_w.size)


def resize_layers(name: str, x: Blob, top: str, matrix_h: np.ndarray, matrix_w: np.ndarray) -> list[CaffeLayer]:
    """x (N, C, H, W) -> (N, C, H_out, W_out) through the two matrices; the last layer is `name` -> `top`."""
    _, c, h, w = x.shape
    h_out, w_out = matrix_h.shape[0], matrix_w.shape[0]
    do_w = not (w_out == w and np.array_equal(matrix_w, np.eye(w, dtype=np.float32)))
    do_h = not (h_out == h and np.array_equal(matrix_h, np.eye(h, dtype=np.float32)))
    layers: list[CaffeLayer] = []
    current = x
    if do_w:
        w_name = name if not do_h else f"{name}/along_w"
        layer = builders.inner_product(w_name, current, top if not do_h else w_name, num_output=w_out, axis=3,
                                       bias_term=False)
        layers.append(layer.with_weights([np.ascontiguousarray(matrix_w, dtype=np.float32)]))
        current = layer.top
    if do_h:
        conv = builders.convolution(f"{name}/along_h", current, f"{name}/along_h", num_output=c * h_out,
                                    kernel=(h, 1), group=c, bias_term=False)
        weight = np.ascontiguousarray(np.tile(matrix_h.reshape(1, h_out, 1, h, 1), (c, 1, 1, 1, 1))
                                      .reshape(c * h_out, 1, h, 1), dtype=np.float32)
        back = builders.reshape_to(name, conv.top, top, (x.shape[0], c, h_out, w_out))
        layers += [conv.with_weights([weight]), back]
    if not layers:
        layers.append(builders.split(name, x, [top]))
    return layers


__all__ = ["MAX_RESIZE_WEIGHTS", "linear_resize_matrix", "resize_cost", "resize_layers"]
