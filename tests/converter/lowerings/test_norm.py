"""LayerNorm (last dims, and over C of NCHW as ConvNeXt writes it), GroupNorm, InstanceNorm.

Tolerance: the default 1e-4 x max|tensor|.  Means and variances are float32 sums in another order
than PyTorch's kernels and Power's std::pow(v + eps, -1/2) is within an ulp of rsqrt; measured at
~1e-6 of the scale.  Affine parameters are random (an identity affine would hide a wrong axis).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn
from converter.lowerings._targets import TARGETS, on_target, rknn_judged


def _randomized(module: nn.Module, seed: int = 5) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in list(module.named_parameters()) + list(module.named_buffers()):
            if p.dtype.is_floating_point:
                if "var" in name:
                    p.copy_(torch.rand(p.shape, generator=generator) + 0.5)
                else:
                    p.copy_(torch.randn(p.shape, generator=generator) * 0.5 + (1.0 if name.endswith("weight") else 0))
    return module


class LayerNorm2d(nn.LayerNorm):
    """timm / ConvNeXt: LayerNorm over C of NCHW through a channels-last permute."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Shifted(nn.Module):
    """Inputs with a per-sample offset and spread, so centring and scaling both matter."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x * 3.0 + 2.0)


def _case(case_id: str, module: nn.Module, shape: tuple[int, ...], layers: tuple[str, ...] = ()) -> Case:
    return Case(case_id, Shifted(_randomized(module)), [shape], expect_layers=layers)


CASES = [
    _case("layer_norm-last", nn.LayerNorm(7), (2, 3, 7), ("Reduction", "Bias", "Power", "Scale")),
    _case("layer_norm-2d", nn.LayerNorm(9), (3, 9)),
    _case("layer_norm-last-two", nn.LayerNorm((5, 7)), (2, 3, 5, 7)),
    _case("layer_norm-no-affine", nn.LayerNorm(11, elementwise_affine=False), (1, 4, 11)),
    _case("layer_norm-no-bias", nn.LayerNorm(6, bias=False), (2, 5, 6)),
    _case("layer_norm-eps", nn.LayerNorm(5, eps=1e-2), (2, 3, 5)),
    _case("layer_norm2d-convnext", LayerNorm2d(5, eps=1e-6), (2, 5, 7, 9), ("Convolution", "Tile", "Eltwise")),
    _case("layer_norm2d-one-channel", LayerNorm2d(1), (1, 1, 3, 5)),
    _case("group_norm", nn.GroupNorm(3, 6), (2, 6, 5, 7), ("Reshape", "Reduction", "Scale")),
    _case("group_norm-one-group", nn.GroupNorm(1, 4), (2, 4, 3, 5)),
    _case("group_norm-per-channel", nn.GroupNorm(5, 5), (1, 5, 7, 3)),
    _case("group_norm-no-affine", nn.GroupNorm(2, 4, affine=False), (2, 4, 5, 5)),
    _case("group_norm-1d", nn.GroupNorm(2, 6), (2, 6, 9)),
    _case("instance_norm", nn.InstanceNorm2d(3), (2, 3, 7, 5), ("Reduction", "Bias", "Scale")),
    _case("instance_norm-affine", nn.InstanceNorm2d(4, affine=True), (2, 4, 9, 7)),
    _case("instance_norm-1d", nn.InstanceNorm1d(3, affine=True), (2, 3, 11)),
    _case("instance_norm-running-stats", nn.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 5, 5),
          ("BatchNorm",)),
    _case("layer_norm-functional", Fn(lambda x: F.layer_norm(x, (x.shape[-1],))), (2, 3, 8)),
    # Channels-last output (no permute back): the permute is a canonical Permute, then LayerNorm.
    _case("layer_norm-channels-last", Fn(lambda x: F.layer_norm(x.permute(0, 2, 3, 1), (4,))), (1, 4, 3, 5)),
    # The opencv files (no Bias: each centring as Power 0 ones + a two-bottom Scale + Eltwise SUM) in real Caffe.
    *[dataclasses.replace(_case(f"{name}-opencv", module, shape), convert_kwargs={"target": "opencv"})
      for name, module, shape in (("instance_norm", nn.InstanceNorm2d(3), (2, 3, 7, 5)),
                                  ("instance_norm-affine", nn.InstanceNorm2d(4, affine=True), (1, 4, 9, 7)),
                                  ("group_norm", nn.GroupNorm(3, 6), (2, 6, 5, 7)),
                                  ("group_norm-1d", nn.GroupNorm(2, 6), (2, 6, 9)),
                                  ("layer_norm-last", nn.LayerNorm(7), (2, 3, 7)),
                                  ("layer_norm-last-two", nn.LayerNorm((5, 7)), (2, 3, 5, 7)),
                                  ("instance_norm-1d", nn.InstanceNorm1d(3, affine=True), (2, 3, 11)))],
    Case("refuse-layer_norm-batch", Fn(lambda x: F.layer_norm(x, x.shape)), [(2, 3)], refused="batch axis"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_norm(case: Case, results) -> None:
    results[case.id].check()


def test_layer_norm2d_is_fused() -> None:
    """The permute pair around a channel LayerNorm leaves no permute (stock Caffe has no Permute)."""
    import purecaffe

    net = purecaffe.convert(LayerNorm2d(4).eval(), (torch.randn(1, 4, 3, 5),))
    assert not [layer for layer in net.net.layer if layer.type == "Permute"]
    assert [r for r in net.mapping if r.op == "aten.channel_layer_norm.default"]


# On the deploy targets: opencv and rknn have no Bias (rknn no Reduction over other than C, H, W either):
# the statistics as AVE Pooling, the centring as a two-bottom Scale of ones (opencv) or Tile (rknn).
TARGET_CASES = {
    "instance_norm-affine": (lambda: Shifted(_randomized(nn.InstanceNorm2d(4, affine=True))), [(1, 4, 9, 7)]),
    "group_norm": (lambda: Shifted(_randomized(nn.GroupNorm(3, 6))), [(1, 6, 5, 7)]),
    "layer_norm-last": (lambda: Shifted(_randomized(nn.LayerNorm(7))), [(1, 3, 5, 7)]),
    "layer_norm-last-two": (lambda: Shifted(_randomized(nn.LayerNorm((5, 7)))), [(1, 3, 5, 7)]),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_norm_on_targets(name: str, target: str, tmp_path: Path) -> None:
    make, inputs = TARGET_CASES[name]
    on_target(make, inputs, target, {}, tmp_path)


@pytest.mark.rknn
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_norm_in_rknn(name: str, rknn_venv, tmp_path: Path) -> None:  # noqa: ANN001
    make, inputs = TARGET_CASES[name]
    rknn_judged(make, inputs, tmp_path)
