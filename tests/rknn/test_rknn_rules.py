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
