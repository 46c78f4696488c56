"""Converted models' outputs on each consumer, read the way its users read them, then `verify` on its judge.

RetinaFace-style (three heads, and a variant whose three outputs have one shape) on bvlc (real
Caffe, by blob name from `net.forward()`'s dict), opencv (`forward(net.output_names)` with default
fusion, and `forward(getUnconnectedOutLayersNames())`) and rknn (`inference()` by place); ESPCN and
DCGAN (a final element-wise layer) on opencv; MTCNN-style (two heads of different shapes) and
CRAFT-style (a returned feature map that the head also reads) on rknn.

Tolerances: the judges' own, from the catalog (purecaffe.targets.judges says why): real Caffe and
OpenCV compute in float32 (FLOAT32: 1e-4 of max|torch|); RKNN's simulator in fp16 (FP16: cosine
>= 0.9999 and max|err| <= 5e-2 x max|torch|).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import purecaffe
from judge_nets import CraftStyle, DcganTail, Espcn, MtcnnStyle, RetinaFaceStyle, assert_close, randomized
from judges import opencv
from purecaffe.io.sidecar import SavedFiles
from purecaffe.targets.judges import FLOAT32, FP16

RETINAFACE = {"three_shapes": (4, 2, 10), "one_shape": (4, 4, 4)}


def _image(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(7))


def _converted(model: nn.Module, x: torch.Tensor, target: str, prefix: Path
               ) -> tuple[purecaffe.ConvertedNet, SavedFiles, list[np.ndarray]]:
    net = purecaffe.convert(model, (x,), target=target)
    files = net.save(prefix)
    with torch.no_grad():
        out = model(x)
    return net, files, [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def _judged(model: nn.Module, x: torch.Tensor, prefix: Path, backend: str) -> None:
    """`verify` on the target's judge passes, its verdict on the outputs taken from the users' reads."""
    report = purecaffe.verify(model, (x,), prefix, backend=backend)
    assert report.passed, report.to_table()
    assert any(c.op.startswith("net output") for c in report.comparisons), report.to_table()


@pytest.mark.real_caffe
@pytest.mark.parametrize("k", RETINAFACE.values(), ids=RETINAFACE.keys())
def test_retinaface_outputs_by_name_on_real_caffe(k: tuple[int, int, int], real_caffe_backend: object,
                                                  tmp_path: Path) -> None:
    from purecaffe.realcaffe import run_real_caffe

    model, x = randomized(RetinaFaceStyle(k)), _image(1, 3, 8, 8)
    net, files, expected = _converted(model, x, "bvlc", tmp_path / "retinaface")
    result = run_real_caffe(files.prototxt, files.caffemodel, {"data": x.numpy()}, backend=real_caffe_backend)
    assert result.ok, result.error
    assert list(result.outputs) == net.sidecar()["output_order"]["order"] == sorted(net.output_names)
    for name, want in zip(net.output_names, expected):  # net.forward()[name]: the dict over net.outputs
        assert_close(result.blobs[name], want, rel=FLOAT32.rtol)
    _judged(model, x, tmp_path / "retinaface", "caffe")


@pytest.mark.parametrize("k", RETINAFACE.values(), ids=RETINAFACE.keys())
def test_retinaface_outputs_by_name_and_place_on_opencv(k: tuple[int, int, int], tmp_path: Path) -> None:
    model, x = randomized(RetinaFaceStyle(k)), _image(1, 3, 16, 16)
    _on_opencv(model, x, tmp_path)


@pytest.mark.parametrize("factory, shape", [(Espcn, (1, 3, 12, 12)), (DcganTail, (1, 16, 4, 4))],
                         ids=["espcn", "dcgan"])
def test_a_final_activation_is_the_output_on_opencv(factory: type, shape: tuple[int, ...], tmp_path: Path) -> None:
    """ESPCN's Sigmoid and DCGAN's Tanh: forward(name) used to give the layer before them (cosine 0.056)."""
    _on_opencv(randomized(factory()), _image(*shape), tmp_path)


def _on_opencv(model: nn.Module, x: torch.Tensor, tmp_path: Path) -> None:
    cv2 = opencv()
    net, files, expected = _converted(model, x, "opencv", tmp_path / "net")
    cv_net = cv2.dnn.readNetFromCaffe(str(files.prototxt), str(files.caffemodel))  # default fusion, as users run it
    cv_net.setInput(x.numpy(), "data")
    by_name = cv_net.forward(list(net.output_names))
    unconnected = list(cv_net.getUnconnectedOutLayersNames())
    assert unconnected == list(net.output_names) == net.sidecar()["output_order"]["order"]
    by_place = cv_net.forward(unconnected)
    for got_name, got_place, want in zip(by_name, by_place, expected, strict=True):
        assert_close(got_name, want, rel=FLOAT32.rtol)
        assert_close(got_place, want, rel=FLOAT32.rtol)
    _judged(model, x, tmp_path / "net", "opencv")


@pytest.mark.rknn
@pytest.mark.parametrize("factory, shape", [
    (lambda: RetinaFaceStyle(RETINAFACE["three_shapes"]), (1, 3, 16, 16)),
    (lambda: RetinaFaceStyle(RETINAFACE["one_shape"]), (1, 3, 16, 16)),
    (MtcnnStyle, (1, 3, 12, 12)),
    (CraftStyle, (1, 3, 16, 16))], ids=["retinaface", "retinaface_one_shape", "mtcnn", "craft"])
def test_outputs_by_place_on_rknn(factory: type, shape: tuple[int, ...], rknn_venv: Path, tmp_path: Path) -> None:
    """inference()'s list as board code indexes it: MTCNN and RetinaFace came back swapped, CRAFT's
    feature map (also read by its head) was lost."""
    from purecaffe.rknn import run_rknn

    model, x = randomized(factory()), _image(*shape)
    net, files, expected = _converted(model, x, "rknn", tmp_path / "net")
    run = run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=rknn_venv, dump_layers=False)
    assert run.ok, run.error
    assert len(run.positional) == len(expected) == len(net.output_names)
    for got, want in zip(run.positional, expected):
        assert_close(got, want, rel=FP16.rtol, min_cosine=FP16.min_cosine)
    _judged(model, x, tmp_path / "net", "rknn")
