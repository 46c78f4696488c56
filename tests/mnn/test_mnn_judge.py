"""The MNN judge end to end: convert with purecaffe, convert again with MNN's own converter, run MNN's runtime.

MNN's CPU runtime computes in float32, its stride-1 3x3 convolutions as Winograd transforms: outputs and
every tensor it exposes are held to `MNN_FLOAT32.rtol` (purecaffe.targets.judges says why).  Under a second per model.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import purecaffe
from judge_nets import Activation, ConvBnPoolLinear, TwoHeads, assert_close, randomized, save_converted
from purecaffe.examples.tiny_resnet import tiny_resnet
from purecaffe.judgejob import net_io_names
from purecaffe.mnn import mnn_tensor_names, run_mnn
from purecaffe.parity import verify
from purecaffe.targets.judges import MNN_FLOAT32

pytestmark = pytest.mark.mnn


@pytest.mark.parametrize("factory, shape", [(ConvBnPoolLinear, (1, 3, 16, 16)), (tiny_resnet, (1, 3, 32, 32))],
                         ids=["conv_bn_pool_linear", "tiny_resnet"])
def test_converted_net_matches_torch_on_mnn(factory, shape, mnn_venv: Path, tmp_path: Path) -> None:
    model = randomized(factory())
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    files, (expected,) = save_converted(model, x, tmp_path / "net")
    run = run_mnn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=mnn_venv)
    assert run.ok, run.error
    (got,) = run.outputs.values()
    assert_close(got, expected, rel=MNN_FLOAT32.rtol)
    assert run.consumer == "mnn 3.6.1 (fp32)" and run.layers  # the per-op tensors came back, by Caffe layer


def test_several_outputs_come_back_in_caffe_order(mnn_venv: Path, tmp_path: Path) -> None:
    model = randomized(TwoHeads())
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    files, expected = save_converted(model, x, tmp_path / "two")
    run = run_mnn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=mnn_venv)
    assert list(run.outputs) == net_io_names(files.prototxt)[1] == ["zeta", "alpha"]
    for got, want in zip(run.outputs.values(), expected):
        assert_close(got, want, rel=MNN_FLOAT32.rtol)


def test_in_place_writes_are_named_after_their_layer(tmp_path: Path) -> None:
    """MNN's RemoveInplace renames each in-place write to the layer's name; a fused chain keeps the last."""
    model = randomized(ConvBnPoolLinear())
    files, _ = save_converted(model, torch.randn(1, 3, 16, 16), tmp_path / "net")
    names = mnn_tensor_names(files.prototxt)
    assert names["conv"] == ("conv", "conv") and names["relu"] == ("relu", "conv")
    assert names["bn/scale"] == ("bn/scale", "conv")


def test_verify_on_mnn_compares_every_tensor_mnn_kept(mnn_venv: Path) -> None:
    model = randomized(tiny_resnet())
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    report = verify(model, (x,), purecaffe.convert(model, (x,)), backend="mnn")
    assert report.passed, report.to_table()
    layers = {c.layer for c in report.comparisons}
    assert {"relu", "maxpool", "layer1/add", "fc"} <= layers  # conv1 + bn1 + scale + relu: one op, at `relu`
    assert "conv1" not in layers and "bn1" not in layers
    assert report.min_cosine is None and report.rtol == MNN_FLOAT32.rtol
    assert "PARITY OK on mnn 3.6.1 (fp32)" in report.summary()


def test_a_layer_type_mnn_lacks_is_a_one_line_refusal(mnn_venv: Path, tmp_path: Path) -> None:
    """MNNConvert 3.6.1 logs `These Op Not Support: Caffe::Swish` and fails (measured)."""
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    files, _ = save_converted(randomized(Activation(nn.SiLU())), x, tmp_path / "swish", target="bvlc")
    assert 'type: "Swish"' in files.prototxt.read_text()
    run = run_mnn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=mnn_venv)
    assert not run.ok and run.stage == "convert" and not run.outputs
    assert run.error == "MNN's Caffe converter has no Swish layer (layer act)"


def test_mnn_ignores_round_mode(mnn_venv: Path, tmp_path: Path) -> None:
    """The quirk the mnn target exists for: a bvlc file's `round_mode: FLOOR` pooling is read as ceil (measured)."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.MaxPool2d(3, 2)).eval()
    x = torch.randn(1, 3, 12, 12, generator=torch.Generator().manual_seed(5))  # conv 10x10, floor pool 4x4, ceil 5x5
    files, _ = save_converted(model, x, tmp_path / "floor", target="bvlc")
    assert "round_mode: FLOOR" in files.prototxt.read_text()
    report = verify(model, (x,), tmp_path / "floor", backend="mnn")
    assert not report.passed
    first = report.first_divergence
    assert first is not None and first.layer_type == "Pooling"
    assert first.note == "shape (1, 4, 5, 5) != torch (1, 4, 4, 4)"
