"""Broadcast products and sums (`purecaffe.targets.rules_broadcast`): placements, the rewrite, the runtime.

RKNN's own simulator runs the same nets in tests/rknn/test_rknn_broadcast.py.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import purecaffe
from broadcast_nets import GATES, SIZE, AttentionPyramid, Gate, PanGates
from judge_nets import randomized
from purecaffe.canonical import Blob, builders
from purecaffe.runtime import run
from purecaffe.targets import findings, get_target, net_parameter
from purecaffe.targets.rules_broadcast import bias_as_scaled_ones
from purecaffe.targets.limits import BATCH_CHANNEL, LAST_AXIS, OTHER, SINGLE, scale_factor_placement
from torch_compare import run_compare_torch

X = Blob("x", (1, 8, 6, 10))


@pytest.mark.parametrize("factor, axis, expected", [
    ((1, 8), 0, BATCH_CHANNEL), ((10,), 3, LAST_AXIS), ((1,), 0, SINGLE), ((), 0, SINGLE),
    ((6, 10), 2, OTHER), ((6,), 2, OTHER), ((8,), 1, OTHER), ((1, 8, 6), 0, OTHER),
], ids=["se", "width", "one", "scalar", "spatial", "height", "channels_at_1", "rows"])
def test_placement_of_a_second_bottom(factor: tuple[int, ...], axis: int, expected: str) -> None:
    layer = builders.scale("s", [X, Blob("f", factor)], "s", axis=axis)
    assert scale_factor_placement(layer) == expected


def test_a_misread_scale_left_over_is_refused_naming_the_placement() -> None:
    """A two-bottom Scale with a bias term is not rewritten (the Tile form has no bias): the check refuses it."""
    layer = builders.scale("s", [X, Blob("f", (6, 10))], "s", axis=2, bias_term=True)
    rknn = get_target("rknn")
    assert purecaffe.targets.legalize([layer], rknn) == [layer]
    (found,) = [f for f in findings([layer], rknn) if f.rule == "scale-factor-placement"]
    assert "ignores a second bottom's axis" in found.message and "(1, 8, 6, 10)" in found.message
    assert not [f for f in findings([layer], get_target("bvlc")) if f.rule == "scale-factor-placement"]


def _scales_and_biases(net: purecaffe.ConvertedNet) -> list[tuple[str, int, list[int]]]:
    return [(layer.type, layer.scale_param.axis if layer.type == "Scale" else layer.bias_param.axis, list(layer.bottom))
            for layer in net.net.layer if layer.type in ("Scale", "Bias") and len(layer.bottom) == 2]


@pytest.mark.parametrize("op", ["mul", "add"])
@pytest.mark.parametrize("gate", sorted(GATES))
def test_rknn_files_hold_only_placements_rknn_reads(gate: str, op: str) -> None:
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    net = purecaffe.convert(Gate(GATES[gate], op).eval(), (x,), target="rknn")
    kept = _scales_and_biases(net)
    assert all(kind == "Scale" for kind, _, _ in kept), kept  # rknn has no Bias
    kept_where_read_right = {"channel": [("Scale", 0)], "width": [("Scale", 3)], "single": [("Scale", 0)]}
    keeps = kept_where_read_right.get(gate, []) if op == "mul" else []
    assert [(kind, axis) for kind, axis, _ in kept] == keeps
    types = [layer.type for layer in net.net.layer]
    assert ("Tile" in types) == (not keeps)
    bvlc = purecaffe.convert(Gate(GATES[gate], op).eval(), (x,), target="bvlc")
    assert "Eltwise" not in {layer.type for layer in bvlc.net.layer} or gate == "columns"  # bvlc keeps Scale/Bias


@pytest.mark.parametrize("op", ["mul", "add"])
@pytest.mark.parametrize("gate", sorted(GATES))
def test_rknn_rewrite_in_the_runtime(gate: str, op: str) -> None:
    """The Tile + Eltwise form computes PyTorch's numbers (copies, then one product or sum per element)."""
    run_compare_torch(Gate(GATES[gate], op).eval(), [(1, 3, SIZE, SIZE)], target="rknn", backend="runtime")


@pytest.mark.parametrize("factory, shape", [(AttentionPyramid, (1, 8, 16, 24)), (PanGates, (1, 8, 16, 24))],
                         ids=["lednet_apn", "pan_fpa_gau"])
def test_attention_nets_in_the_runtime(factory: type[nn.Module], shape: tuple[int, ...]) -> None:
    run_compare_torch(randomized(factory()), [shape], target="rknn", backend="runtime")


def test_flatten_from_axis_two_is_a_reshape_on_rknn() -> None:
    """RKNN reads Flatten as ONNX's (always 2-D: (1, 8, 6, 10) from axis 2 gave (8, 60), measured): a Reshape."""
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Flatten(2), nn.Softmax(-1)).eval()
    x = torch.randn(1, 3, 6, 10)
    types = {target: [layer.type for layer in purecaffe.convert(model, (x,), target=target).net.layer]
             for target in ("rknn", "bvlc")}
    assert types == {"rknn": ["Input", "Convolution", "Reshape", "Softmax"],
                     "bvlc": ["Input", "Convolution", "Flatten", "Softmax"]}


class _LayerNormBias(nn.Module):
    """layer_norm with a bias and no weight: its affine is a one-bottom Bias over W."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.linspace(-1.0, 1.0, 7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.layer_norm(x, (7,), None, self.bias)


@pytest.mark.parametrize("factory", [lambda: nn.LayerNorm(7), _LayerNormBias,
                                     lambda: nn.AvgPool2d(3, 2, padding=1, count_include_pad=False)],
                         ids=["layer_norm", "layer_norm_bias_only", "avgpool_exclude_divisor"])
def test_per_position_parameters_become_channel_parameters_on_rknn(factory) -> None:  # noqa: ANN001
    """RKNN refuses Scale parameters off the channel axis: the rknn file scales channels of a reshaped blob."""
    model = factory().eval()
    x = torch.randn(1, 3, 9, 7, generator=torch.Generator().manual_seed(4))
    net = purecaffe.convert(model, (x,), target="rknn")
    scales = [layer for layer in net.net.layer if layer.type == "Scale" and len(layer.bottom) == 1]
    assert scales and all(layer.scale_param.axis == 1 and layer.scale_param.num_axes == 1 for layer in scales)
    assert "Bias" not in {layer.type for layer in net.net.layer}
    run_compare_torch(factory().eval(), [x], target="rknn", backend="runtime")


@pytest.mark.parametrize("target, rewritten", [("opencv", True), ("rknn", False), ("bvlc", False), ("mnn", False)])
def test_a_broadcast_bias_without_bias_or_tile_is_a_scale_of_ones(target: str, rewritten: bool) -> None:
    """opencv has neither Bias nor Tile: x + f is Power 0 ones, a two-bottom Scale (1 * f), Eltwise SUM.  rknn
    tiles (it has Tile), bvlc keeps the Bias, mnn copies by a Deconvolution (`rules_forms.broadcast_as_eltwise`)."""
    x, factor = Blob("x", (2, 3, 35, 1)), Blob("f", (2, 3))
    layer = builders.bias("b", [x, factor], "b", axis=0)
    outcome = bias_as_scaled_ones(layer, get_target(target))
    if not rewritten:
        assert outcome is None
        return
    ones, spread, total = outcome.layers
    assert (ones.type, ones.params["power"], spread.type, spread.bottom_names, total.type, total.top_names) == \
        ("Power", 0.0, "Scale", ("b/ones", "f"), "Eltwise", ("b",))
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal(x.shape).astype(np.float32), "f": rng.standard_normal(factor.shape).astype(np.float32)}
    feeds["x"][0, 0, :3, 0] = (np.inf, -np.inf, np.nan)  # Caffe's Power 0 fills 1 without reading x: as Bias

    def output(layers: list) -> np.ndarray:
        net = net_parameter([builders.input_layer("data", [x, factor]), *layers], name="n", target=get_target("bvlc"))
        return run(net, {}, feeds).blobs["b"]

    np.testing.assert_array_equal(output(list(outcome.layers)), output([layer]))


def test_the_scale_of_ones_in_opencv_is_the_bias_bit_for_bit(tmp_path) -> None:  # noqa: ANN001
    """OpenCV 4.x with its default fusion: x + f exactly, inf and NaN in x included (its pow(y, 0) is 1)."""
    from judges import opencv
    from purecaffe.io.prototxt import write_net
    from purecaffe.io.weights import save_weights

    cv2 = opencv()
    x, factor = Blob("x", (2, 3, 35, 1)), Blob("f", (2, 3))
    rewritten = bias_as_scaled_ones(builders.bias("b", [x, factor], "b", axis=0), get_target("opencv"))
    net = net_parameter([builders.input_layer("data", [x, factor]), *rewritten.layers], name="n",
                        target=get_target("opencv"))
    write_net(net, tmp_path / "n.prototxt")
    save_weights(tmp_path / "n.caffemodel", {layer.name: [] for layer in net.layer}, net=net)
    rng = np.random.default_rng(0)
    xs, fs = rng.standard_normal(x.shape).astype(np.float32), rng.standard_normal(factor.shape).astype(np.float32)
    xs[0, 0, :3, 0] = (np.inf, -np.inf, np.nan)
    reader = cv2.dnn.readNetFromCaffe(str(tmp_path / "n.prototxt"), str(tmp_path / "n.caffemodel"))
    reader.setInput(xs, "x")
    reader.setInput(fs, "f")
    np.testing.assert_array_equal(reader.forward("b"), xs + fs[:, :, None, None])


class _WindowMask(nn.Module):
    """timm Swin's shifted-window attention mask: a constant added to a 5-D (B, windows, heads, N, N) view."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mask", torch.randn(2, 1, 5, 5, generator=torch.Generator().manual_seed(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attn = x.view(1, 2, 3, 5, 5) + self.mask.unsqueeze(0)
        return torch.softmax(attn, -1).view(1, 6, 5, 5)


def test_a_constant_added_to_a_5d_view_on_opencv(tmp_path) -> None:  # noqa: ANN001
    """The one-bottom Bias/Scale over axes past the channels of a 5-D blob becomes a Scale over the channels of a
    4-D view (OpenCV fuses a Scale one parameter per channel): in the runtime and in OpenCV."""
    from judges import opencv

    x = torch.randn(1, 6, 5, 5, generator=torch.Generator().manual_seed(0))
    net = purecaffe.convert(_WindowMask().eval(), (x,), target="opencv")
    scales = [layer for layer in net.net.layer if layer.type == "Scale"]
    assert scales and all(layer.scale_param.axis == 1 and layer.scale_param.num_axes == 1 for layer in scales)
    run_compare_torch(_WindowMask().eval(), [x], target="opencv", backend="runtime")
    opencv()
    net.save(tmp_path / "net")
    report = purecaffe.verify(_WindowMask().eval(), (x,), tmp_path / "net", backend="opencv")
    assert report.passed, report.summary()
