"""The fp16 judge's parts without RKNN: the reference, its cost, the per-blob bound (tests/rknn/test_fp16_judge.py
runs it on RKNN's simulator)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import purecaffe
from judge_nets import ConvBnPoolLinear, randomized
from purecaffe.io.weights import load_weights, save_weights
from purecaffe.parity import build_report
from purecaffe.parity.backends import LayerOutputs
from purecaffe.parity.fp16 import distance, fp16_reference
from purecaffe.runtime import run
from purecaffe.targets.fp16_judge import RKNN_FP16


def test_distance() -> None:
    a = np.array([1.0, 2.0, -2.0], np.float32)
    assert distance(a, a) == (0.0, 0.0)
    cos, rel = distance(a * 1.05, a)
    assert cos == pytest.approx(0.0, abs=1e-12) and rel == pytest.approx(0.05, rel=1e-5)  # off in scale only
    assert distance(np.array([1.0, 0.0]), np.array([0.0, 1.0]))[0] == pytest.approx(1.0)
    assert distance(np.array([np.nan, 1.0]), a[:2]) == (float("inf"), float("inf"))


def test_bound_grows_with_the_cost() -> None:
    rtol, atol, cosine = RKNN_FP16.bound(0.0, 0.0)
    assert (rtol, cosine) == (RKNN_FP16.rel_floor, 1.0 - RKNN_FP16.cosine_floor)
    rtol2, _, cosine2 = RKNN_FP16.bound(1e-3, 2e-2)
    assert rtol2 == pytest.approx(RKNN_FP16.k * 2e-2 + RKNN_FP16.rel_floor)
    assert cosine2 == pytest.approx(1.0 - RKNN_FP16.k * 1e-3 - RKNN_FP16.cosine_floor)


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[purecaffe.ConvertedNet, torch.Tensor, Path]:
    model = randomized(ConvBnPoolLinear())
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    converted = purecaffe.convert(model, (x,), target="rknn")
    return converted, x, converted.save(tmp_path / "net").prototxt


def _fp16_outputs(converted: purecaffe.ConvertedNet, prototxt: Path, inputs: dict, wrong: str | None = None
                  ) -> LayerOutputs:
    result = run(str(prototxt), str(prototxt.with_suffix(".caffemodel")), inputs, fp16_storage=True)
    layers = []
    for step in result.steps:
        tops = {name: (value * np.float32(1.3) if step.name == wrong else value) for name, value in step.tops}
        layers.append((step.name, step.type, tops))
    return LayerOutputs("fp16 stand-in", tuple(layers))


def test_a_consumer_equal_to_the_reference_passes_and_a_wrong_layer_fails_there(saved) -> None:
    converted, x, prototxt = saved
    inputs = {converted.input_names[0]: x.numpy()}
    sidecar = converted.sidecar()
    expected = converted.torch_values((x,))
    reference = fp16_reference(prototxt, prototxt.with_suffix(".caffemodel"), inputs, sidecar, expected)
    assert set(reference.values) <= set(expected) and len(reference.values) >= 5
    assert not reference.file_faults
    assert max(cost[1] for cost in reference.cost.values()) > 1e-5  # fp16 storage does cost something
    assert [blob for blob, _, _ in reference.output_cost(sidecar)] == list(converted.output_names)

    def report(outputs: LayerOutputs):  # noqa: ANN202
        return build_report(sidecar, {**expected, **reference.values}, outputs, rtol=5e-2, atol=1e-6,
                            prototxt=prototxt, bounds=reference.bounds(RKNN_FP16), costs=reference.cost)

    good = report(_fp16_outputs(converted, prototxt, inputs))
    assert good.passed, good.to_table()
    assert all("fp16 cost" in c.note for c in good.comparisons if c.torch_name in reference.values)
    conv = next(layer.name for layer in converted.net.layer if layer.type == "Convolution")
    bad = report(_fp16_outputs(converted, prototxt, inputs, wrong=conv))
    assert not bad.passed and bad.first_divergence.layer == conv
    assert "fp16 cost" in bad.first_divergence.note and "max|err|" in bad.first_divergence.note


def test_a_fault_of_the_files_is_found_in_float32(saved) -> None:
    """The reference computes what the files say: a wrong weight is shared by it, so the files are held to the
    float32 bound too, and the fault is named at its layer."""
    converted, x, prototxt = saved
    caffemodel = prototxt.with_suffix(".caffemodel")
    conv = next(layer.name for layer in converted.net.layer if layer.type == "Convolution")
    weights = load_weights(caffemodel)
    weights[conv] = [np.ascontiguousarray(weights[conv][0][..., ::-1]), *weights[conv][1:]]
    save_weights(caffemodel, weights, net=converted.net)
    sidecar = converted.sidecar()
    expected = converted.torch_values((x,))
    right = fp16_reference(prototxt, caffemodel, {converted.input_names[0]: x.numpy()}, sidecar, expected)
    faulty = {record.layer for record in converted.mapping if record.torch_name in right.file_faults}
    assert conv in faulty, sorted(faulty)
    assert all(note.startswith("the files themselves are off here") for note in right.file_faults.values())
