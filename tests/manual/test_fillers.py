"""Caffe's fillers: exact values where Caffe's are exact, statistics within sampling error otherwise.

Tolerances: a sample mean of n draws is off by at most Z standard errors
(sigma / sqrt(n)); a sample std by at most Z * sqrt((mu4 - sigma^4) / n) / (2 sigma)
(the delta-method standard error, mu4 the distribution's 4th central moment).
Z = 6 makes a false failure ~1e-9 per check with seeds fixed anyway.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from purecaffe.manual.fillers import FillerError, FillerSpec, fans, fill
from purecaffe.manual.seeding import blob_rng

Z = 6.0


def rng(seed: int = 0) -> np.random.Generator:
    return blob_rng(seed, "layer", 0)


def mean_tolerance(sigma: float, n: int) -> float:
    return Z * sigma / math.sqrt(n)


def std_tolerance(sigma: float, mu4: float, n: int) -> float:
    return Z * math.sqrt((mu4 - sigma**4) / n) / (2 * sigma)


def check_normal(values: np.ndarray, mean: float, sigma: float) -> None:
    n = values.size
    assert abs(values.mean() - mean) <= mean_tolerance(sigma, n)
    assert abs(values.std() - sigma) <= std_tolerance(sigma, 3 * sigma**4, n)


def check_uniform(values: np.ndarray, low: float, high: float) -> None:
    n, half = values.size, (high - low) / 2
    sigma = half / math.sqrt(3)
    assert values.min() >= low and values.max() < high
    assert abs(values.mean() - (low + high) / 2) <= mean_tolerance(sigma, n)
    assert abs(values.std() - sigma) <= std_tolerance(sigma, half**4 / 5, n)


def test_constant_is_exact_and_float32() -> None:
    value = fill((3, 4), FillerSpec("constant", value=0.25), rng())
    assert value.dtype == np.float32 and value.flags.c_contiguous
    np.testing.assert_array_equal(value, np.full((3, 4), 0.25, np.float32))


def test_default_filler_is_zero_constant() -> None:
    np.testing.assert_array_equal(fill((5,), FillerSpec(), rng()), np.zeros(5, np.float32))


@pytest.mark.parametrize(("low", "high"), [(0.0, 1.0), (-0.5, 0.5), (2.0, 7.0)])
def test_uniform_distribution(low: float, high: float) -> None:
    check_uniform(fill((64, 32, 3, 3), FillerSpec("uniform", min=low, max=high), rng()), low, high)


@pytest.mark.parametrize(("mean", "std"), [(0.0, 1.0), (0.0, 0.01), (1.5, 0.2)])
def test_gaussian_distribution(mean: float, std: float) -> None:
    check_normal(fill((256, 300), FillerSpec("gaussian", mean=mean, std=std), rng()).astype(np.float64), mean, std)


@pytest.mark.parametrize("sparse", [1, 8, 30])
def test_sparse_gaussian_keeps_sparse_over_outputs(sparse: int) -> None:
    shape = (64, 2000)  # Caffe: each value nonzero with probability sparse / shape[0]
    value = fill(shape, FillerSpec("gaussian", std=1.0, sparse=sparse), rng())
    p, n = sparse / shape[0], value.size
    assert abs((value != 0).mean() - p) <= Z * math.sqrt(p * (1 - p) / n)
    check_normal(value[value != 0].astype(np.float64), 0.0, 1.0)


def test_sparse_larger_than_outputs_is_refused() -> None:
    with pytest.raises(FillerError, match="sparse 9 exceeds the blob's 4 outputs"):
        fill((4, 10), FillerSpec("gaussian", sparse=9), rng())


@pytest.mark.parametrize(("shape", "fan_in", "fan_out"), [
    ((64, 32, 3, 3), 32 * 9, 64 * 9),     # Convolution (out, in, kh, kw)
    ((16, 8, 4, 4), 8 * 16, 16 * 16),     # Deconvolution (in, out, kh, kw): Caffe's fans are swapped vs torch
    ((1000, 512), 512, 1000),             # InnerProduct (out, in)
    ((300,), 1, 300),                     # 1-axis blob: fan_out is the count
])
def test_caffe_fan_definitions(shape: tuple[int, ...], fan_in: int, fan_out: int) -> None:
    assert fans(shape) == (fan_in, fan_out)


NORMS = {"FAN_IN": lambda i, o: i, "FAN_OUT": lambda i, o: o, "AVERAGE": lambda i, o: (i + o) / 2}


@pytest.mark.parametrize("norm", list(NORMS))
@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (512, 256), (32, 4, 5, 5)])
def test_xavier_is_uniform_with_std_one_over_sqrt_n(norm: str, shape: tuple[int, ...]) -> None:
    n = NORMS[norm](*fans(shape))
    scale = math.sqrt(3.0 / n)
    value = fill(shape, FillerSpec("xavier", variance_norm=norm), rng()).astype(np.float64)
    check_uniform(value, -scale, scale)
    assert abs(value.std() - 1 / math.sqrt(n)) <= std_tolerance(scale / math.sqrt(3), scale**4 / 5, value.size)


@pytest.mark.parametrize("norm", list(NORMS))
@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (512, 256), (32, 4, 5, 5)])
def test_msra_is_normal_with_std_sqrt_two_over_n(norm: str, shape: tuple[int, ...]) -> None:
    n = NORMS[norm](*fans(shape))
    check_normal(fill(shape, FillerSpec("msra", variance_norm=norm), rng()).astype(np.float64),
                 0.0, math.sqrt(2.0 / n))


def test_positive_unitball_rows_sum_to_one() -> None:
    value = fill((20, 3, 4, 5), FillerSpec("positive_unitball"), rng())
    assert value.min() >= 0 and value.max() <= 1
    np.testing.assert_allclose(value.reshape(20, -1).sum(axis=1), 1.0, rtol=1e-6)  # float32 rounding of 60 terms


@pytest.mark.parametrize(("kernel", "line"), [
    (1, [1.0]),
    (2, [0.5, 0.5]),
    (3, [0.5, 1.0, 0.5]),
    (4, [0.25, 0.75, 0.75, 0.25]),                  # the 2x upsampling kernel
    (5, [1 / 3, 2 / 3, 1.0, 2 / 3, 1 / 3]),
    (6, [1 / 6, 0.5, 5 / 6, 5 / 6, 0.5, 1 / 6]),   # 3x upsampling
])
def test_bilinear_exact_values(kernel: int, line: list[float]) -> None:
    value = fill((3, 1, kernel, kernel), FillerSpec("bilinear"), rng())
    expected = np.outer(line, line).astype(np.float32)
    for c in range(3):
        np.testing.assert_allclose(value[c, 0], expected, rtol=0, atol=2.5e-7)  # Caffe's float32 steps: ~2 ulp


def test_bilinear_kernel_upsamples_a_constant_to_a_constant() -> None:
    torch = pytest.importorskip("torch")
    weight = torch.from_numpy(fill((2, 1, 4, 4), FillerSpec("bilinear"), rng()))
    image = torch.full((1, 2, 6, 6), 3.0)
    out = torch.nn.functional.conv_transpose2d(image, weight, stride=2, padding=1, groups=2)
    assert out.shape == (1, 2, 12, 12)
    np.testing.assert_allclose(out[..., 1:-1, 1:-1].numpy(), 3.0, rtol=1e-6)  # borders see zero padding


@pytest.mark.parametrize(("spec", "shape", "message"), [
    (FillerSpec("bilinear"), (2, 1, 3, 4), "square kernel"),
    (FillerSpec("bilinear"), (2, 9), "4-D blob"),
    (FillerSpec("xavier"), (), "at least one axis"),
    (FillerSpec("gaussan"), (3,), "unknown filler type 'gaussan'"),
    (FillerSpec("uniform", sparse=3), (3,), "only supported by the gaussian filler"),
])
def test_filler_errors(spec: FillerSpec, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(FillerError, match=message):
        fill(shape, spec, rng())


def test_streams_are_deterministic_per_seed_layer_and_blob() -> None:
    spec = FillerSpec("gaussian")
    a = fill((100,), spec, blob_rng(7, "conv1", 0))
    np.testing.assert_array_equal(a, fill((100,), spec, blob_rng(7, "conv1", 0)))
    for other in (blob_rng(8, "conv1", 0), blob_rng(7, "conv2", 0), blob_rng(7, "conv1", 1)):
        assert not np.array_equal(a, fill((100,), spec, other))


def test_zero_axis_blob_stays_zero_axis() -> None:
    value = fill((), FillerSpec("constant", value=0.25), rng())  # PReLU channel_shared: Caffe's shape is ()
    assert value.shape == () and value.dtype == np.float32 and float(value) == 0.25
