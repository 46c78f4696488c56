"""Pooling: Caffe's output sizes, last-window clipping, AVE divisor, MAX padding, global pooling."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from runtime_case import layer_shapes, rng, run_layer

from purecaffe.errors import PurecaffeError, ShapeError
from purecaffe.runtime.layers.pool import pooled_size

# Pooling only moves or averages float32 values; the naive reference below sums in float64,
# so the only difference is float32 rounding of a sum of at most 25 terms.
ATOL = 1e-6


def caffe_pool_reference(x: np.ndarray, pool: str, k: tuple[int, int], s: tuple[int, int], p: tuple[int, int],
                         out: tuple[int, int]) -> np.ndarray:
    """Caffe's PoolingLayer::Forward_cpu loops, written out for one (n, c) plane at a time."""
    n, c, h, w = x.shape
    y = np.zeros((n, c, *out), dtype=np.float64)
    for ph, pw in itertools.product(range(out[0]), range(out[1])):
        hs, ws = ph * s[0] - p[0], pw * s[1] - p[1]
        if pool == "MAX":
            he, we = min(hs + k[0], h), min(ws + k[1], w)
            hs, ws = max(hs, 0), max(ws, 0)
            window = x[:, :, hs:he, ws:we].reshape(n, c, -1)
            y[:, :, ph, pw] = window.max(axis=2) if window.shape[2] else -3.4028234663852886e38
        else:
            he, we = min(hs + k[0], h + p[0]), min(ws + k[1], w + p[1])
            size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            y[:, :, ph, pw] = x[:, :, hs:he, ws:we].sum(axis=(2, 3)) / size
    return y


@pytest.mark.parametrize("size, kernel, stride, pad, mode, expected", [
    (10, 2, 2, 0, "CEIL", 5),      # MTCNN PNet 10 -> 5
    (22, 3, 2, 0, "CEIL", 11),     # RNet 22 -> 11
    (9, 3, 2, 0, "CEIL", 4),       # RNet 9 -> 4
    (10, 3, 2, 0, "CEIL", 5),      # ceil((10-3)/2)+1 = 5
    (10, 3, 2, 0, "FLOOR", 4),     # floor((10-3)/2)+1 = 4
    (32, 3, 2, 0, "CEIL", 16),     # CIFAR 32 -> 16 -> 8 -> 4
    (16, 3, 2, 0, "CEIL", 8),
    (8, 3, 2, 0, "CEIL", 4),
    (113, 3, 2, 0, "CEIL", 56),    # SqueezeNet 113 -> 56
    (13, 2, 1, 0, "CEIL", 12),     # YOLOv3-tiny 13 -> 12 under BVLC semantics
    (3, 2, 2, 1, "CEIL", 2),       # ceil gives 3 but the 3rd window would start at 4 >= 3+1: clipped
    (4, 3, 2, 2, "CEIL", 3),       # ceil gives 4, last start 6 >= 4+2: clipped
    (5, 3, 2, 1, "CEIL", 3),       # no clipping needed
    (5, 1, 3, 0, "CEIL", 3),       # no pad -> no clipping even though the last window starts at 6 >= 5
    (7, 3, 2, 1, "FLOOR", 4),
])
def test_pooled_size(size: int, kernel: int, stride: int, pad: int, mode: str, expected: int) -> None:
    assert pooled_size(size, kernel, stride, pad, mode) == expected


def test_max_ceil_hand_checked() -> None:
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    (y,) = run_layer('type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }', x)
    np.testing.assert_array_equal(y, [[[[5, 6], [8, 9]]]])


def test_max_floor_drops_the_partial_window() -> None:
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    (y,) = run_layer('type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 round_mode: FLOOR }', x)
    np.testing.assert_array_equal(y, [[[[5]]]])


def test_ave_divisor_counts_padding_up_to_h_plus_pad() -> None:
    # H = W = 4, kernel 3, stride 2, pad 1 -> 3 outputs.  Row windows [-1, 2), [1, 4), [3, 5):
    # divisors 3, 3, 2 (clipped to H + pad = 5), valid rows 2, 3, 1.  On ones: 2/3, 1, 1/2 per axis.
    x = np.ones((1, 1, 4, 4), dtype=np.float32)
    (y,) = run_layer('type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }', x)
    per_axis = np.array([2 / 3, 1.0, 1 / 2])
    np.testing.assert_allclose(y[0, 0], np.outer(per_axis, per_axis), rtol=1e-6)


def test_ave_without_padding_divides_by_the_clipped_window() -> None:
    # 3x3 input, kernel 2, stride 2, ceil: the last window holds one row/column but divides by
    # min(start + k, H + 0) - start = 1, so the corner output is the corner value itself.
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    (y,) = run_layer('type: "Pooling" pooling_param { pool: AVE kernel_size: 2 stride: 2 }', x)
    np.testing.assert_allclose(y[0, 0], [[3.0, 4.5], [7.5, 9.0]])


def test_max_padding_never_wins() -> None:
    x = -np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
    (y,) = run_layer('type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }', x)
    assert (y < 0).all()
    assert y[0, 0, 0, 0] == -1


def test_empty_window_without_padding_gives_minus_flt_max() -> None:
    # kernel 1, stride 3 on 5 columns: ceil gives 3 windows, the last starts at 6 (past the input).
    x = np.ones((1, 1, 1, 5), dtype=np.float32)
    (y,) = run_layer('type: "Pooling" pooling_param { pool: MAX kernel_h: 1 kernel_w: 1 stride: 3 }', x)
    assert y.shape == (1, 1, 1, 3)
    np.testing.assert_array_equal(y[0, 0, 0], [1, 1, -np.finfo(np.float32).max])


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
def test_global_pooling(pool: str) -> None:
    x = rng().standard_normal((2, 3, 5, 7)).astype(np.float32)
    (y,) = run_layer(f'type: "Pooling" pooling_param {{ pool: {pool} global_pooling: true }}', x)
    expected = x.max(axis=(2, 3)) if pool == "MAX" else x.mean(axis=(2, 3))
    np.testing.assert_allclose(y[:, :, 0, 0], expected, atol=ATOL)


def test_max_mask_top_is_the_flat_input_index() -> None:
    x = np.array([[[[1, 9, 2], [3, 4, 8], [7, 5, 6]]]], dtype=np.float32)
    y, mask = run_layer('type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }', x, tops=2)
    np.testing.assert_array_equal(y[0, 0], [[9, 8], [7, 6]])
    np.testing.assert_array_equal(mask[0, 0], [[1, 5], [6, 8]])


def caffe_pooled_size(size: int, kernel: int, stride: int, pad: int, mode: str, *, padded: bool) -> int:
    """PoolingLayer::Reshape as written in Caffe's source (pooling_layer.cpp), kept apart from the
    runtime's `pooled_size` so the expected shapes do not come from the code under test:
    `static_cast<int>(ceil(static_cast<float>(height_ + 2 * pad_h_ - kernel_h_) / stride_h_)) + 1`
    (floor with round_mode FLOOR), then `if (pad_h_ || pad_w_)` drop a last window that starts at
    or past `height_ + pad_h_`."""
    import math

    ratio = (size + 2 * pad - kernel) / stride
    out = (math.ceil(ratio) if mode == "CEIL" else math.floor(ratio)) + 1
    if padded and (out - 1) * stride >= size + pad:
        out -= 1
    return out


CASES = [(k, s, p, mode)
         for k, s, p, mode in itertools.product((1, 2, 3, 4), (1, 2, 3), (0, 1, 2), ("CEIL", "FLOOR")) if p < k]


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize("kernel, stride, pad, mode", CASES)
def test_against_caffe_loops(pool: str, kernel: int, stride: int, pad: int, mode: str) -> None:
    x = rng(kernel * 100 + stride * 10 + pad).standard_normal((1, 2, 7, 6)).astype(np.float32)
    # non-square: kernel_w, stride_w and pad_w differ from the H values
    k = (kernel, kernel + 1 if kernel < 4 else kernel)
    s = (stride, max(1, stride - 1))
    p = (pad, min(pad, kernel - 1))
    text = (f'type: "Pooling" pooling_param {{ pool: {pool} kernel_h: {k[0]} kernel_w: {k[1]} stride_h: {s[0]} '
            f'stride_w: {s[1]} pad_h: {p[0]} pad_w: {p[1]} round_mode: {mode} }}')
    out = (caffe_pooled_size(7, k[0], s[0], p[0], mode, padded=p != (0, 0)),
           caffe_pooled_size(6, k[1], s[1], p[1], mode, padded=p != (0, 0)))
    (y,) = run_layer(text, x)
    assert y.shape == (1, 2, *out)
    np.testing.assert_allclose(y, caffe_pool_reference(x.astype(np.float64), pool, k, s, p, out), atol=ATOL)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize("shape, k, s, p, out", [
    # pad_h only: Caffe (pooling_layer.cpp, `if (pad_h_ || pad_w_)`) clips the last window of W too.
    # W = 5, kernel 1, stride 3: ceil gives 3 columns, the 3rd starts at 6 >= 5 + 0 -> 2 columns.
    ((1, 2, 5, 5), (3, 1), (3, 3), (1, 0), (2, 2)),   # real Caffe 1.0 gives (1, 2, 2, 2)
    ((1, 1, 4, 4), (2, 1), (2, 2), (1, 0), (3, 2)),   # W: ceil((4-1)/2)+1 = 3, the 3rd starts at 4 >= 4 -> 2
    ((1, 1, 4, 4), (1, 2), (2, 2), (0, 1), (2, 3)),   # the same with the axes swapped
])
def test_padding_on_one_axis_clips_both(pool: str, shape: tuple[int, ...], k: tuple[int, int],
                                        s: tuple[int, int], p: tuple[int, int], out: tuple[int, int]) -> None:
    x = rng(7).standard_normal(shape).astype(np.float32)
    text = (f'type: "Pooling" pooling_param {{ pool: {pool} kernel_h: {k[0]} kernel_w: {k[1]} stride_h: {s[0]} '
            f'stride_w: {s[1]} pad_h: {p[0]} pad_w: {p[1]} }}')
    assert layer_shapes(text, shape)[0] == [(*shape[:2], *out)]
    assert pooled_size(shape[3], k[1], s[1], p[1], padded=True) == out[1]
    (y,) = run_layer(text, x)
    np.testing.assert_allclose(y, caffe_pool_reference(x.astype(np.float64), pool, k, s, p, out), atol=ATOL)


def test_shapes_and_no_params() -> None:
    text = 'type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 }'
    tops, params = layer_shapes(text, (1, 8, 113, 113))
    assert tops == [(1, 8, 56, 56)] and params == []


@pytest.mark.parametrize("text, message", [
    ('pooling_param { pool: MAX kernel_size: 2 pad: 2 }', "pad"),
    ('pooling_param { pool: MAX global_pooling: true stride: 2 }', "global_pooling"),
    ('pooling_param { pool: MAX kernel_size: 2 kernel_h: 2 kernel_w: 2 }', "kernel_size OR"),
])
def test_invalid_parameters_name_the_layer(text: str, message: str) -> None:
    with pytest.raises(PurecaffeError, match=message) as caught:
        layer_shapes(f'type: "Pooling" {text}', (1, 1, 6, 6))
    assert "layer 'L' (Pooling)" in str(caught.value)


def test_zero_output_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match="pooled size"):
        layer_shapes('type: "Pooling" pooling_param { pool: MAX kernel_size: 5 }', (1, 1, 3, 3))
