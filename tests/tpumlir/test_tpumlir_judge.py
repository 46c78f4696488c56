"""The tpu-mlir judge end to end: convert with purecaffe, read with tpu-mlir's Caffe front end, run its top-level
fp32 interpreter (every tensor) and, for small nets, a compiled model in the chip's simulator.

Tolerances: the interpreter is float32 (`FLOAT32`); F16 models are held to the fp16 bounds
(`FP16`) and BF16 ones to `BF16` (purecaffe.targets.judges)
(purecaffe.parity.compare says why).  A few seconds per model, more for the compiled ones.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from torch import nn

import purecaffe
from judge_nets import ConvBnPoolLinear, TwoHeads, assert_close, randomized, save_converted
from purecaffe.errors import PurecaffeError
from purecaffe.examples.tiny_resnet import tiny_resnet
from purecaffe.judgejob import net_io_names
from purecaffe.parity import verify
from purecaffe.targets.judges import BF16, FLOAT32, FP16
from purecaffe.tpumlir import Deploy, run_tpumlir, tpumlir_tensor_names
from purecaffe.tpumlir.judge import reshape_copies

pytestmark = pytest.mark.tpu_mlir


@pytest.mark.parametrize("factory, shape", [(ConvBnPoolLinear, (1, 3, 16, 16)), (tiny_resnet, (1, 3, 32, 32))],
                         ids=["conv_bn_pool_linear", "tiny_resnet"])
def test_converted_net_matches_torch_in_the_top_level_interpreter(factory, shape, tpumlir_venv: Path,
                                                                  tmp_path: Path) -> None:
    model = randomized(factory())
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    files, (expected,) = save_converted(model, x, tmp_path / "net")
    run = run_tpumlir(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=tpumlir_venv)
    assert run.ok, run.error
    (got,) = run.outputs.values()
    assert_close(got, expected, rel=FLOAT32.rtol)
    assert run.consumer == "tpu-mlir 1.30.2 (top-level fp32 interpreter)" and run.layers
    assert run.seconds["transform"] > 0 and run.seconds["top"] > 0


def test_several_outputs_come_back_in_caffe_order(tpumlir_venv: Path, tmp_path: Path) -> None:
    model = randomized(TwoHeads())
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    files, expected = save_converted(model, x, tmp_path / "two")
    run = run_tpumlir(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=tpumlir_venv)
    assert list(run.outputs) == net_io_names(files.prototxt)[1] == ["zeta", "alpha"]
    for got, want in zip(run.outputs.values(), expected):
        assert_close(got, want, rel=FLOAT32.rtol)


def test_location_names_count_the_writers_of_a_blob(tmp_path: Path) -> None:
    """tpu-mlir names the k-th of n writers of a blob `blob/(n-1-k)`, the last one `blob`."""
    files, _ = save_converted(randomized(ConvBnPoolLinear()), torch.randn(1, 3, 16, 16), tmp_path / "net")
    names = tpumlir_tensor_names(files.prototxt)
    assert names["conv/3"] == ("conv", "conv") and names["conv/2"] == ("bn", "conv")
    assert names["conv/1"] == ("bn/scale", "conv") and names["conv"] == ("relu", "conv")


def test_verify_on_tpumlir_compares_every_tensor_it_kept(tpumlir_venv: Path) -> None:
    model = randomized(tiny_resnet())
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    report = verify(model, (x,), purecaffe.convert(model, (x,)), backend="tpu-mlir")
    assert report.passed, report.to_table()
    layers = {c.layer for c in report.comparisons}
    assert {"conv1", "relu", "maxpool", "layer1.relu_1", "fc"} <= layers  # BatchNorm + Scale + ReLU fused: at `relu`
    assert "bn1" not in layers and "bn1/scale" not in layers
    assert report.rtol == FLOAT32.rtol and report.min_cosine is None


@pytest.mark.parametrize("deploy, rel, min_cosine", [
    (Deploy("bm1684x", "F16"), FP16.rtol, FP16.min_cosine),
    (Deploy("cv181x", "BF16"), BF16.rtol, BF16.min_cosine),
    (Deploy("bm1684x", "F32"), FLOAT32.rtol, None),
], ids=lambda value: value.describe().replace(" ", "-") if isinstance(value, Deploy) else None)
def test_a_compiled_model_matches_torch_in_the_chip_simulator(deploy: Deploy, rel: float, min_cosine: float | None,
                                                              tpumlir_venv: Path, tmp_path: Path) -> None:
    model = randomized(ConvBnPoolLinear())
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    files, (expected,) = save_converted(model, x, tmp_path / "net")
    run = run_tpumlir(files.prototxt, files.caffemodel, {"data": x.numpy()}, deploy=deploy, venv=tpumlir_venv)
    assert run.ok, run.error
    assert_close(run.outputs["fc"], expected, rel=rel, min_cosine=min_cosine)  # (1, 5): CV18xx's 4-D output reshaped
    assert run.seconds["deploy"] > 0 and run.seconds["run"] > 0
    assert run.consumer == f"tpu-mlir 1.30.2 ({deploy.describe()}, model_runner)"


def test_a_layer_type_tpumlir_lacks_is_a_one_line_refusal(tpumlir_venv: Path, tmp_path: Path) -> None:
    """bvlc writes ReLU6 as Clip: tpu-mlir's front end raises "Clip Op not support now" (measured)."""
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    files, _ = save_converted(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6(), nn.Conv2d(4, 2, 1)).eval(), x,
                              tmp_path / "clip", target="bvlc")
    assert 'type: "Clip"' in files.prototxt.read_text()
    run = run_tpumlir(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=tpumlir_venv)
    assert not run.ok and run.stage == "transform" and not run.outputs
    assert run.error == "model_transform failed: RuntimeError: Clip Op not support now"


def test_in_place_layers_on_an_output_blob_are_left_out_and_caught(tpumlir_venv: Path, tmp_path: Path) -> None:
    """Measured: tpu-mlir's front end stops at the first layer writing a net output blob, so an in-place ReLU
    after the last convolution is never converted (no error): the judge compares what it returns, and fails.
    purecaffe never writes a net output's layer in place (targets.outputs), so the file is edited to it."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(7))
    files, (expected,) = save_converted(model, x, tmp_path / "tail", target="bvlc")
    written = 'name: "1"\n  type: "ReLU"\n  bottom: "0"\n  top: "1"'
    assert written in files.prototxt.read_text()
    files.prototxt.write_text(files.prototxt.read_text().replace(written, written[:-3] + '"0"'))
    run = run_tpumlir(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=tpumlir_venv)
    assert run.ok and list(run.outputs) == ["0"]
    assert (run.outputs["0"] < 0).any() and (expected >= 0).all()  # the convolution's value, not the ReLU's
    report = verify(model, (x,), tmp_path / "tail", backend="tpu-mlir")
    assert not report.passed and report.first_divergence.layer == "1"


@pytest.mark.parametrize("declared", ["layer", "field"])
def test_in_place_on_the_input_blob(declared: str, tpumlir_venv: Path, tmp_path: Path) -> None:
    """Measured: an in-place layer on the input blob is right after an Input layer; with the input declared as
    a net field (`input:`), tpu-mlir's alias resolution pops an empty list: a refusal, as one line."""
    model = nn.Sequential(nn.ReLU(), nn.Conv2d(3, 4, 3)).eval()
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(6))
    files, (expected,) = save_converted(model, x, tmp_path / "inplace", target="bvlc")
    text = files.prototxt.read_text()
    edited = text.replace('bottom: "0"', 'bottom: "data"').replace('bottom: "data"\n  top: "0"',
                                                                   'bottom: "data"\n  top: "data"')
    if declared == "field":
        start, end = edited.index("layer {"), edited.index("}\n}\n") + 4
        edited = edited[:start] + 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n' + edited[end:]
    assert edited.count('top: "data"') == (2 if declared == "layer" else 1)
    files.prototxt.write_text(edited)
    run = run_tpumlir(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=tpumlir_venv)
    if declared == "layer":
        assert run.ok, run.error
        assert_close(run.outputs["1"], expected, rel=FLOAT32.rtol)
        return
    assert not run.ok and run.stage == "transform"
    assert run.error == "model_transform failed: IndexError: pop from empty list"


def test_a_missing_input_is_a_one_line_error(tmp_path: Path) -> None:
    files, _ = save_converted(randomized(TwoHeads()), torch.randn(1, 3, 8, 8), tmp_path / "two")
    with pytest.raises(PurecaffeError, match=r"no input given for data \(the net's inputs: data\)"):
        run_tpumlir(files.prototxt, files.caffemodel, {"x": torch.randn(1, 3, 8, 8).numpy()})


def test_deploy_options_are_checked() -> None:
    with pytest.raises(PurecaffeError, match="unknown tpu-mlir processor 'bm9999'"):
        Deploy("bm9999", "F16")
    with pytest.raises(PurecaffeError, match="the judge takes F32, F16, BF16"):
        Deploy("bm1684x", "INT8")


class LogitsAndProbabilities(nn.Module):
    """Both the logits and their softmax as outputs (Ultralytics' classifier): the logits are also read later."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.conv(x), 1), 1))
        return logits.softmax(1), logits


def test_an_output_also_read_later_comes_back_under_its_name(tpumlir_venv: Path, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """sophgo has no Split: a same-shape Reshape copies the logits to their output blob, and tpu-mlir folds it
    (its MLIR returns the copied blob, `fc/pre`: measured); the judge reads it back as the output `fc`."""
    model = randomized(LogitsAndProbabilities())
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(6))
    net = purecaffe.convert(model, (x,), target="sophgo")
    files = net.save(tmp_path / "both")
    with torch.no_grad():
        expected = [t.numpy() for t in model(x)]
    logits = net.output_names[1]
    assert reshape_copies(files.prototxt) == {f"{logits}/pre": [(logits, (1, 10))]}
    with caplog.at_level(logging.INFO, logger="purecaffe.tpumlir.judge"):
        run = run_tpumlir(files.prototxt, files.caffemodel, {"data": x.numpy()}, dump_layers=False,
                          venv=tpumlir_venv)
    assert run.ok, run.error
    assert f"folded the Reshape copying {logits}/pre to the net output {logits}" in caplog.text
    assert sorted(run.outputs) == sorted(net.output_names)
    for name, want in zip(net.output_names, expected):
        assert_close(run.outputs[name], want, rel=FLOAT32.rtol)
