"""`purecaffe inspect` and the CLI's error contract (one line, exit status 2)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import model_dir
from purecaffe.cli import main


def test_inspect_table_with_weights(capsys: pytest.CaptureFixture[str]) -> None:
    folder = model_dir("mtcnn_det2_rnet")
    assert main(["inspect", str(folder / "det2.prototxt"), str(folder / "det2.caffemodel")]) == 0
    out = capsys.readouterr().out
    assert "conv4    InnerProduct  conv3 -> conv4    1x128       128x576 128   73,856" in out
    assert "total: 13 layers, 100,178 parameters" in out
    assert "weights for layers not in the net (ignored by Caffe): conv5-3" in out


def test_inspect_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--json", str(model_dir("lenet_mnist_v1") / "lenet_iter_10000.caffemodel")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "V1 caffemodel"
    ip1 = next(row for row in report["rows"] if row["name"] == "ip1")
    assert ip1["param_shapes"] == [[500, 800], [500]]
    assert report["total_params"] == 431080


@pytest.mark.parametrize(("content", "expected"), [
    (b"PK\x03\x04zipzipzip", "not a caffemodel: this is a zip archive"),
    (b"\x89PNG\r\n\x1a\nxxxx", "not a caffemodel: this is a PNG image"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "model.caffemodel"
    path.write_bytes(content)
    result = subprocess.run([sys.executable, "-m", "purecaffe", "inspect", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"purecaffe inspect: error: {path}:byte 0: {expected}")


def test_malformed_prototxt_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text('layer {\n  name: "a"\n  unknown_field: 3\n}\n')
    result = subprocess.run([sys.executable, "-m", "purecaffe", "inspect", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr == (f'purecaffe inspect: error: {path}:3:3: malformed prototxt: Message type '
                             f'"caffe.LayerParameter" has no field named "unknown_field".\n')


def test_inspect_prototxt_alone_infers_parameter_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    """Without a caffemodel, parameter shapes come from shape inference, as Caffe would allocate them."""
    folder = model_dir("mtcnn_det2_rnet")
    assert main(["inspect", str(folder / "det2.prototxt")]) == 0
    out = capsys.readouterr().out
    assert "pool2    Pooling       conv2 -> pool2    1x48x4x4" in out  # ceil rounding: 9 -> 4
    assert "total: 13 layers, 100,178 parameters" in out


def test_inspect_reports_a_net_caffe_cannot_build(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(model_dir("yolov3_tiny_upsample") / "yolov3-tiny.prototxt")]) == 0
    out = capsys.readouterr().out
    assert "shape inference: layer 'layer21-route' (Concat)" in out and "(1, 128, 24, 24)" in out


def test_inspect_flags_weights_that_do_not_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = model_dir("mtcnn_det1_pnet")
    prototxt = tmp_path / "det1.prototxt"
    prototxt.write_text((folder / "det1.prototxt").read_text().replace("num_output: 10", "num_output: 12", 1))
    assert main(["inspect", str(prototxt), str(folder / "det1.caffemodel")]) == 0
    out = capsys.readouterr().out
    assert "weights do not fit the prototxt: layer 'conv1' stores 10x3x3x3 10, Caffe allocates 12x3x3x3 12" in out
