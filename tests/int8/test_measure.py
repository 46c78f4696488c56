"""int8 scores: cosine, top-k agreement, the classifier rule, per-layer cosine and the verdict."""
from __future__ import annotations

import numpy as np
import pytest

from purecaffe.int8 import LayerCosine, RouteResult, cosine, topk_agreement
from purecaffe.int8.measure import is_classifier_output, route_result
from purecaffe.int8.report import cosine_plot, int8_html, int8_table
from purecaffe.int8.routes import INT8_MIN_COSINE, ONNX_MARGIN, RKNN, Int8Comparison
from purecaffe.rknn import RknnRun


def test_cosine() -> None:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert cosine(a, 2 * a) == pytest.approx(1.0)
    assert cosine(a, -a) == pytest.approx(-1.0)
    assert cosine(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 0.0
    assert cosine(np.zeros(3), np.zeros(3)) == 1.0 and cosine(np.zeros(3), np.ones(3)) == 0.0
    with pytest.raises(ValueError, match="cosine of arrays of 2 and 3 elements"):
        cosine(np.ones(2), np.ones(3))


def test_topk_agreement() -> None:
    expected = [np.arange(10.0), np.arange(10.0)[::-1]]
    got = [np.arange(10.0), np.arange(10.0)]  # second sample: the order reversed
    top1, top5 = topk_agreement(got, expected, k=5)
    assert top1 == 0.5 and top5 == 0.5


@pytest.mark.parametrize("shape, classifier", [((1, 1000), True), ((1, 10, 1, 1), True), ((1, 5), False),
                                               ((1, 3, 8, 8), False), ((2, 1000), False)])
def test_classifier_outputs(shape: tuple[int, ...], classifier: bool) -> None:
    assert is_classifier_output(shape) is classifier


def test_route_result_scores_outputs_samples_and_layers() -> None:
    rng = np.random.default_rng(0)
    want = rng.standard_normal((1, 20)).astype(np.float32)
    noisy = want + 0.05 * rng.standard_normal(want.shape).astype(np.float32)
    layers = {"conv": np.ones((1, 4)), "relu": np.array([[1.0, 0.0, 0.0, 0.0]]), "only_sim": np.ones(2)}
    golden = {"conv": np.ones((1, 4)), "relu": np.ones((1, 4))}
    result = route_result("caffe", {"prob": noisy}, {"prob": want}, evaluated=[{"prob": noisy}, {"prob": want}],
                          evaluated_expected=[{"prob": want}, {"prob": want}], simulated=layers, golden=golden,
                          order=["conv", "relu", "only_sim"])
    assert result.output_cosine["prob"] == pytest.approx(cosine(noisy, want))
    assert result.eval_cosine["prob"] == pytest.approx((cosine(noisy, want) + 1.0) / 2)
    assert result.min_output_cosine == result.eval_cosine["prob"]
    assert result.top1 == 1.0  # a 20-class output is a classifier's; small noise keeps the argmax
    assert [(l.depth, l.layer) for l in result.layers] == [(0, "conv"), (1, "relu")]  # only layers in both runs
    assert result.worst_layers(1)[0] == LayerCosine(1, "relu", 0.5)


def _route(name: str, value: float) -> RouteResult:
    return RouteResult(name, output_cosine={"y": value}, layers=(LayerCosine(0, f"{name}_a", 0.9999),
                                                                  LayerCosine(1, f"{name}_worst", 0.98)))


@pytest.mark.parametrize("caffe, onnx, passed", [
    (0.999, 0.999, True),
    (0.999 - ONNX_MARGIN / 2, 0.999, True),
    (0.999 - 2 * ONNX_MARGIN, 0.999, False),   # lost more than the margin against the ONNX route
    (INT8_MIN_COSINE - 0.001, None, False),    # below the floor, no baseline
])
def test_verdict(caffe: float, onnx: float | None, passed: bool) -> None:
    result = Int8Comparison("net", "8 calibration samples, normal/channel", _route("caffe", caffe),
                            None if onnx is None else _route("onnx", onnx), RknnRun(), RKNN)
    assert result.passed is passed
    assert result.summary().startswith("INT8 OK" if passed else "INT8 FAILED")
    table = int8_table(result)
    assert "caffe_worst 0.98000" in table and f"{caffe:.5f}" in table


def test_failed_route_is_reported() -> None:
    result = Int8Comparison("net", "q", RouteResult("caffe", error="build returned -1: E boom"), None, RknnRun(), RKNN)
    assert not result.passed and "the Caffe route failed: build returned -1: E boom" in result.summary()
    assert cosine_plot([result.caffe]) == ""


def test_html_is_self_contained_with_the_worst_layers_marked() -> None:
    result = Int8Comparison("net", "q", _route("caffe", 0.999), _route("onnx", 0.999), RknnRun(), RKNN)
    page = int8_html(result)
    assert "<svg" in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<script" not in page
    assert page.count('fill="#d33"') == 4  # 2 routes x their 2 layers (fewer than WORST) as red dots
    assert "caffe_worst 0.98000" in page and "onnx_worst" in page
