"""Constants without a Parameter layer (opencv, rknn, sophgo, mnn): a zero-weight 1x1 Convolution of an earlier
blob (`rules_constants`).

The whole nets are judged on each consumer, real Caffe and the runtime by tests/targets/test_rules.py and
test_rules_sophgo_mnn.py (cases `cat_*`);
here the rule's own answers: which constants it takes, which blob it reads, where the layer goes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import purecaffe
from judges import opencv
from purecaffe.canonical import Blob, builders
from purecaffe.runtime import run
from purecaffe.targets import findings, get_target, legalize
from purecaffe.targets.rules_constants import channel_values, parameters_as_convolutions

OPENCV = get_target("opencv")


def _parameter(name: str, value: np.ndarray):  # noqa: ANN202
    return builders.parameter(name, name, value.shape).with_weights([value.astype(np.float32)])


@pytest.mark.parametrize(("value", "expected"), [
    (np.zeros((1, 3, 2, 5)), [0.0, 0.0, 0.0]),
    (np.broadcast_to(np.array([1.5, -2.0]).reshape(1, 2, 1, 1), (2, 2, 3, 3)), [1.5, -2.0]),
    (np.arange(6.0).reshape(1, 1, 2, 3), None),        # varies in space
    (np.arange(2.0).reshape(2, 1, 1, 1), None),        # varies along the batch
    (np.full((1, 2, 2, 2), np.nan), None),             # NaN equals nothing: left
    (np.zeros((1, 3, 4)), None),                       # not 4-D
])
def test_channel_values(value: np.ndarray, expected: list[float] | None) -> None:
    found = channel_values(_parameter("c", np.asarray(value)))
    assert (found is None and expected is None) or found.tolist() == expected


def test_the_constant_reads_the_readers_sibling_and_stands_before_the_reader() -> None:
    x = Blob("x", (1, 3, 5, 7))
    data = builders.input_layer("data", [x])
    pool = builders.pooling("pool", x, "pool", method="MAX", kernel=1, stride=1)
    zeros = _parameter("zeros", np.zeros((1, 4, 5, 7)))
    cat = builders.concat("cat", [pool.top, zeros.top], "cat", axis=1)
    out = parameters_as_convolutions([data, zeros, pool, cat], OPENCV)
    assert [layer.name for layer in out] == ["data", "pool", "zeros", "cat"]
    conv = next(layer for layer in out if layer.name == "zeros")
    assert conv.type == "Convolution" and conv.bottom_names == ("pool",) and conv.top == zeros.top
    weight, bias = conv.weights
    assert weight.shape == (4, 3, 1, 1) and not weight.any() and bias.tolist() == [0.0] * 4


class _PadChannels(nn.Module):
    """ENet's downsampling shortcut: the pooled map, then zero channels (a constant of the pooled size)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.max_pool2d(x, 2)
        return torch.cat([pooled, torch.zeros(2, 5, 2, 3), pooled * 0.5], 1)


@pytest.mark.parametrize("scale", [1.0, 1e30])  # 0 x |x| up to 1e30 is still 0: the constant is exact for finite x
@pytest.mark.parametrize("backend", ["runtime", "opencv"])
def test_the_zero_channels_are_exact_on_large_inputs(backend: str, scale: float, tmp_path: Path) -> None:
    """The output is compared exactly (a tolerance relative to max|torch| = 1e30 would hide any zero channel
    error): Concat and MAX Pooling copy, the 0.5 product is exact, the constant is 0 + 0 x x."""
    x = torch.randn(2, 3, 5, 7, generator=torch.Generator().manual_seed(0)) * scale
    net = purecaffe.convert(_PadChannels().eval(), (x,), target="opencv")
    assert "Parameter" not in {layer.type for layer in net.net.layer}
    files = net.save(tmp_path / "net")
    (output,) = net.output_names
    if backend == "opencv":
        cv2 = opencv()  # the judge must be there: a skip locally, a failure under CI=true
        reader = cv2.dnn.readNetFromCaffe(str(files.prototxt), str(files.caffemodel))
        reader.setInput(x.numpy())
        got = reader.forward([output])[0]
    else:
        got = run(str(files.prototxt), str(files.caffemodel), {net.input_names[0]: x.numpy()}).blobs[output]
    np.testing.assert_array_equal(got, _PadChannels()(x).numpy())


def test_a_constant_without_a_blob_of_its_size_is_refused_with_the_reason() -> None:
    x = Blob("x", (1, 3, 5, 7))
    zeros = _parameter("zeros", np.zeros((2, 2, 4, 4)))  # batch 2: no blob of its size, no batch-1 form
    layers = [zeros, builders.eltwise("sum", [Blob("zeros", (2, 2, 4, 4)), Blob("zeros", (2, 2, 4, 4))], "sum")]
    out = legalize([builders.relu("r", x, "r"), *layers], OPENCV)
    assert [layer.type for layer in out] == ["ReLU", "Parameter", "Eltwise"]
    (finding,) = findings(out, OPENCV)
    assert finding.layer == "zeros" and "opencv has no Parameter layer; its rewrite is declined: only a constant " \
        "varying along channels alone" in finding.message


@pytest.mark.parametrize("target", ["opencv", "rknn", "sophgo", "mnn"])
def test_a_batch_one_constant_is_flattened_into_a_convolution_of_a_pooled_blob(target: str) -> None:
    """A class token (1, 1, 6) varying along its last axis: MAX pooling of the earlier 4-D blob, a zero-weight
    Convolution with the 6 values as bias, a Reshape; the runtime gives the values exactly."""
    x = Blob("x", (1, 3, 5, 7))
    value = np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(1, 1, 6)
    token = _parameter("token", value)
    layers = [builders.input_layer("input", [x]), builders.relu("r", x, "r"), token,
              builders.eltwise("sum", [Blob("token", (1, 1, 6)), Blob("token", (1, 1, 6))], "sum")]
    out = legalize(layers, get_target(target))
    assert [layer.type for layer in out][:5] == ["Input", "ReLU", "Pooling", "Convolution", "Reshape"]
    assert not findings(out, get_target(target))
    net = purecaffe.targets.net_parameter(out, name="t", target=get_target(target))
    weights = {layer.name: list(layer.weights) for layer in out if layer.weights}
    feed = np.random.default_rng(0).standard_normal((1, 3, 5, 7)).astype(np.float32) * 1e30
    got = run(net, weights, {"x": feed}).blobs["sum"]
    np.testing.assert_array_equal(got, value + value)
