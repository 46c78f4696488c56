"""RKNN's reading faults (`purecaffe.targets.rknn_rules`): the runtime here, RKNN's simulator in
tests/rknn/test_rknn_rules.py.  Tolerance: float32 rounding (1e-6 of max|torch|: the rules only
respell a layer or reshape around it, the same products)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import purecaffe
from purecaffe.canonical import Blob, builders
from purecaffe.runtime import infer_shapes, run
from purecaffe.targets import get_target, legalize, net_parameter
from purecaffe.targets.rknn_rules import scale_in_four_axes
from torch_compare import run_compare_torch


def test_every_convolution_and_deconvolution_carries_stride_and_pad() -> None:
    model = nn.Sequential(nn.ConvTranspose2d(4, 3, 4, 1, 0), nn.Conv2d(3, 2, 3), nn.Conv2d(2, 2, 3, 2, 1)).eval()
    x = torch.randn(1, 4, 5, 5)
    for target, explicit in (("rknn", True), ("bvlc", False)):
        layers = [layer for layer in purecaffe.convert(model, (x,), target=target).net.layer
                  if layer.type in ("Convolution", "Deconvolution")]
        assert len(layers) == 3
        spelled = [(list(layer.convolution_param.stride), list(layer.convolution_param.pad)) for layer in layers]
        if explicit:
            assert spelled == [([1], [0]), ([1], [0]), ([2], [1])]
        else:
            assert spelled[0] == ([], [])  # caffe.proto's defaults, which RKNN reads as stride 0


class RadixProduct(nn.Module):
    """ResNeSt's split-attention product: x (N, radix, C, H, W) * attn (N, radix, C, 1, 1), summed over radix."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.fc = nn.Conv2d(4, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).reshape(1, 2, 4, 6, 7)
        attn = self.fc(x.mean((2, 3), keepdim=True)).reshape(1, 2, 4, 1, 1)
        return (y * attn).sum(1)


def test_radix_product_in_the_runtime() -> None:
    converted = purecaffe.convert(RadixProduct().eval(), (torch.randn(1, 4, 6, 7),), target="rknn")
    scales = [step for step in infer_shapes(converted.net).steps if step.type == "Scale"]
    assert [step.name for step in scales] == ["mul/4d"]
    assert [shape for _, shape in scales[0].bottoms] == [(1, 8, 6, 7), (1, 8)]
    run_compare_torch(RadixProduct(), [(1, 4, 6, 7)], target="rknn", backend="runtime")


@pytest.mark.parametrize("shape, axis, factor, bias", [
    ((1, 2, 3, 4, 5), 1, (2, 3), True),        # learned factor over two axes
    ((2, 3, 2, 4, 3, 2), 2, (2, 4), False),    # 6-D, batch 2, factor in the middle
    ((1, 2, 3, 4, 5), 3, (4, 5), True),        # factor to the end
], ids=["axes_1_2", "six_axes", "to_the_end"])
def test_learned_scale_of_many_axes_in_the_runtime(shape: tuple[int, ...], axis: int, factor: tuple[int, ...],
                                                   bias: bool) -> None:
    rng = np.random.default_rng(0)
    x = Blob("data", shape)
    weights = [rng.standard_normal(factor).astype(np.float32) for _ in range(2 if bias else 1)]
    scale = builders.scale("scale", [x], "out", axis=axis, num_axes=len(factor), bias_term=bias).with_weights(weights)
    layers = [builders.input_layer("data", [x]), scale]
    target = get_target("rknn")
    legal = legalize(layers, target)
    assert [layer.type for layer in legal[1:]] == ["Reshape", "Scale", "Reshape"]
    assert all(len(top.shape) <= 4 for layer in legal[1:3] for top in layer.tops)
    data = rng.standard_normal(shape).astype(np.float32)

    def output(these: list, spelled_for: str = "rknn") -> np.ndarray:
        net = net_parameter(these, name="n", target=get_target(spelled_for))
        return run(net, {layer.name: list(layer.weights) for layer in these if layer.weights}, {"data": data}
                   ).blobs["out"]

    before = output(layers, "bvlc")  # the Scale as the lowering made it (not legal for rknn)
    np.testing.assert_allclose(output(legal), before, rtol=0, atol=1e-6 * np.abs(before).max())


def test_a_learned_factor_over_the_batch_is_left_for_the_checks() -> None:
    x = Blob("data", (1, 2, 3, 4, 5))
    layer = builders.scale("scale", [x], "out", axis=0, num_axes=2).with_weights([np.ones((1, 2), np.float32)])
    assert scale_in_four_axes(layer, get_target("rknn")) is None


class _MeanThen(nn.Module):
    """The mean over H, W of 32 channels, then transposed as 2 x 4 x 4 (`transpose`) or fed to a Linear."""

    def __init__(self, transpose: bool) -> None:
        super().__init__()
        self.transpose = transpose
        self.fc = nn.Linear(32, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean((2, 3))
        return mean.view(1, 2, 4, 4).transpose(-1, -2) * 2.0 if self.transpose else self.fc(mean)


def test_a_permuted_global_average_pools_rows_with_the_same_values() -> None:
    """`GLOBAL_AVERAGE_PERMUTED`: the pooling is over one row of a (1, 1, 32, 21) view, the same sums in the same
    order: the runtime gives bit for bit what bvlc's global pooling gives.  A classifier's global pooling
    (no Permute after it) is left alone."""
    x = torch.randn(1, 32, 7, 3, generator=torch.Generator().manual_seed(0))
    model = _MeanThen(transpose=True).eval()
    rknn, bvlc = (purecaffe.convert(model, (x,), target=target) for target in ("rknn", "bvlc"))
    pools = [(layer.pooling_param.kernel_h, layer.pooling_param.kernel_w)
             for layer in rknn.net.layer if layer.type == "Pooling"]
    assert pools == [(1, 21)], pools
    values = [run(net.net, net.weights, {net.input_names[0]: x.numpy()}).blobs[net.output_names[0]]
              for net in (rknn, bvlc)]
    np.testing.assert_array_equal(values[0], values[1])
    run_compare_torch(model, [x], target="rknn", backend="runtime")
    classifier = purecaffe.convert(_MeanThen(transpose=False).eval(), (x,), target="rknn")
    assert [layer.type for layer in classifier.net.layer][:2] == ["Input", "Pooling"]
