"""OpenCV's fast 3x3 depthwise kernel on 1-row / 1-column maps, and its fusion of a Power into the affine
layer after it (`purecaffe.targets.opencv_rules`).

Each case sits on one side of the condition's boundary.  The same net is run in OpenCV twice,
the user's way (`forward(output names)`): once as the `opencv` target writes it, once without
the rule (the opencv target with only the common rules and without its limit), which must be wrong exactly where the
condition says so; if a new OpenCV fixes its kernel, the "without" half fails and says the rule
can go.  Tolerances: float32 rounding (1e-5 of max|torch|, conv sums in another order); a fault
reads the wrong taps and is measured at 3e-2 to 2 (or NaN), so "wrong" is > 1e-3.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from converter.lowerings._modules import Fn as _Fn
import purecaffe
from purecaffe.canonical import Blob, CaffeLayer, builders
from judge_nets import randomized
from judges import opencv
from purecaffe.targets import get_target, legalize_net, net_findings
from purecaffe.targets.rules import RULES
from purecaffe.targets.opencv_rules import FAST_DEPTHWISE, fast_depthwise_fault, fused_powers
from torch_compare import run_compare_torch

FLOAT32 = 1e-5
WRONG = 1e-3
OPENCV = get_target("opencv")
WITHOUT_RULE = dataclasses.replace(OPENCV, rules=RULES, limits=tuple(limit for limit in OPENCV.limits
                                                                  if limit is not FAST_DEPTHWISE))

# name: (channels, groups, H, W, stride, pad, dilation, (rows wrong, columns wrong))
CASES = {
    "1xW_pad1": (4, 4, 1, 5, 1, 1, 1, (True, False)),
    "2xW_pad1": (4, 4, 2, 5, 1, 1, 1, (False, False)),
    "Hx1_pad1": (4, 4, 5, 1, 1, 1, 1, (False, True)),
    "Hx2_pad1": (4, 4, 5, 2, 1, 1, 1, (False, False)),
    "1x1_stride2": (4, 4, 1, 1, 2, 1, 1, (True, True)),     # SSDLite's extra blocks and heads on 1x1 maps
    "2x2_stride2": (4, 4, 2, 2, 2, 1, 1, (False, False)),
    "1xW_pad0": (4, 4, 3, 5, 1, 0, 1, (False, False)),
    "1xW_pad2": (4, 4, 1, 5, 1, 2, 1, (False, False)),      # pad 2: OpenCV's general depthwise code
    "1xW_wide": (4, 4, 1, 20, 1, 1, 1, (True, False)),      # wide enough for the AVX2 kernel
    "2xW_wide": (4, 4, 2, 20, 1, 1, 1, (False, False)),
    "dilated_rows3": (4, 4, 3, 6, 1, 1, (2, 1), (True, False)),
    "dilated_rows4": (4, 4, 4, 6, 1, 1, (2, 1), (False, False)),
    "dilated_columns": (4, 4, 6, 7, 1, 1, (1, 2), (False, True)),  # any width: column 0 reads taps 0, 1
    "dilated_pad0": (4, 4, 6, 7, 1, 0, (1, 2), (False, False)),
    "dense_1xW": (4, 1, 1, 5, 1, 1, 1, (False, False)),
    "multiplier2_1xW": (4, 4, 1, 5, 1, 1, 1, (False, False)),       # num_output 8: not depthwise for OpenCV
    "stride3_rows": (4, 4, 1, 6, (3, 1), 1, 1, (True, False)),
}


def _case(name: str) -> tuple[nn.Module, torch.Tensor]:
    channels, groups, h, w, stride, pad, dilation, _ = CASES[name]
    outputs = 2 * channels if name.startswith("multiplier2") else channels
    torch.manual_seed(0)
    model = nn.Conv2d(channels, outputs, 3, stride=stride, padding=pad, dilation=dilation, groups=groups).eval()
    return model, torch.randn(1, channels, h, w, generator=torch.Generator().manual_seed(1))


def _opencv_error(model: nn.Module, x: torch.Tensor, target: object, prefix: Path) -> list[float]:
    """max|opencv - torch| / max|torch| per output, OpenCV run as its users run it (NaN counts as wrong)."""
    cv2 = opencv()
    converted = purecaffe.convert(model, (x,), target=target)
    files = converted.save(prefix)
    net = cv2.dnn.readNetFromCaffe(str(files.prototxt), str(files.caffemodel))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setInput(x.numpy(), converted.input_names[0])
    got = net.forward(list(converted.output_names))
    with torch.no_grad():
        expected = model(x)
    expected = expected if isinstance(expected, tuple) else (expected,)
    errors = []
    for out, want in zip(got, expected):
        err = float(np.abs(out - want.numpy()).max() / np.abs(want.numpy()).max())
        errors.append(err if np.isfinite(err) else float("inf"))
    return errors


@pytest.mark.parametrize("name", sorted(CASES))
def test_only_the_faulty_layers_get_five_taps(name: str) -> None:
    model, x = _case(name)
    converted = purecaffe.convert(model, (x,), target="opencv")
    kernel = [(layer.convolution_param.kernel_h, layer.convolution_param.kernel_w, tuple(layer.convolution_param.kernel_size))
              for layer in converted.net.layer if layer.type == "Convolution"]
    rows, columns = CASES[name][-1]
    if rows:
        assert kernel == [(5, 3, ())], kernel
    elif columns:
        assert kernel == [(3, 5, ())], kernel
    else:
        assert kernel == [(0, 0, (3,))], kernel


@pytest.mark.parametrize("name", sorted(CASES))
def test_fault_predicate(name: str) -> None:
    channels, groups, h, w, stride, pad, dilation, expected = CASES[name]
    outputs = 2 * channels if name.startswith("multiplier2") else channels
    layer = builders.convolution("conv", Blob("x", (1, channels, h, w)), "y", num_output=outputs, kernel=3,
                                 stride=stride, pad=pad, dilation=dilation, group=groups)
    assert fast_depthwise_fault(layer) == expected


def test_without_the_rule_the_checks_refuse_the_layer() -> None:
    model, x = _case("1x1_stride2")
    with pytest.raises(purecaffe.UnsupportedError, match="opencv-fast-depthwise"):
        purecaffe.convert(model, (x,), target=dataclasses.replace(OPENCV, rules=RULES))


@pytest.mark.parametrize("name", sorted(CASES))
def test_in_the_runtime(name: str) -> None:
    model, x = _case(name)
    run_compare_torch(model, [x], target="opencv", backend="runtime")


@pytest.mark.parametrize("name", sorted(CASES))
def test_in_opencv_on_both_sides_of_the_boundary(name: str, tmp_path: Path) -> None:
    model, x = _case(name)
    faulty = any(CASES[name][-1])
    without, = _opencv_error(model, x, WITHOUT_RULE, tmp_path / "without")
    assert (without > WRONG) == faulty and (faulty or without <= FLOAT32), without
    legal, = _opencv_error(model, x, "opencv", tmp_path / "legal")
    assert legal <= FLOAT32, legal


class SsdLiteRawHeads(nn.Module):
    """torchvision SSDLite (MobileNetV3-Large): every level's raw box and class convolutions."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.detection import ssdlite320_mobilenet_v3_large

        ssd = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=5)
        self.backbone, self.head = ssd.backbone, ssd.head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, feature in enumerate(self.backbone(x).values()):
            outs.append(self.head.regression_head.module_list[i](feature))
            outs.append(self.head.classification_head.module_list[i](feature))
        return tuple(outs)


def test_ssdlite_raw_heads_on_1x1_maps(tmp_path: Path) -> None:
    """At 128x128 the last three levels are 1x1 maps: without the rule they were 2.4-4% off (measured)."""
    opencv()
    model = randomized(SsdLiteRawHeads())
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        small = [tuple(out.shape[2:]) == (1, 1) for out in model(x)]
    assert sum(small) == 6
    without = _opencv_error(model, x, WITHOUT_RULE, tmp_path / "without")
    assert all((err > WRONG) == one for err, one in zip(without, small)), without
    legal = _opencv_error(model, x, "opencv", tmp_path / "legal")
    assert max(legal) <= FLOAT32, legal


# A Power of power != 1 and no shift, read only by an affine Power (OpenCV's `PowerFunctor::tryFuse` folds it
# into (s^p a x + b)^p).  Measured without the guard, OpenCV 4.14: 0.23, 2.0, 0.78, 0.28 and 0.24 x max|torch|.
FUSED = {
    "sqrt_plus_one": lambda x: torch.sqrt(x.abs()) + 1,
    "square_times_three": lambda x: (x * 2) ** 2 * 3,
    "reciprocal_affine": lambda x: 2 / (x.abs() + 1) + 1,
    "cube_minus_one": lambda x: (x * 1.5) ** 3 - 1,
    "std_hw_plus_one": lambda x: x.std((2, 3), keepdim=True) + 1,
}
WITHOUT_GUARD = dataclasses.replace(OPENCV, net_limits=())


@pytest.mark.parametrize("name", sorted(FUSED))
def test_a_power_folded_by_opencv_fusion_is_guarded(name: str, tmp_path: Path) -> None:
    model, x = _Fn(FUSED[name]).eval(), torch.randn(1, 6, 5, 7, generator=torch.Generator().manual_seed(3))
    converted = purecaffe.convert(model, (x,), target="opencv")
    assert [layer.name for layer in converted.net.layer if layer.name.endswith("/unfused")], "no guard"
    without, = _opencv_error(model, x, WITHOUT_GUARD, tmp_path / "without")
    assert without > WRONG, f"OpenCV computes the fused Power right now ({without}): the guard can go"
    legal, = _opencv_error(model, x, "opencv", tmp_path / "legal")
    assert legal <= FLOAT32, legal
    run_compare_torch(_Fn(FUSED[name]).eval(), [x], target="opencv", backend="runtime")


def _power_net(*readers: CaffeLayer) -> list[CaffeLayer]:
    x = Blob("x", (1, 6, 5, 7))
    return [builders.power("p", x, "p", power=0.5, scale=2.0), *readers]


@pytest.mark.parametrize("readers, faulty", [
    ((builders.power("a", Blob("p", (1, 6, 5, 7)), "a", shift=1.0),), True),
    ((builders.scale("s", [Blob("p", (1, 1, 5, 7))], "s").with_weights([np.ones(1, np.float32)]),), True),
    ((builders.scale("s", [Blob("p", (1, 6, 5, 7))], "s").with_weights([np.ones(6, np.float32)]),), False),
    ((builders.power("a", Blob("p", (1, 6, 5, 7)), "a", power=2.0),), False),
    ((builders.power("a", Blob("p", (1, 6, 5, 7)), "a", shift=1.0),
      builders.relu("r", Blob("p", (1, 6, 5, 7)), "r")), False),
], ids=["affine_power", "one_channel_scale", "per_channel_scale", "another_power", "two_readers"])
def test_which_powers_opencv_folds(readers: tuple[CaffeLayer, ...], faulty: bool) -> None:
    layers = _power_net(*readers)
    assert fused_powers(layers) == (("p",) if faulty else ())
    shifted = [builders.power("p", Blob("x", (1, 6, 5, 7)), "p", power=0.5, shift=1.0), *readers]
    assert fused_powers(shifted) == ()  # a shift: tryFuse declines


def test_the_guard_keeps_tops_and_lint_reports_an_unguarded_power() -> None:
    layers = _power_net(builders.power("a", Blob("p", (1, 6, 5, 7)), "a", shift=1.0))
    guarded = legalize_net(layers, OPENCV)
    assert [(layer.type, layer.bottom_names, layer.top_names) for layer in guarded] == [
        ("Power", ("x",), ("p",)), ("Reshape", ("p",), ("p/unfused",)), ("Power", ("p/unfused",), ("a",))]
    assert not net_findings(guarded, OPENCV)
    (finding,) = net_findings(layers, OPENCV)
    assert finding.rule == "opencv-power-fusion" and finding.layer == "p" and "(s^p a x + b)^p" in finding.message
    assert not net_findings(layers, get_target("bvlc"))
