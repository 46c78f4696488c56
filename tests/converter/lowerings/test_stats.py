"""Vector norms (F.normalize), var and std over a run of axes: AVE Pooling over a (N, M, L, R) view.

Tolerance 1e-5 of max|tensor|: Caffe's Pooling sums the L values one after the other (torch sums
pairwise) and the construction rounds a few more times (the mean, x L, the power): for L up to a few
hundred, a few ulps of each sum.  The max norm is exact.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn
from converter.lowerings._targets import TARGETS, on_target, rknn_judged

STATS = {"rtol": 1e-5, "atol": 1e-7, "reason": "sequential sums of L values, a few more roundings"}
X = (2, 6, 5, 7)

CASES = [
    Case("normalize-channels", Fn(lambda x: F.normalize(x, dim=1)), [X], expect_layers=("Pooling",), **STATS),
    Case("normalize-2d", Fn(lambda x: F.normalize(x, dim=1) * 3), [(3, 11)], **STATS),
    Case("normalize-last-3d", Fn(lambda x: F.normalize(x, dim=-1)), [(2, 5, 9)], **STATS),
    Case("normalize-p1", Fn(lambda x: F.normalize(x, p=1.0, dim=1)), [X], **STATS),
    Case("norm-p3-hw", Fn(lambda x: torch.linalg.vector_norm(x, 3, dim=(2, 3)) + 1), [X], **STATS),
    Case("norm-inf-channels", Fn(lambda x: torch.linalg.vector_norm(x, math.inf, dim=1, keepdim=True) + 1), [X],
         rtol=0.0, atol=0.0, reason="a maximum is one of the values"),
    Case("norm-chw", Fn(lambda x: torch.linalg.vector_norm(x, dim=(1, 2, 3)) + 1), [X], **STATS),
    Case("std-channels", Fn(lambda x: x.std(1, keepdim=True) + 1), [X], expect_layers=("Tile",), **STATS),
    Case("var-channels-biased", Fn(lambda x: x.var(1, unbiased=False) + 1), [X], **STATS),
    Case("std-hw", Fn(lambda x: x.std((2, 3)) + 1), [X], expect_layers=("Bias",), **STATS),
    Case("var-correction0-hw", Fn(lambda x: torch.var(x, dim=(2, 3), correction=0, keepdim=True) + 1), [X],
         **STATS),
    Case("std-flat", Fn(lambda x: x.view(2, -1).std(dim=1) + 1), [X], **STATS),
    Case("var-middle-5d", Fn(lambda x: x.var(2) + 1), [(2, 3, 4, 5, 3)], **STATS),
    # HardNet's input normalisation: (x - mean) / (std + 1e-7) over each patch's pixels.
    Case("hardnet-input-norm", lambda: HardNetInputNorm(), [(2, 1, 9, 11)], **STATS),
    # The opencv files (no Bias: the centring as Power 0 ones + a two-bottom Scale + Eltwise SUM; the Power
    # after the last mean behind a Reshape, which OpenCV's fusion would fold into the `+ 1`) in real Caffe.
    Case("std-hw-opencv", Fn(lambda x: x.std((2, 3)) + 1), [X], expect_layers=("Scale", "Reshape"),
         convert_kwargs={"target": "opencv"}, **STATS),
    Case("var-hw-opencv", Fn(lambda x: torch.var(x, dim=(2, 3), correction=0, keepdim=True) + 1), [X],
         convert_kwargs={"target": "opencv"}, **STATS),
    Case("std-chw-opencv", Fn(lambda x: x.std((1, 2, 3), keepdim=True) * 2), [(3, 5, 3, 9)],
         convert_kwargs={"target": "opencv"}, **STATS),
    Case("hardnet-input-norm-opencv", lambda: HardNetInputNorm(), [(2, 1, 9, 11)],
         convert_kwargs={"target": "opencv"}, **STATS),
    Case("refuse-std-batch", Fn(lambda x: x.std(0) + 1), [X], refused="include the batch axis"),
    Case("refuse-var-separate", Fn(lambda x: x.var((1, 3)) + 1), [X], refused="separate axes"),
    Case("refuse-std-one-value", Fn(lambda x: x.std(1) + 1), [(2, 1, 3, 3)], refused="divides by 0"),
]


class HardNetInputNorm(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.view(x.size(0), -1)
        mp = torch.mean(flat, dim=1)
        sp = torch.std(flat, dim=1) + 1e-7
        return (x - mp.detach().unsqueeze(-1).unsqueeze(-1).unsqueeze(-1).expand_as(x)) / \
            sp.detach().unsqueeze(-1).unsqueeze(-1).unsqueeze(1).expand_as(x)


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_stats(case: Case, results) -> None:
    results[case.id].check()


TARGET_CASES = {
    "normalize": (lambda: Fn(lambda x: F.normalize(x, dim=1)), [(1, 6, 5, 7)], {}),
    # opencv: the broadcast sum as Power 0 ones + two-bottom Scale + Eltwise; rknn: as Tile + Eltwise
    "std-hw": (lambda: Fn(lambda x: x.std((2, 3), keepdim=True) + 1), [(1, 6, 5, 7)], {}),
    "var-hw": (lambda: Fn(lambda x: x.var((2, 3)) * 2), [(1, 5, 9, 3)], {}),
    "hardnet-input-norm": (lambda: HardNetInputNorm(), [(1, 1, 9, 11)], {"nnie": "touches the batch axis"}),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_stats_on_targets(name: str, target: str, tmp_path: Path) -> None:
    make, inputs, refused = TARGET_CASES[name]
    on_target(make, inputs, target, refused, tmp_path, rtol=1e-4)


@pytest.mark.rknn
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGET_CASES))
def test_stats_in_rknn(name: str, rknn_venv, tmp_path: Path) -> None:
    make, inputs, _ = TARGET_CASES[name]
    rknn_judged(make, inputs, tmp_path)
