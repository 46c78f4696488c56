"""Each deploy target on one lowering's construction (a private helper module: pytest collects nothing here).

`on_targets(make, inputs, refused, tmp_path)` converts `make()` for caffe1, nnie, opencv and rknn.
Where the target refuses, the refusal must happen and name the reason (`refused[target]`, text of the
UnsupportedError: the existing checks, e.g. "rknn has no AbsVal layer"); nothing is then written.
Where it converts: nnie and caffe1 are run in the runtime (caffe1 also runs in real Caffe through the
lowering module's batched cases), opencv is judged by OpenCV 4.x `readNetFromCaffe` the user's way
(`verify(..., backend="opencv")`, every mapped blob).  RKNN files are judged by its own loader and
simulator in `rknn_judged`, which needs the RKNN venv.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
import torch

import purecaffe
from judges import opencv
from torch_compare import make_inputs, run_compare_torch

TARGETS = ("caffe1", "nnie", "opencv", "rknn")


def converted_for(make: Callable[[], torch.nn.Module], inputs: Sequence[object], target: str,
                  refused: Mapping[str, str]) -> tuple[torch.nn.Module, tuple[torch.Tensor, ...],
                                                       purecaffe.ConvertedNet | None]:
    torch.manual_seed(0)
    model = make().eval()
    tensors = make_inputs(list(inputs), seed=1)
    if target in refused:
        with pytest.raises(purecaffe.UnsupportedError, match=refused[target]):
            purecaffe.convert(model, tensors, target=target)
        return model, tensors, None
    return model, tensors, purecaffe.convert(model, tensors, target=target)


def on_target(make: Callable[[], torch.nn.Module], inputs: Sequence[object], target: str,
              refused: Mapping[str, str], tmp_path: Path, *, rtol: float | None = None) -> None:
    """The construction on `target`: refused with its reason, or matched on the target's judge."""
    model, tensors, net = converted_for(make, inputs, target, refused)
    if net is None:
        return
    if target in ("caffe1", "nnie", "rknn"):
        kwargs = {} if rtol is None else {"rtol": rtol}
        run_compare_torch(make(), list(tensors), target=target, backend="runtime", **kwargs)
        return
    opencv()  # the judge must be there: a skip locally, a failure under CI=true
    net.save(tmp_path / "net")
    report = purecaffe.verify(model, tensors, tmp_path / "net", backend="opencv", rtol=rtol)
    assert report.passed, report.summary()


def rknn_judged(make: Callable[[], torch.nn.Module], inputs: Sequence[object], tmp_path: Path) -> None:
    """RKNN-Toolkit2's loader and fp16 simulator on the net's outputs (its per-layer dump is not the verdict)."""
    model, tensors, net = converted_for(make, inputs, "rknn", {})
    assert net is not None
    net.save(tmp_path / "net")
    report = purecaffe.verify(model, tensors, tmp_path / "net", backend="rknn")
    assert report.backend_error is None, report.summary()
    # The verdict: inference()'s list read by place, one row per net output (the per-layer rows are diagnostics).
    outputs = [c for c in report.comparisons if c.op.startswith("net output ") and "inference()" in c.op]
    assert [c.blob for c in outputs] == list(net.output_names), f"outputs not read by place: {report.summary()}"
    assert all(c.passed for c in outputs), report.summary()
