"""The runtime's fp16-storage mode: inputs, parameters and tops rounded to fp16, float32 arithmetic."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from runtime_case import net_text
from purecaffe.io.prototxt import parse_net_text
from purecaffe.runtime import run

CONV = 'type: "Convolution" convolution_param { num_output: 4 kernel_size: 3 pad: 1 }'


def _net_and_weights() -> tuple[object, dict, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 3, 6, 5)).astype(np.float32)
    weights = {"L": [rng.standard_normal((4, 3, 3, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)]}
    return parse_net_text(net_text(CONV, [x.shape])), weights, x


def _half(a: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(a).to(torch.float16).to(torch.float32)


def test_a_layer_computes_in_float32_on_fp16_operands_and_stores_fp16() -> None:
    net, weights, x = _net_and_weights()
    got = run(net, weights, {"in0": x}, fp16_storage=True).blobs["out"]
    expected = _half(F.conv2d(_half(x), _half(weights["L"][0]), _half(weights["L"][1]), padding=1)).numpy()
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, got.astype(np.float16).astype(np.float32))


def test_float32_is_the_default_and_fp16_storage_differs_from_it_by_fp16_rounding() -> None:
    net, weights, x = _net_and_weights()
    fp32 = run(net, weights, {"in0": x}).blobs["out"]
    np.testing.assert_allclose(fp32, F.conv2d(torch.from_numpy(x), torch.from_numpy(weights["L"][0]),
                                              torch.from_numpy(weights["L"][1]), padding=1).numpy(), rtol=0, atol=1e-5)
    fp16 = run(net, weights, {"in0": x}, fp16_storage=True).blobs["out"]
    rel = np.abs(fp16 - fp32).max() / np.abs(fp32).max()
    # 27 products of fp16-rounded operands (2^-11 relative each) and one final rounding: above zero, below 1e-2
    assert 1e-5 < rel < 1e-2, rel


def test_every_step_snapshot_is_fp16_representable() -> None:
    net = parse_net_text(net_text('type: "Sigmoid"', [(2, 7)]))
    x = np.linspace(-3, 3, 14, dtype=np.float32).reshape(2, 7) + np.float32(1e-4)
    result = run(net, None, {"in0": x}, fp16_storage=True)
    (_, top), = result.step("L").tops
    np.testing.assert_array_equal(top, _half(torch.sigmoid(_half(x))).numpy())
