"""RKNN's reading faults on RKNN itself (`purecaffe.targets.rknn_rules`): without the rules RKNN refuses the
file with the measured message, with them `verify --backend rknn` passes (its fp16 tolerances)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from timm.models.resnest import ResNestBottleneck
from torch import nn

import purecaffe
from judge_nets import randomized
from purecaffe.parity import verify
from purecaffe.rknn import run_rknn
from purecaffe.targets import get_target
from purecaffe.targets.rules import RULES

pytestmark = pytest.mark.rknn

# rknn without its own rules (rknn_rules) and without the limit whose cases only they rewrite (a Scale of
# more than 4 axes is a placement RKNN does not read): the file RKNN was given before those rules.
WITHOUT_RULES = dataclasses.replace(
    get_target("rknn"), rules=RULES,
    limits=tuple(limit for limit in get_target("rknn").limits if limit.rule != "scale-factor-placement"))


def dcgan_generator(nz: int = 16, ngf: int = 8) -> nn.Module:
    """The DCGAN generator (PyTorch's example), small: its first ConvTranspose2d has stride 1."""
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh())


def resnest_block() -> nn.Module:
    """timm's ResNeSt bottleneck with radix 2 (split attention), as in resnest14d's layer1."""
    downsample = nn.Sequential(nn.Conv2d(32, 64, 1, bias=False), nn.BatchNorm2d(64))
    return ResNestBottleneck(32, 16, radix=2, base_width=64, avd=True, avd_first=False, is_first=True,
                             downsample=downsample)


@pytest.mark.parametrize("factory, shape, refusal", [
    (dcgan_generator, (1, 16, 1, 1), "stride > 0 was false"),
    (resnest_block, (1, 32, 16, 16), "Number of values does not match tensor's size. Expected 4, but it is 5."),
], ids=["dcgan_generator", "resnest_block"])
def test_rknn_takes_what_it_refused(factory, shape: tuple[int, ...], refusal: str, rknn_venv: Path,
                                    tmp_path: Path) -> None:
    model = randomized(factory())
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    files = purecaffe.convert(model, (x,), target=WITHOUT_RULES).save(tmp_path / "without")
    refused = run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, dump_layers=False, venv=rknn_venv)
    assert not refused.ok and refusal in refused.error, refused.error
    report = verify(model, (x,), purecaffe.convert(model, (x,), target="rknn"), backend="rknn")
    assert report.passed, report.summary()


def lite_mla() -> nn.Module:
    """timm's EfficientViT (MIT) linear attention, q @ (k^T @ v), on 14 x 14 as in efficientvit_b0's stage 3."""
    from timm.models.efficientvit_mit import LiteMLA

    return LiteMLA(64, 64, dim=16)


@pytest.mark.parametrize("factory, shape", [
    (lite_mla, (1, 64, 14, 14)),
    (lambda: _Transposed(), (1, 32, 7, 3)),
], ids=["lite_mla", "mean_transposed"])
def test_rknn_permutes_a_global_average(factory, shape: tuple[int, ...], rknn_venv: Path) -> None:
    """A global AVE Pooling read through a Reshape and a Permute: without `GLOBAL_AVERAGE_PERMUTED` RKNN gives
    the unpermuted values at the net's output (read by place); with it, parity."""
    torch.manual_seed(0)
    model = randomized(factory())
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    without = dataclasses.replace(get_target("rknn"), net_limits=())
    wrong = verify(model, (x,), purecaffe.convert(model, (x,), target=without), backend="rknn")
    output = wrong.comparisons[-1]
    assert output.note.startswith("rknn inference() place 0") and output.cosine < 0.9, wrong.summary()
    report = verify(model, (x,), purecaffe.convert(model, (x,), target="rknn"), backend="rknn")
    assert report.passed, report.summary()


class _Transposed(nn.Module):
    """The mean over H, W of 32 channels, viewed as 2 x 4 x 4 and transposed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3)).view(1, 2, 4, 4).transpose(-1, -2) * 2.0
