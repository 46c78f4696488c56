"""targets/outputs.py: every net output the one unread top of a layer named like it, in the model's order.

First the consumers' own rules for the order of net outputs, measured on hand-written nets (one
1x1 convolution per output; outputs told apart by channel count), which `consumer_order` encodes;
then what the converter writes, checked on the files (the consumers' reads of converted models are
in test_device_outputs.py).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

import purecaffe
from judge_nets import ORDER_NETS, CraftStyle, Espcn, MtcnnStyle, RetinaFaceStyle, TwoHeads, conv_net, randomized
from judges import opencv
from purecaffe.errors import PurecaffeError
from purecaffe.judgejob import net_io_names
from purecaffe.runtime import run
from purecaffe.targets.outputs import BY_LAYER, BY_NAME, consumer_order

X = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))


def _layers(prototxt: Path) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    from purecaffe.io.prototxt import read_net

    return [(layer.name, tuple(layer.bottom), tuple(layer.top)) for layer in read_net(prototxt).layer]


# -- the consumers' rules ------------------------------------------------------------------------------

EXPECTED_BY_LAYER = {"file_vs_name": ["zz", "aa", "mm"], "inplace_last_writer": ["aa", "zz"], "read_output": ["head"],
                     "copied_output": ["head", "out"]}


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", sorted(ORDER_NETS))
def test_real_caffe_lists_net_outputs_by_blob_name(case: str, real_caffe_backend: object, tmp_path: Path) -> None:
    from purecaffe.realcaffe import run_real_caffe

    prototxt, caffemodel = conv_net(tmp_path / case, ORDER_NETS[case])
    result = run_real_caffe(prototxt, caffemodel, {"data": X[:, :, :8, :8].numpy()}, backend=real_caffe_backend)
    assert result.ok, result.error
    listed = sorted(EXPECTED_BY_LAYER[case])  # Caffe's available_blobs is a std::set<string>
    assert list(result.outputs) == listed == consumer_order(_layers(prototxt), listed, BY_NAME)


@pytest.mark.parametrize("case", sorted(ORDER_NETS))
def test_opencv_lists_unconnected_outputs_by_their_last_writer(case: str, tmp_path: Path) -> None:
    cv2 = opencv()
    prototxt, caffemodel = conv_net(tmp_path / case, ORDER_NETS[case])
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setInput(X[:, :, :8, :8].numpy(), "data")
    names = list(net.getUnconnectedOutLayersNames())  # layer names: zz's is its ReLU's, zz_relu
    values = net.forward(names)
    tops = {name: top for name, _, top in ((n, b, t[0]) for n, b, t in _layers(prototxt) if t)}
    assert [tops[name] for name in names] == EXPECTED_BY_LAYER[case]
    assert consumer_order(_layers(prototxt), EXPECTED_BY_LAYER[case], BY_LAYER) == EXPECTED_BY_LAYER[case]
    channels = {top: count for _, kind, _, top, count in ORDER_NETS[case] if kind == "Convolution"}
    channels["out"] = channels["zz" if "zz" in channels else "feat"]
    assert [v.shape[1] for v in values] == [channels[tops[name]] for name in names]


@pytest.mark.rknn
@pytest.mark.parametrize("case", sorted(ORDER_NETS))
def test_rknn_lists_outputs_by_their_last_writer(case: str, rknn_venv: Path, tmp_path: Path) -> None:
    from purecaffe.rknn import run_rknn

    prototxt, caffemodel = conv_net(tmp_path / case, ORDER_NETS[case])
    x = X[:, :, :8, :8].numpy()
    result = run_rknn(prototxt, caffemodel, {"data": x}, venv=rknn_venv, dump_layers=False)
    assert result.ok, result.error
    reference = {}
    for step in run(str(prototxt), str(caffemodel), {"data": x}).steps:
        reference.update(step.tops)
    expected = EXPECTED_BY_LAYER[case]
    assert len(result.positional) == len(expected)
    for got, name in zip(result.positional, expected):  # fp16: 1e-2 of the scale tells 1x1 convolutions apart
        want = reference[name]
        assert got.shape == want.shape and np.abs(got - want).max() <= 1e-2 * np.abs(want).max(), name
    assert consumer_order(_layers(prototxt), expected, BY_LAYER) == expected == net_io_names(prototxt)[1]


# -- what the converter writes -------------------------------------------------------------------------

def _writers(net: purecaffe.ConvertedNet, blob: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(layer.name, tuple(layer.bottom)) for layer in net.net.layer if blob in layer.top]


def _readers(net: purecaffe.ConvertedNet, blob: str) -> list[str]:
    return [layer.name for layer in net.net.layer if blob in layer.bottom]


@pytest.mark.parametrize("target", ["bvlc", "caffe1", "nnie", "opencv", "rknn"])
@pytest.mark.parametrize("factory", [RetinaFaceStyle, MtcnnStyle, CraftStyle, Espcn, TwoHeads],
                         ids=["retinaface", "mtcnn", "craft", "espcn", "two_heads"])
def test_each_output_is_the_unread_top_of_a_layer_named_like_it(factory: type, target: str) -> None:
    model = randomized(factory())
    try:
        net = purecaffe.convert(model, (X,), target=target)
    except purecaffe.UnsupportedOpsError as error:  # e.g. CRAFT's permute on caffe1 (too many Slices)
        pytest.xfail(f"{target} cannot take {factory.__name__}: {error.one_line()[:120]}")
    for name in net.output_names:
        assert _writers(net, name) == [(name, _writers(net, name)[0][1])], name  # one writer, named like it
        assert name not in _writers(net, name)[0][1] and _readers(net, name) == [], name


@pytest.mark.parametrize("target", ["nnie", "opencv", "rknn"])
@pytest.mark.parametrize("k", [(4, 2, 10), (4, 4, 4)], ids=["three_shapes", "one_shape"])
def test_outputs_are_written_in_the_model_order(k: tuple[int, int, int], target: str) -> None:
    """RetinaFace's softmax comes after the landmark concat in graph order: its layer moves to the end."""
    net = purecaffe.convert(randomized(RetinaFaceStyle(k)), (X,), target=target)
    layers = [(layer.name, tuple(layer.bottom), tuple(layer.top)) for layer in net.net.layer]
    assert consumer_order(layers, net.output_names, BY_LAYER) == list(net.output_names) == ["cat", "softmax", "cat_2"]
    assert net.sidecar()["output_order"]["order"] == list(net.output_names)


def test_real_caffe_targets_say_when_the_names_sort_otherwise(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="purecaffe.targets.outputs"):
        net = purecaffe.convert(randomized(RetinaFaceStyle()), (X,), target="bvlc")
    assert net.sidecar()["output_order"] == {"listed_by": "blob name (sorted)", "order": ["cat", "cat_2", "softmax"]}
    assert "real Caffe lists net.outputs by blob name (cat, cat_2, softmax), not in the order of the model's " \
           "outputs (cat, softmax, cat_2)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="purecaffe.targets.outputs"):
        purecaffe.convert(randomized(RetinaFaceStyle()), (X,), target="bvlc", output_names=["a_box", "b_cls", "c_lm"])
    assert "net.outputs" not in caplog.text


def test_a_final_element_wise_layer_is_not_written_in_place() -> None:
    """ESPCN: the Sigmoid writes its own top, so OpenCV's forward('sigmoid') is the Sigmoid's output."""
    net = purecaffe.convert(randomized(Espcn()), (X,), target="opencv")
    last = net.net.layer[-1]
    assert (last.type, last.name, list(last.top), net.output_names) == ("Sigmoid", "sigmoid", ["sigmoid"], ("sigmoid",))
    assert list(last.bottom) == ["ps"]


def test_an_output_also_read_by_a_layer_is_copied_under_its_own_name(tmp_path: Path) -> None:
    """CRAFT's feature map: read by the class head, so a one-top Split named like it is its output layer;
    the copied blob and the layer computing it step aside as upconv.2/pre (the output names stay)."""
    model = randomized(CraftStyle())
    net = purecaffe.convert(model, (X,), target="rknn")
    assert net.output_names == ("permute", "upconv.2")
    split = net.net.layer[-1]
    assert (split.type, split.name, list(split.bottom), list(split.top)) == \
        ("Split", "upconv.2", ["upconv.2/pre"], ["upconv.2"])
    assert _readers(net, "upconv.2/pre") == ["conv_cls.0", "upconv.2"]
    assert [w for w, _ in _writers(net, "upconv.2/pre")] == ["upconv.2/pre"]
    files = net.save(tmp_path / "craft")
    assert net_io_names(files.prototxt)[1] == ["permute", "upconv.2"]  # both are net outputs, in order
    report = purecaffe.verify(model, (X,), tmp_path / "craft", backend="runtime")
    assert report.passed, report.to_table()
    assert {(c.layer, c.blob) for c in report.comparisons} >= {("upconv.2/pre", "upconv.2/pre"),
                                                               ("upconv.2", "upconv.2")}


def test_output_names_that_swap_the_blob_names_are_a_swap(tmp_path: Path) -> None:
    """TwoHeads' outputs are blobs zeta, alpha; named (alpha, zeta) they trade names, not values."""
    model = randomized(TwoHeads())
    net = purecaffe.convert(model, (X,), output_names=["alpha", "zeta"])
    files = net.save(tmp_path / "swap")
    with torch.no_grad():
        first, second = model(X)
    blobs = {}
    for step in run(str(files.prototxt), str(files.caffemodel), {"data": X.numpy()}).steps:
        blobs.update(step.tops)
    np.testing.assert_allclose(blobs["alpha"], first.numpy(), rtol=0, atol=1e-5)  # float32 1x1 conv of a 3x3 conv
    np.testing.assert_allclose(blobs["zeta"], second.numpy(), rtol=0, atol=1e-5)
    assert net_io_names(files.prototxt)[1] == ["alpha", "zeta"]


def test_a_cut_output_read_by_a_later_output_keeps_its_name(tmp_path: Path) -> None:
    model = randomized(TwoHeads())
    net = purecaffe.convert(model, (X,), outputs=["stem", "zeta"])
    assert net.output_names == ("stem", "zeta")
    stem = [layer for layer in net.net.layer if layer.name == "stem"]
    assert [(layer.type, list(layer.bottom), list(layer.top)) for layer in stem] == [("Split", ["stem/pre"], ["stem"])]
    files = net.save(tmp_path / "cut")
    assert net_io_names(files.prototxt)[1] == ["stem", "zeta"]
    report = purecaffe.verify(model, (X,), tmp_path / "cut", backend="runtime")
    assert report.passed, report.to_table()


def test_an_output_name_of_another_blob_is_refused() -> None:
    with pytest.raises(PurecaffeError, match=r"^output name\(s\) stem already name other blobs of the net"):
        purecaffe.convert(randomized(TwoHeads()), (X,), output_names=["stem", "other"])
