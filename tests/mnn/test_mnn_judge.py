"""The MNN judge end to end: convert with purecaffe, convert again with MNN's own converter, run MNN's runtime.

MNN's CPU runtime computes in float32, its stride-1 3x3 convolutions as Winograd transforms: outputs and
every tensor it exposes are held to `MNN_FLOAT32.rtol` (purecaffe.targets.judges says why).  Under a second per model.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import purecaffe
from judge_nets import Activation, ConvBnPoolLinear, TwoHeads, assert_close, randomized, save_converted
from purecaffe.examples.tiny_resnet import tiny_resnet
from purecaffe.judgejob import net_io_names
from purecaffe.mnn import mnn_tensor_names, run_mnn
from purecaffe.parity import verify
from purecaffe.targets.judges import FLOAT32, JUDGES, MNN_FLOAT32, MNN_WINOGRAD_OFF

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


class WideConv(nn.Module):
    """One 192-channel 3x3 convolution on a 64x64 map: MNN's default session runs it as a Winograd transform
    with big tiles (measured: 2.6e-3 of max|torch| off; 1.9e-6 with Winograd off)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 192, 1)
        self.conv = nn.Conv2d(192, 192, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.stem(x))


def _wide(tmp_path: Path, **convert: object) -> tuple[nn.Module, torch.Tensor, Path]:
    torch.manual_seed(0)
    model = WideConv().eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    purecaffe.convert(model, (x,), target="mnn", **convert).save(tmp_path / "wide")
    return model, x, tmp_path / "wide"


def test_winograd_drifts_past_the_default_bound_and_is_float32_without(mnn_venv: Path, tmp_path: Path) -> None:
    model, x, prefix = _wide(tmp_path)
    with torch.no_grad():
        exact = model.double()(x.double()).numpy()
    errors = {}
    for winograd in (True, False):
        run = run_mnn(prefix.with_suffix(".prototxt"), prefix.with_suffix(".caffemodel"), {"data": x.numpy()},
                      dump_layers=False, winograd=winograd, venv=mnn_venv)
        (got,) = run.outputs.values()
        errors[winograd] = float(np.abs(got - exact).max() / np.abs(exact).max())
    assert run.consumer == "mnn 3.6.1 (fp32, Winograd off)"
    assert MNN_FLOAT32.rtol < errors[True] < 1e-2  # past MNN's bound, still 10x below a misread's 1e-2
    assert errors[False] < FLOAT32.rtol / 10  # a few float32 ulps: the Winograd transform is the whole drift


def test_verify_settles_a_winograd_miss_by_the_run_with_winograd_off(mnn_venv: Path, tmp_path: Path) -> None:
    model, x, prefix = _wide(tmp_path)
    report = verify(model, (x,), prefix, backend="mnn")
    assert report.passed, report.to_table()
    assert report.backend == "mnn 3.6.1 (fp32, Winograd off)" and report.rtol == FLOAT32.rtol
    drift = re.search(r"the default run missed 0.001 x max\|torch\| \(up to (\S+) of max\|torch\| at conv\)",
                      report.summary())
    assert drift is not None and MNN_FLOAT32.rtol < float(drift.group(1)) < 1e-2, report.summary()
    assert "with Winograd off every blob is within float32's 0.0001: the file is read right" in report.summary()
    assert JUDGES["mnn"].diagnostic is MNN_WINOGRAD_OFF


def test_a_misread_still_fails_with_winograd_off(mnn_venv: Path, tmp_path: Path) -> None:
    """The file edited by hand to compute something else of the same shape (a dilated convolution): both runs
    miss, and the default run's failure stands."""
    model, x, prefix = _wide(tmp_path)
    prototxt = prefix.with_suffix(".prototxt")
    text = prototxt.read_text()
    assert text.count("pad: 1") == 1
    prototxt.write_text(text.replace("pad: 1", "pad: 2\n    dilation: 2"))
    report = verify(model, (x,), prefix, backend="mnn")
    assert not report.passed
    assert report.backend == "mnn 3.6.1 (fp32)" and report.rtol == MNN_FLOAT32.rtol  # the default run's verdict
    first = report.first_divergence
    assert first is not None and first.layer == "conv"
    assert "with Winograd off it diverges too (first at layer 'conv'): not the consumer's arithmetic" \
        in report.summary()
