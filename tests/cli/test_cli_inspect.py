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
    assert "conv4    InnerProduct  conv3 -> conv4    128x576 128   73,856" in out
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
