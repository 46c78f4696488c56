"""Parts cut out of a blob, as 0/1 Convolutions on rknn (`purecaffe.targets.rules_slices`), on RKNN's simulator.

Outputs read by position; fp16 tolerances (purecaffe.targets.judges).  Before the rule these nets
were refused for rknn (an unread Slice top, which RKNN turns into an extra output).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cut_nets import CASES
from judge_nets import cosine, save_converted
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
    (got,) = run.outputs.values()
    assert got.shape == expected.shape
    rel = float(np.abs(got - expected).max() / np.abs(expected).max())
    assert cosine(got, expected) >= FP16.min_cosine and rel <= FP16.rtol, (cosine(got, expected), rel)
