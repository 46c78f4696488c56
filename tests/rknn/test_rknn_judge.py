"""The RKNN-Toolkit2 judge end to end: convert with purecaffe, run RKNN's fp16 simulator, compare with torch.

Tolerances: RKNN computes in fp16, so outputs are compared by cosine >= FP16.min_cosine and
max|err| <= FP16.rtol x max|torch| (purecaffe.targets.judges says why).  About 5-10 s per model.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import purecaffe
from purecaffe.errors import PurecaffeError
from purecaffe.examples.tiny_resnet import tiny_resnet
from purecaffe.parity import verify
from purecaffe.targets.judges import FP16
from purecaffe.rknn import RknnRun, net_io_names, run_rknn
from judge_nets import Activation, ConvBnPoolLinear, TwoHeads, randomized

pytestmark = pytest.mark.rknn


def convert_and_run(model: nn.Module, x: torch.Tensor, prefix: Path, venv: Path) -> tuple[RknnRun, list[np.ndarray]]:
    files = purecaffe.convert(model, (x,)).save(prefix)
    run = run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=venv)
    with torch.no_grad():
        out = model(x)
    outs = [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]
    return run, outs


def assert_fp16_close(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    cosine = float(np.dot(got.ravel(), expected.ravel()) / (np.linalg.norm(got) * np.linalg.norm(expected)))
    rel = float(np.abs(got - expected).max() / np.abs(expected).max())
    assert cosine >= FP16.min_cosine and rel <= FP16.rtol, (cosine, rel)


@pytest.mark.parametrize("factory, shape", [(ConvBnPoolLinear, (1, 3, 16, 16)), (tiny_resnet, (1, 3, 32, 32))],
                         ids=["conv_bn_pool_linear", "tiny_resnet"])
def test_converted_net_matches_torch_on_rknn(factory, shape, rknn_venv: Path, tmp_path: Path) -> None:
    model = randomized(factory())
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    run, (expected,) = convert_and_run(model, x, tmp_path / "net", rknn_venv)
    assert run.ok, run.error
    (name, got), = run.outputs.items()
    assert_fp16_close(got, expected)
    assert "relu" in run.layers or "layer1.relu" in run.layers  # the per-layer dump came back, by Caffe name


def test_several_outputs_come_back_in_caffe_order(rknn_venv: Path, tmp_path: Path) -> None:
    model = randomized(TwoHeads())
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    run, expected = convert_and_run(model, x, tmp_path / "two", rknn_venv)
    assert run.ok, run.error
    assert list(run.outputs) == net_io_names(tmp_path / "two.prototxt")[1] == ["zeta", "alpha"]
    for got, want in zip(run.outputs.values(), expected):
        assert_fp16_close(got, want)


def test_verify_on_rknn_compares_every_layer_rknn_kept(rknn_venv: Path, tmp_path: Path) -> None:
    model = randomized(tiny_resnet())
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    report = verify(model, (x,), purecaffe.convert(model, (x,)), backend="rknn")
    assert report.passed, report.to_table()
    layers = {c.layer for c in report.comparisons}
    assert {"bn1/scale", "relu", "maxpool", "layer2/add", "fc"} <= layers  # fused chains: at their last layer
    assert "conv1" not in layers  # fused into bn1/scale by RKNN: not visible, so not compared
    # judged against the runtime's fp16 storage (purecaffe.parity.fp16), the fp16 cost reported apart
    assert report.fp16_reference.startswith("the runtime in fp16 storage")
    assert "fp16 storage" in report.summary() and [blob for blob, _, _ in report.fp16_cost] == ["fc"]
    assert all("fp16 cost" in c.note for c in report.comparisons)


@pytest.mark.parametrize("activation", [nn.ReLU6(), nn.SiLU()], ids=["relu6_as_clip", "silu_as_swish"])
def test_what_rknn_reads_differently_is_caught(activation: nn.Module, rknn_venv: Path, tmp_path: Path) -> None:
    """The motivating bug of the `rknn` target: today's BVLC files use Clip (clip_param = 148; RKNN's proto has
    its ClipParameter at 401 and reads 148 as smooth_l1_loss_param) and Swish (not in its front end): RKNN logs
    "OP in Layer act Current not support", leaves the layer out (an identity, measured) and load_caffe returns 0."""
    model = randomized(Activation(activation))
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    converted = purecaffe.convert(model, (x,))
    report = verify(model, (x,), converted, backend="rknn")
    assert not report.passed
    first = report.first_divergence
    assert first is not None and first.layer == "act", report.summary()  # named at the layer RKNN left out
    assert "Current not support" in first.note, first.note


class ClipAndSwishBranches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu6 = nn.ReLU6()
        self.silu = nn.SiLU()
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return self.head(self.relu6(y)), self.silu(y)


def test_a_refusal_comes_back_as_one_line_data(rknn_venv: Path, tmp_path: Path) -> None:
    """Clip and Swish on two branches of one blob: RKNN drops both, then cannot find the head's bottom and raises."""
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    run, _ = convert_and_run(randomized(ClipAndSwishBranches()), x, tmp_path / "clip", rknn_venv)
    assert not run.ok and run.stage == "load_caffe"
    assert "Current not support" in run.error and "\n" not in run.error
    assert not run.outputs


def test_a_crash_of_rknn_is_a_one_line_error_naming_the_file(rknn_venv: Path, tmp_path: Path) -> None:
    """Measured: RKNN-Toolkit2 2.5.0 dies of SIGSEGV on a `ReLU6` layer written in place that ends the net (a
    type it lists; with a top of its own, as purecaffe writes a net output's layer, it runs)."""
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(6))
    model = randomized(Activation(nn.ReLU6()))
    model.head = nn.Identity().eval()
    files = purecaffe.convert(model, (x,)).save(tmp_path / "r6")
    text = files.prototxt.read_text()
    edited = text.replace('type: "Clip"', 'type: "ReLU6"').replace("clip_param {\n    min: 0.0\n    max: 6.0\n  }", "")
    edited = edited.replace('top: "act"', 'top: "conv"')
    assert edited != text and "clip_param" not in edited
    files.prototxt.write_text(edited)
    with pytest.raises(PurecaffeError) as error:
        run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=rknn_venv)
    text = error.value.one_line()
    assert str(files.prototxt) in text and "the RKNN runner died" in text and "\n" not in text
