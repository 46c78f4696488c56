"""BatchNorm (scale factor blob), LRN (both regions), MVN, and the fork layers BN and Normalize."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from runtime_case import layer_shapes, rng, run_layer

from purecaffe.errors import ShapeError

# Hand-checked values are exact in float32 up to a few ulps; random cases compare float32 against
# a float64 reference of the same formula: a few ulps of values of order 1.
RTOL = 1e-5
ATOL = 1e-6


def test_batch_norm_divides_mean_and_variance_by_the_factor() -> None:
    x = np.array([[3.0, 8.0]], dtype=np.float32)
    mean, var, factor = np.array([2.0, 4.0]), np.array([8.0, 18.0]), np.array([2.0])
    (y,) = run_layer('type: "BatchNorm" batch_norm_param { eps: 0 }', x, blobs=[mean, var, factor])
    # mean/2 = (1, 2), var/2 = (4, 9): (3 - 1) / 2 = 1, (8 - 2) / 3 = 2
    np.testing.assert_allclose(y, [[1.0, 2.0]], rtol=RTOL)


def test_batch_norm_zero_factor_means_zero_statistics() -> None:
    x = np.array([[3.0, -8.0]], dtype=np.float32)
    (y,) = run_layer('type: "BatchNorm"', x, blobs=[np.array([5.0, 5.0]), np.array([7.0, 7.0]), np.array([0.0])])
    np.testing.assert_allclose(y, x / np.sqrt(1e-5), rtol=RTOL)


@pytest.mark.parametrize("shape", [(2, 3), (1, 3, 4, 5), (2, 3, 2, 2, 2)])
def test_batch_norm_global_stats(shape) -> None:
    r = rng(len(shape))
    x = r.standard_normal(shape).astype(np.float32)
    mean, var, factor = r.standard_normal(3) * 0.1, r.uniform(0.5, 1.5, 3), np.array([1.7])
    (y,) = run_layer('type: "BatchNorm" batch_norm_param { use_global_stats: true eps: 0.001 }', x,
                     blobs=[mean, var, factor])
    view = (1, 3) + (1,) * (len(shape) - 2)
    expected = (x - (mean / 1.7).reshape(view)) / np.sqrt((var / 1.7).reshape(view) + 0.001)
    np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL)


def test_batch_norm_batch_statistics() -> None:
    x = rng(1).standard_normal((4, 3, 5, 5)).astype(np.float32)
    zeros = np.zeros(3)
    (y,) = run_layer('type: "BatchNorm" batch_norm_param { use_global_stats: false }', x,
                     blobs=[zeros, zeros, np.array([1.0])])
    mean = x.astype(np.float64).mean(axis=(0, 2, 3), keepdims=True)
    var = x.astype(np.float64).var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)


def test_batch_norm_param_shapes() -> None:
    assert layer_shapes('type: "BatchNorm"', (1, 16, 4, 4))[1] == [(16,), (16,), (1,)]
    assert layer_shapes('type: "BatchNorm"', (8,))[1] == [(1,), (1,), (1,)]


def reference_lrn(x: np.ndarray, size: int, alpha: float, beta: float, k: float, region: str) -> np.ndarray:
    n, c, h, w = x.shape
    pre = (size - 1) // 2
    y = np.empty_like(x)
    if region == "ACROSS_CHANNELS":
        for ch in range(c):
            lo, hi = max(0, ch - pre), min(c, ch - pre + size)
            scale = k + alpha / size * (x[:, lo:hi] ** 2).sum(axis=1)
            y[:, ch] = x[:, ch] * scale ** -beta
        return y
    for i, j in itertools.product(range(h), range(w)):
        hs, ws = i - pre, j - pre
        he, we = min(hs + size, h + pre), min(ws + size, w + pre)
        divisor = (he - hs) * (we - ws)
        total = (x[:, :, max(hs, 0):min(he, h), max(ws, 0):min(we, w)] ** 2).sum(axis=(2, 3))
        y[:, :, i, j] = x[:, :, i, j] * (1 + alpha * total / divisor) ** -beta
    return y


def test_lrn_hand_checked() -> None:
    x = np.full((1, 1, 1, 1), 2.0, dtype=np.float32)
    (y,) = run_layer('type: "LRN" lrn_param { local_size: 1 alpha: 1 beta: 1 k: 1 }', x)
    np.testing.assert_allclose(y, [[[[0.4]]]], rtol=RTOL)      # 2 / (1 + 1/1 * 4)
    text = 'type: "LRN" lrn_param { local_size: 1 alpha: 1 beta: 1 k: 100 norm_region: WITHIN_CHANNEL }'
    (y,) = run_layer(text, x)
    np.testing.assert_allclose(y, [[[[0.4]]]], rtol=RTOL)      # k is not used within a channel


@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
@pytest.mark.parametrize("size, alpha, beta, k", [(5, 1e-4, 0.75, 1.0), (3, 0.5, 0.6, 2.0), (1, 1.0, 1.0, 1.0)])
def test_lrn_against_caffe_formula(region, size, alpha, beta, k) -> None:
    x = rng(size).standard_normal((2, 7, 5, 6)).astype(np.float32) * 3
    text = (f'type: "LRN" lrn_param {{ local_size: {size} alpha: {alpha} beta: {beta} k: {k} '
            f'norm_region: {region} }}')
    (y,) = run_layer(text, x)
    expected = reference_lrn(x.astype(np.float64), size, alpha, beta, k, region)
    np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL)


def test_lrn_even_size_is_an_error() -> None:
    with pytest.raises(ShapeError, match="odd"):
        layer_shapes('type: "LRN" lrn_param { local_size: 4 }', (1, 3, 4, 4))


def test_mvn_hand_checked() -> None:
    x = np.array([1, 2, 3, 4], dtype=np.float32).reshape(1, 1, 2, 2)
    (y,) = run_layer('type: "MVN"', x)
    np.testing.assert_allclose(y.reshape(-1), np.array([-1.5, -0.5, 0.5, 1.5]) / (np.sqrt(1.25) + 1e-9), rtol=RTOL)


@pytest.mark.parametrize("normalize_variance, across_channels", list(itertools.product([True, False], repeat=2)))
def test_mvn(normalize_variance, across_channels) -> None:
    x = rng(3).standard_normal((2, 3, 4, 5)).astype(np.float32) * 2 + 1
    text = (f'type: "MVN" mvn_param {{ normalize_variance: {str(normalize_variance).lower()} '
            f'across_channels: {str(across_channels).lower()} eps: 0.01 }}')
    (y,) = run_layer(text, x)
    axes = (1, 2, 3) if across_channels else (2, 3)
    d = x.astype(np.float64)
    expected = d - d.mean(axis=axes, keepdims=True)
    if normalize_variance:
        expected = expected / (np.sqrt((expected ** 2).mean(axis=axes, keepdims=True)) + 0.01)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)


def test_mvn_top_is_legacy_four_d() -> None:
    assert layer_shapes('type: "MVN"', (2, 6))[0] == [(2, 6, 1, 1)]


def test_bn_fork_layer() -> None:
    r = rng(4)
    x = r.standard_normal((1, 3, 2, 2)).astype(np.float32)
    scale, shift, mean, var = (r.uniform(0.5, 1.5, (1, 3, 1, 1)) for _ in range(4))
    (y,) = run_layer('type: "BN" bn_param { eps: 0.001 }', x, blobs=[scale, shift, mean, var])
    np.testing.assert_allclose(y, scale * (x - mean) / np.sqrt(var + 0.001) + shift, rtol=RTOL)
    assert layer_shapes('type: "BN"', (1, 3, 2, 2))[1] == [(1, 3, 1, 1)] * 4


def test_normalize_hand_checked() -> None:
    x = np.array([3.0, 4.0], dtype=np.float32).reshape(1, 2, 1, 1)
    (y,) = run_layer('type: "Normalize" norm_param { across_spatial: false channel_shared: true }', x,
                     blobs=[np.array(2.0)])
    np.testing.assert_allclose(y.reshape(-1), [1.2, 1.6], rtol=RTOL)


@pytest.mark.parametrize("across_spatial, channel_shared", list(itertools.product([True, False], repeat=2)))
def test_normalize(across_spatial, channel_shared) -> None:
    r = rng(5)
    x = r.standard_normal((2, 3, 4, 4)).astype(np.float32)
    factor = np.array(1.5) if channel_shared else r.uniform(1, 2, 3)
    text = (f'type: "Normalize" norm_param {{ across_spatial: {str(across_spatial).lower()} '
            f'channel_shared: {str(channel_shared).lower()} }}')
    (y,) = run_layer(text, x, blobs=[factor])
    d = x.astype(np.float64)
    axes = (1, 2, 3) if across_spatial else (1,)
    expected = d / np.sqrt((d ** 2).sum(axis=axes, keepdims=True) + 1e-10)
    expected = expected * (factor if channel_shared else factor.reshape(1, 3, 1, 1))
    np.testing.assert_allclose(y, expected, rtol=RTOL, atol=ATOL)
    assert layer_shapes(text, (2, 3, 4, 4))[1] == ([()] if channel_shared else [(3,)])
