"""A part cut out of a blob on a target without Silence (`purecaffe.targets.rules_slices`): a 0/1 Convolution.

RKNN's simulator runs the same nets in tests/rknn/test_rknn_slices.py.
"""
from __future__ import annotations

import pytest
import torch

import purecaffe
from cut_nets import CASES
from torch_compare import run_compare_torch


@pytest.mark.parametrize("case", sorted(CASES))
def test_rknn_file_has_no_unread_part(case: str) -> None:
    make, shape = CASES[case]
    x = torch.randn(*shape)
    net = purecaffe.convert(make().eval(), (x,), target="rknn")
    tops = {top for layer in net.net.layer for top in layer.top}
    bottoms = {bottom for layer in net.net.layer for bottom in layer.bottom}
    assert tops - bottoms == set(net.output_names)
    assert "Slice" not in {layer.type for layer in net.net.layer}
    bvlc = purecaffe.convert(make().eval(), (x,), target="bvlc")
    assert {"Slice", "Silence"} <= {layer.type for layer in bvlc.net.layer}  # where Silence exists, Slice stays


@pytest.mark.parametrize("case", sorted(CASES))
def test_picking_convolution_in_the_runtime(case: str) -> None:
    make, shape = CASES[case]
    run_compare_torch(make().eval(), [shape], target="rknn", backend="runtime")
