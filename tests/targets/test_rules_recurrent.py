"""The LSTM in each consumer's form (`purecaffe.targets.rules_recurrent`), and on OpenCV, its judge.

The canonical LSTM reads x alone; real Caffe's file gets a cont Parameter per LSTM, RKNN's keeps the
one bottom and Caffe's three blobs, OpenCV's the one bottom and OpenCV's five blobs (W_hc, W_xc, b_c,
h0, c0).  OpenCV runs the files the user's way (`forward(output names)`, default settings, through
`purecaffe.verify`) to FLOAT32 (its LSTM is Caffe's step in float32: measured 2e-7 to 7e-7 of
max|torch|, a wrong gate order or time direction errs by O(1)).  Real Caffe: tests/converter/lowerings/
test_recurrent.py; RKNN: tests/rknn/test_rknn_lstm.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import purecaffe
from judge_nets import CrnnStyle, Recognizer, randomized
from judges import opencv
from purecaffe.canonical import Blob, builders
from purecaffe.io.blob_layouts import caffe_lstm_gates
from purecaffe.targets import findings, get_target
from purecaffe.targets.lint import lint_file


def _bidirectional() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return Recognizer(nn.LSTM(5, 4, num_layers=2, bidirectional=True)).eval(), torch.randn(6, 2, 5)


def _lstms(net: purecaffe.ConvertedNet) -> list:
    return [layer for layer in net.net.layer if layer.type == "LSTM"]


@pytest.mark.parametrize("target", ["bvlc", "caffe1"])
def test_real_caffe_gets_a_cont_parameter_per_lstm(target: str) -> None:
    model, x = _bidirectional()
    net = purecaffe.convert(model, (x,), target=target)
    lstms = _lstms(net)
    assert len(lstms) == 4 and all(len(layer.bottom) == 2 for layer in lstms)
    for layer in lstms:
        (cont,) = net.weights[layer.bottom[1]]
        assert cont.shape == (6, 2) and not cont[0].any() and cont[1:].all()
        shapes = [w.shape for w in net.weights[layer.name]]
        assert shapes in ([(16, 5), (16,), (16, 4)], [(16, 8), (16,), (16, 4)])  # Caffe's W_xc, b_c, W_hc


def test_rknn_reads_x_alone_with_caffes_blobs() -> None:
    model, x = _bidirectional()
    net = purecaffe.convert(model, (x,), target="rknn")
    assert "Parameter" not in {layer.type for layer in net.net.layer}
    first = _lstms(net)[0]
    assert list(first.bottom) == ["data"]
    w_x, bias, w_h = net.weights[first.name]
    lstm = model.rnn
    np.testing.assert_array_equal(w_x, caffe_lstm_gates(lstm.weight_ih_l0.detach().numpy()))
    np.testing.assert_array_equal(w_h, caffe_lstm_gates(lstm.weight_hh_l0.detach().numpy()))
    assert bias.shape == (16,)


def test_opencv_gets_its_five_blobs() -> None:
    model, x = _bidirectional()
    net = purecaffe.convert(model, (x,), target="opencv")
    assert "Parameter" not in {layer.type for layer in net.net.layer}
    first = _lstms(net)[0]
    w_h, w_x, bias, h0, c0 = net.weights[first.name]
    lstm = model.rnn
    np.testing.assert_array_equal(w_h, caffe_lstm_gates(lstm.weight_hh_l0.detach().numpy()))
    np.testing.assert_array_equal(w_x, caffe_lstm_gates(lstm.weight_ih_l0.detach().numpy()))
    assert bias.shape == (16,) and h0.shape == c0.shape == (2, 4) and not h0.any() and not c0.any()


X = Blob("x", (7, 1, 5))
CONT = Blob("cont", (7, 1))


@pytest.mark.parametrize("bottoms, target, rule", [
    ([X], "bvlc", "lstm-cont"), ([X, CONT], "bvlc", None), ([X], "caffe1", "lstm-cont"),
    ([X], "rknn", None), ([X, CONT], "rknn", "lstm-no-cont"),
    ([X], "opencv", None), ([X, CONT], "opencv", "lstm-opencv-form"),
    ([X], "mnn", "layer-type"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_lstm_limits(bottoms: list[Blob], target: str, rule: str | None) -> None:
    """Hand-written LSTMs (no weights, as `lint` sees them): each target's form."""
    layer = builders.lstm("lstm", bottoms, "h", num_output=4)
    assert [f.rule for f in findings([layer], get_target(target))] == ([rule] if rule else [])


def test_lint_names_the_missing_cont_in_a_hand_written_prototxt(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 7 dim: 1 dim: 5 } } }\n'
                    'layer { name: "lstm" type: "LSTM" bottom: "data" top: "h" recurrent_param { num_output: 4 } }\n')
    found = [f.describe(str(path)) for f in lint_file(path, get_target("bvlc"))]
    assert len(found) == 1 and f"{path}:2: layer 'lstm' (LSTM)" in found[0] and "needs the cont bottom" in found[0]
    assert lint_file(path, get_target("rknn")) == []


@pytest.mark.parametrize("shape, hidden, layers, bidirectional, batch_first", [
    ((40, 1, 512), 256, 2, True, False),
    ((26, 2, 64), 32, 2, True, False),
    ((1, 3, 5), 4, 1, False, False),
    ((9, 2, 5), 4, 1, False, False),
    ((1, 31, 48), 24, 2, True, True),
], ids=["t40_h256_bi2", "t26_batch2_bi2", "one_step", "forward_only", "batch_first"])
def test_lstm_in_opencv(shape: tuple[int, int, int], hidden: int, layers: int, bidirectional: bool,
                        batch_first: bool, tmp_path: Path) -> None:
    opencv()  # the judge must be there: a skip locally, a failure under CI=true
    torch.manual_seed(0)
    model = Recognizer(nn.LSTM(shape[2], hidden, num_layers=layers, bidirectional=bidirectional,
                               batch_first=batch_first)).eval()
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    purecaffe.convert(model, (x,), target="opencv").save(tmp_path / "lstm")
    report = purecaffe.verify(model, (x,), tmp_path / "lstm", backend="opencv")
    assert report.passed, report.summary()


def test_crnn_style_recognizer_in_opencv(tmp_path: Path) -> None:
    opencv()
    model = randomized(CrnnStyle())
    x = torch.randn(1, 1, 32, 100, generator=torch.Generator().manual_seed(3))
    purecaffe.convert(model, (x,), target="opencv").save(tmp_path / "crnn")
    report = purecaffe.verify(model, (x,), tmp_path / "crnn", backend="opencv")
    assert report.passed, report.summary()


def test_inspect_reads_opencvs_lstm_blobs_as_fitting(tmp_path: Path) -> None:
    """`inspect` shows the five stored blobs and flags no mismatch: the runtime reads them as Caffe's three."""
    from purecaffe.inspect import inspect_files

    model, x = _bidirectional()
    files = purecaffe.convert(model, (x,), target="opencv").save(tmp_path / "lstm")
    report = inspect_files([files.prototxt, files.caffemodel])
    assert report.weight_shape_mismatches == ()
    assert [row.param_shapes for row in report.rows if row.type == "LSTM"][0] == ((16, 4), (16, 5), (16,), (2, 4),
                                                                                   (2, 4))
