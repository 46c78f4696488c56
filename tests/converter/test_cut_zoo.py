"""Cutting real detectors where the device stops: Ultralytics YOLOv8n (random init, from its
packaged YAML) at the Detect head's six raw convolutions, and a RetinaFace-style net before its
permuted heads.  Both whole nets are refused by stock BVLC Caffe (decoding: permutes, meshgrid,
DFL softmax over a permuted axis); cut, they convert.

Per target (the catalog's `TARGETS`, each with the real consumer that judges it, `Target.judge`):

* every mapped blob of the cut net against PyTorch in real Caffe, and the runtime
  against real Caffe on every layer (`torch_compare.run_compare_torch`);
* each output, run by the target's judge, against the eager model's value at that module
  (forward hooks: not the captured program), max error relative to max|torch|.

Tolerance: the judge's, from the catalog (`purecaffe.targets.judges`: float32 judges 1e-4 x max|torch|,
summation order over a few dozen layers giving ~1e-6 while a wrong weight layout or axis is O(1); RKNN's
fp16 simulator 5e-2).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import purecaffe
from corpus import unavailable
from converter.zoo import randomize_
from converter.zoo_retinaface import RETINAFACE_HEADS, RetinaFace
from purecaffe.targets import TARGETS
from target_helpers import JUDGE_RUNS
from torch_compare import eager_outputs, run_compare_torch

log = logging.getLogger(__name__)


def ultralytics_detection_model(yaml: str = "yolov8n.yaml") -> torch.nn.Module:
    """A randomly initialised Ultralytics detector from its packaged YAML; nothing is downloaded.
    Skips without ultralytics locally; under CI=true (where setup.sh installs it) that fails."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    try:
        from ultralytics.nn.tasks import DetectionModel
    except ImportError as error:
        unavailable(f"ultralytics is not installed ({error}); scripts/setup.sh installs it")
    return DetectionModel(yaml, verbose=False)


YOLO_HEADS = tuple(f"model.22.cv{branch}.{level}" for level in range(3) for branch in (2, 3))


def _yolov8n() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(8)  # the convolutions' initialisation
    model = randomize_(ultralytics_detection_model(), seed=8)
    return model, (torch.randn(1, 3, 160, 160, generator=torch.Generator().manual_seed(8)),)


def _retinaface() -> tuple[torch.nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(5)
    model = randomize_(RetinaFace(), seed=5)
    return model, (torch.randn(1, 3, 160, 160, generator=torch.Generator().manual_seed(5)),)


MODELS: dict[str, tuple[Callable[[], tuple[torch.nn.Module, tuple[torch.Tensor, ...]]], tuple[str, ...]]] = {
    "yolov8n": (_yolov8n, YOLO_HEADS),
    "retinaface": (_retinaface, RETINAFACE_HEADS),
}


@pytest.mark.real_caffe
@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_cut_detector_matches_pytorch(name: str, target: str, tmp_path: Path) -> None:
    build, heads = MODELS[name]
    model, inputs = build()
    judge = TARGETS[target].judge
    if judge.backend == "caffe":  # real Caffe: every mapped blob, and the runtime checked against it
        net = run_compare_torch(model, list(inputs), outputs=list(heads), target=target, name=name).net
    else:
        net = purecaffe.convert(model, inputs, outputs=list(heads), target=target, name=name)
    assert net.output_names == tuple(head.replace("#", "_") for head in heads)
    assert net.cut is not None and net.cut.removed
    log.warning("%s/%s: %s", name, target, net.cut.describe())

    files = net.save(tmp_path / name)
    feeds = {blob: t.numpy() for blob, t in zip(net.input_names, inputs)}
    judged = JUDGE_RUNS[judge.backend](files.prototxt, files.caffemodel, feeds, net.output_names)
    expected = eager_outputs(model, inputs, net)
    errors = {}
    for blob, value in zip(net.output_names, expected):
        assert value is not None, blob
        want = value.numpy()
        got = judged[blob]
        assert got.shape == want.shape, f"{blob}: {target} shape {got.shape}, torch {want.shape}"
        errors[blob] = float(np.max(np.abs(got.astype(np.float64) - want))) / float(np.max(np.abs(want)))
    log.warning("%s/%s: max error / max|torch| per output: %s", name, target,
                ", ".join(f"{blob} {err:.2e}" for blob, err in errors.items()))
    tolerance = judge.tolerance
    bad = {blob: err for blob, err in errors.items() if err > tolerance.rtol}
    assert not bad, (f"{name} on {target}: outputs off by more than {tolerance.rtol:g} x max|torch| "
                     f"({judge.summary}: {tolerance.name}): {bad}")


def test_retinaface_cut_reports_what_it_removed() -> None:
    """The heads' permutes are exact now (Slice + Reshape + Concat on bvlc), so the whole net converts;
    the cut still removes them and says what it removed, and that bvlc could have taken them."""
    model, inputs = _retinaface()
    purecaffe.convert(model, inputs)
    net = purecaffe.convert(model, inputs, outputs=list(RETINAFACE_HEADS))
    removed = dict(net.cut.removed)
    assert removed["aten.permute"] == 9 and removed["aten.softmax"] == 1 and removed["aten.cat"] == 3
    assert not net.cut.refused and "could have taken all of them" in net.cut.describe()


def test_retinaface_cut_verifies_from_saved_files(tmp_path: Path) -> None:
    """`verify` on the saved cut net: it re-captures the model, and the sidecar's outputs name the
    torch values at the cut modules, which equal what forward hooks see."""
    model, inputs = _retinaface()
    net = purecaffe.convert(model, inputs, outputs=list(RETINAFACE_HEADS))
    net.save(tmp_path / "retinaface")
    report = purecaffe.verify(model, inputs, tmp_path / "retinaface", backend="runtime")
    assert report.passed, report.summary()
    assert report.cut == RETINAFACE_HEADS and "compared up to the cut" in report.summary()
    compared = {c.blob for c in report.comparisons}
    assert set(net.output_names) <= compared
    sidecar = net.sidecar()
    reference = net.torch_values(inputs)
    for entry, hooked in zip(sidecar["outputs"], eager_outputs(model, inputs, net)):
        np.testing.assert_allclose(reference[entry["torch"]], hooked.numpy(), rtol=1e-6, atol=1e-7)
    assert sidecar["cut"]["outputs"] == list(RETINAFACE_HEADS)

