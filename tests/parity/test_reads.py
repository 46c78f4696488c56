"""parity/reads.py: a judge's verdict on the net outputs comes from the users' own calls.

Each test hand-edits a converted file into one a consumer hands back wrongly while every layer is
still right (outputs out of order, an output written in place by a layer of another name, an output
also read by a layer), and the judge must fail it on the outputs' rows, naming the call and the place.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import purecaffe
from judge_nets import CraftStyle, Espcn, MtcnnStyle, RetinaFaceStyle, randomized
from judges import opencv
from purecaffe.io.prototxt import read_net, write_net
from purecaffe.parity import ParityReport


def _edited(model: nn.Module, x: torch.Tensor, target: str, prefix: Path,
            edit: Callable[[Any, dict[str, Any]], None]) -> nn.Module:
    """Convert and save, then `edit(net, sidecar)` the prototxt and sidecar in place."""
    files = purecaffe.convert(model, (x,), target=target).save(prefix)
    net = read_net(files.prototxt)
    sidecar = json.loads(files.sidecar.read_text(encoding="utf-8"))
    edit(net, sidecar)
    write_net(net, files.prototxt)
    files.sidecar.write_text(json.dumps(sidecar), encoding="utf-8")
    return model


def _move_to_end(name: str) -> Callable[[Any, dict[str, Any]], None]:
    def edit(net: Any, sidecar: dict[str, Any]) -> None:
        index = next(i for i, layer in enumerate(net.layer) if layer.name == name)
        layer = type(net.layer[index])()
        layer.CopyFrom(net.layer[index])
        del net.layer[index]
        net.layer.add().CopyFrom(layer)
    return edit


def _drop_copy(name: str) -> Callable[[Any, dict[str, Any]], None]:
    """Undo the Split that copies an output also read by a layer: the read blob is the output again."""
    def edit(net: Any, sidecar: dict[str, Any]) -> None:
        index = next(i for i, layer in enumerate(net.layer) if layer.name == name)
        source = net.layer[index].bottom[0]
        del net.layer[index]
        sidecar["tensors"] = [t for t in sidecar["tensors"] if t["layer"] != name]
        for entry in sidecar["outputs"]:
            if entry["blob"] == name:
                entry["blob"] = source
    return edit


def _output_failures(report: ParityReport) -> tuple[list[str], list[str]]:
    """(failed per-layer rows, failed output rows) by note (without the fp16 cost an RKNN row ends with)."""
    layers = [c.note for c in report.comparisons if not c.passed and not c.op.startswith("net output")]
    outputs = [c.note.split("; fp16 cost")[0] for c in report.comparisons
               if not c.passed and c.op.startswith("net output")]
    return layers, outputs


X16 = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))


def test_opencv_outputs_out_of_order_fail_the_judge(tmp_path: Path) -> None:
    """All three RetinaFace outputs one shape; the class scores' layer moved last: the unconnected list
    gives (box, landmarks, scores) while forward(names) is still right."""
    opencv()
    model = _edited(randomized(RetinaFaceStyle((4, 4, 4))), X16, "opencv", tmp_path / "net", _move_to_end("softmax"))
    report = purecaffe.verify(model, (X16,), tmp_path / "net", backend="opencv")
    layers, outputs = _output_failures(report)
    assert not report.passed and layers == []
    assert outputs == ["opencv forward(getUnconnectedOutLayersNames()) place 1 (output 'softmax') named 'cat_2': "
                       "holds output 2 'cat_2'",
                       "opencv forward(getUnconnectedOutLayersNames()) place 2 (output 'cat_2') named 'softmax': "
                       "holds output 1 'softmax'"]


def test_opencv_output_written_in_place_by_another_layer_fails_the_judge(tmp_path: Path) -> None:
    """The ESPCN fault as files had it: Sigmoid in place on the Deconvolution's blob `ps`; every layer is
    right, but forward(['ps']) finds the layer named ps, the Deconvolution."""
    opencv()
    x = torch.randn(1, 3, 12, 12, generator=torch.Generator().manual_seed(4))

    def in_place(net: Any, sidecar: dict[str, Any]) -> None:
        sigmoid = net.layer[-1]
        sigmoid.top[0] = sigmoid.bottom[0]
        sidecar["outputs"][0]["blob"] = sigmoid.bottom[0]
        for entry in sidecar["tensors"]:
            if entry["layer"] == sigmoid.name:
                entry["blob"] = sigmoid.bottom[0]

    model = _edited(randomized(Espcn()), x, "opencv", tmp_path / "net", in_place)
    report = purecaffe.verify(model, (x,), tmp_path / "net", backend="opencv")
    layers, outputs = _output_failures(report)
    assert not report.passed and layers == []
    assert len(outputs) == 1 and outputs[0].startswith("opencv forward(output names) place 0 (output 'ps'): max|err| ")


@pytest.mark.real_caffe
def test_an_output_also_read_by_a_layer_fails_the_caffe_judge(real_caffe_backend: object, tmp_path: Path) -> None:
    model = _edited(randomized(CraftStyle()), X16, "bvlc", tmp_path / "net", _drop_copy("upconv.2"))
    report = purecaffe.verify(model, (X16,), tmp_path / "net", backend="caffe")
    layers, outputs = _output_failures(report)
    assert not report.passed and layers == []
    assert outputs == ["caffe net.forward()[name] place 1 (output 'upconv.2/pre'): not among the outputs the call "
                       "gives (it lists permute)"]


@pytest.mark.rknn
def test_rknn_outputs_out_of_order_fail_the_judge(rknn_venv: Path, tmp_path: Path) -> None:
    """MTCNN's box regression layer moved after the probabilities: inference() swaps them."""
    x = torch.randn(1, 3, 12, 12, generator=torch.Generator().manual_seed(5))
    model = _edited(randomized(MtcnnStyle()), x, "rknn", tmp_path / "net", _move_to_end("conv4_2"))
    report = purecaffe.verify(model, (x,), tmp_path / "net", backend="rknn")
    layers, outputs = _output_failures(report)
    assert not report.passed and layers == []
    assert outputs == ["rknn inference() place 0 (output 'conv4_2'): holds output 1 'softmax4_1'",
                       "rknn inference() place 1 (output 'softmax4_1'): holds output 0 'conv4_2'"]


@pytest.mark.rknn
def test_rknn_losing_an_output_fails_the_judge(rknn_venv: Path, tmp_path: Path) -> None:
    """CRAFT's feature map as files had it: also read by the head, RKNN leaves it out of inference()."""
    model = _edited(randomized(CraftStyle()), X16, "rknn", tmp_path / "net", _drop_copy("upconv.2"))
    report = purecaffe.verify(model, (X16,), tmp_path / "net", backend="rknn")
    layers, outputs = _output_failures(report)
    assert not report.passed and layers == []
    assert outputs == ["rknn inference() place 1 (output 'upconv.2/pre'): the call returned 1 outputs for the net's 2"]
