"""InstanceNorm, GroupNorm, LayerNorm on rknn: means by AVE Pooling, broadcasts by Tile (issue 18), on RKNN.

RKNN reduces only C, H, W of a 4-D blob and has no Bias: the statistics become Reshape to
(N, M, L, 1) + AVE Pooling of an (L, 1) window (`rules.reduction_as_pooling`), the centring
Tile + Eltwise SUM (`rules_broadcast`).  Measured: cosine 0.9999998 and max error 7e-4 to 8e-4
of max|torch| at 64 x 64 (a 4096-row window), 0.9999987 and 1e-3 at 256 x 256 (65536 rows).
LayerNorm's affine over the last axis (which RKNN refuses as a per-position Scale) becomes a Scale over
channels of a Reshape to (A, B, R, 1) (`rules_broadcast.scale_params_over_channels`): measured cosine 1.0 /
5e-4 on tokens (1, 49, 32), 0.9999998 / 1.4e-3 over W of (1, 6, 7, 9).  Outputs read by position; fp16
tolerances (purecaffe.targets.judges).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from judge_nets import assert_close, save_converted
from purecaffe.targets.judges import FP16
from purecaffe.rknn import run_rknn

pytestmark = pytest.mark.rknn


class Normed(nn.Module):
    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.norm = norm
        self.head = nn.Conv2d(6, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.norm(self.conv(x))))


@pytest.mark.parametrize("norm", [lambda: nn.InstanceNorm2d(6, affine=True), lambda: nn.InstanceNorm2d(6),
                                  lambda: nn.GroupNorm(3, 6)], ids=["instance_affine", "instance", "group"])
def test_norm_on_rknn(norm, rknn_venv: Path, tmp_path: Path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    model = Normed(norm()).eval()
    with torch.no_grad():
        for parameter in model.norm.parameters():
            parameter.uniform_(0.5, 1.5)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2.0 + 1.0
    files, (expected,) = save_converted(model, x, tmp_path / "norm", target="rknn")
    run = run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=rknn_venv, dump_layers=False)
    assert run.ok, run.error
    (got,) = run.positional  # inference()'s list, read by place as board code does
    assert_close(got, expected, rel=FP16.rtol, min_cosine=FP16.min_cosine)


class Tokens(nn.Module):
    """A ViT-style stem: patches as tokens (1, 49, 32), LayerNorm over the features, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 32, 2, 2)
        self.norm = nn.LayerNorm(32)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(self.conv(x).flatten(2).transpose(1, 2)))


@pytest.mark.parametrize("factory, shape", [(Tokens, (1, 3, 14, 14)), (lambda: Normed(nn.LayerNorm(9)), (1, 3, 7, 9))],
                         ids=["tokens", "over_width"])
def test_layer_norm_on_rknn(factory, shape: tuple[int, ...], rknn_venv: Path, tmp_path: Path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    model = factory().eval()
    with torch.no_grad():
        model.norm.weight.uniform_(0.5, 1.5)
        model.norm.bias.uniform_(-1.0, 1.0)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(2))
    files, (expected,) = save_converted(model, x, tmp_path / "ln", target="rknn")
    run = run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=rknn_venv, dump_layers=False)
    assert run.ok, run.error
    (got,) = run.positional  # inference()'s list, read by place as board code does
    assert_close(got, expected, rel=FP16.rtol, min_cosine=FP16.min_cosine)
