"""Parts cut out of a blob, as 0/1 Convolutions on rknn (`purecaffe.targets.rules_slices`), on RKNN's simulator.

Outputs read by position; fp16 tolerances (purecaffe.targets.judges).  Before the rule these nets
were refused for rknn (an unread Slice top, which RKNN turns into an extra output).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cut_nets import CASES
from judge_nets import assert_close, save_converted
from purecaffe.targets.judges import FP16
from purecaffe.rknn import run_rknn

pytestmark = pytest.mark.rknn


@pytest.mark.parametrize("case", sorted(CASES))
def test_cut_on_rknn(case: str, rknn_venv: Path, tmp_path: Path) -> None:
    make, shape = CASES[case]
    torch.manual_seed(0)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    files, (expected,) = save_converted(make().eval(), x, tmp_path / "cut", target="rknn")
    run = run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=rknn_venv, dump_layers=False)
    assert run.ok, run.error
    (got,) = run.positional  # inference()'s list, read by place as board code does
    assert_close(got, expected, rel=FP16.rtol, min_cosine=FP16.min_cosine)
