"""A construction on the deploy targets: converted and judged on the target's consumer, or refused.

`on_target(model, shape, target, refused=...)` converts `model` for `target`; where `refused` is given
the conversion must raise `UnsupportedError` containing that text (the target check naming what the
target lacks), otherwise the saved files are judged with `purecaffe.verify` on the target's consumer
(OpenCV 4.x's `forward` for opencv, RKNN-Toolkit2's simulator for rknn, the runtime for nnie, whose
consumer is not public) within `purecaffe.parity.compare`'s bounds for that backend.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import purecaffe
from judges import opencv

BACKEND = {"opencv": "opencv", "rknn": "rknn", "nnie": "runtime", "caffe1": "runtime", "bvlc": "runtime"}


def on_target(model: nn.Module, shape: tuple[int, ...], target: str, tmp_path: Path, *,
              refused: str | None = None, seed: int = 0) -> None:
    torch.manual_seed(seed)
    model = model.eval()
    x = torch.randn(*shape)
    if refused is not None:
        with pytest.raises(purecaffe.UnsupportedError, match=refused):
            purecaffe.convert(model, (x,), target=target)
        return
    if target == "opencv":
        opencv()  # the judge must be there: a skip locally, a failure under CI=true
    purecaffe.convert(model, (x,), target=target).save(tmp_path / "net")
    report = purecaffe.verify(model, (x,), tmp_path / "net", backend=BACKEND[target])
    assert report.passed, report.summary()
