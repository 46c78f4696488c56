"""`purecaffe init` and `purecaffe fill`: thin over the API, one-line errors with exit status 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from manual_project import trained_model, with_swish, write_project
from test_fill_refusals import payload_file

import purecaffe


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "purecaffe", *map(str, args)], capture_output=True, text=True,
                          check=False)


@pytest.fixture()
def project(tmp_path: Path) -> dict[str, Path]:
    return write_project(tmp_path, trained_model())


def test_init_writes_the_seeded_weights(project: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "random.caffemodel"
    result = cli("init", project["prototxt"], "-o", output, "--seed", "4")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {output}: 10 layers, 6,841 parameters (seed 4)\n"
    expected = purecaffe.init_weights(project["prototxt"], seed=4)
    loaded = purecaffe.load_weights(output)
    for layer, blobs in expected.items():
        for ours, back in zip(blobs, loaded[layer]):
            np.testing.assert_array_equal(ours, back)


def test_fill_prints_the_report_table(project: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "net.caffemodel"
    result = cli("fill", project["prototxt"], project["checkpoint"], "-o", output, "--map", project["mapping"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["layer", "blob", "caffe", "shape", "from", "checkpoint", "key(s)", "shape"]
    assert "score          0 weight    5x16x1x1     mapping   head.weight" in result.stdout
    assert "classifier     1 bias      10           order     fc.bias" in result.stdout
    assert lines[-1] == (f"blobs: 20 filled (14 by name, 2 constant, 2 by mapping, 2 by order); no problems; "
                         f"written to {output}")
    assert output.is_file()


def test_fill_json(project: dict[str, Path], tmp_path: Path) -> None:
    result = cli("fill", project["prototxt"], project["checkpoint"], "-o", tmp_path / "n.caffemodel",
                 "--map", project["mapping"], "--json")
    report = json.loads(result.stdout)
    assert report["ok"] and report["problems"] == [] and report["checkpoint_format"] == "torch"
    assert {"layer": "score", "index": 1, "role": "bias", "shape": [5], "source": "mapping", "keys": ["head.bias"],
            "key_shapes": [[5]], "transform": "as_is", "note": ""} in report["matched"]


def test_fill_error_is_one_line_with_the_report_on_stdout(project: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "net.caffemodel"
    result = cli("fill", project["prototxt"], project["checkpoint"], "-o", output)
    assert result.returncode == 2
    assert result.stderr == (f"purecaffe fill: error: {project['checkpoint']}:fc.weight: shape mismatch: checkpoint "
                             f"fc.weight is 10x320 but Caffe layer 'score' blob 0 (weight) is 5x16x1x1 (paired by "
                             f"order; if they are different layers, add a --map entry) (and 7 more problems; see "
                             f"the report)\n")
    assert "score          0 weight    5x16x1x1     MISMATCH (order)  fc.weight" in result.stdout
    assert not output.exists()


def test_fill_allow_flags(project: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "net.caffemodel"
    result = cli("fill", project["prototxt"], project["checkpoint"], "-o", output,
                 "--allow-missing", "score", "--allow-unused", "head.*")
    assert result.returncode == 0, result.stderr
    assert "missing (allowed: filler)" in result.stdout and "head.weight 5x16x1x1 (allowed)" in result.stdout
    assert output.is_file()


@pytest.mark.parametrize("kind", ["pth", "npy"])
def test_fill_refuses_pickled_code(project: dict[str, Path], tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "PAYLOAD_RAN"
    output = tmp_path / "net.caffemodel"
    checkpoint = payload_file(tmp_path, kind, marker)
    result = cli("fill", project["prototxt"], checkpoint, "-o", output, "--map", project["mapping"])
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"purecaffe fill: error: {checkpoint}: refused: its pickle asks for posix.system")
    assert result.stderr.count("\n") == 1
    assert not output.exists() and not marker.exists()


def test_fill_wrong_shape(project: dict[str, Path], tmp_path: Path) -> None:
    state = trained_model().state_dict()
    state["conv1.weight"] = torch.zeros(8, 3, 5, 5)
    checkpoint = tmp_path / "bad.pth"
    torch.save(state, checkpoint)
    output = tmp_path / "net.caffemodel"
    result = cli("fill", project["prototxt"], checkpoint, "-o", output, "--map", project["mapping"])
    assert result.returncode == 2
    assert result.stderr == (f"purecaffe fill: error: {checkpoint}:conv1.weight: shape mismatch: checkpoint "
                             f"conv1.weight is 8x3x5x5 but Caffe layer 'conv1' blob 0 (weight) is 8x3x3x3 "
                             f"(paired by name)\n")
    assert not output.exists()


def test_init_error(tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('input: "x" input_shape { dim: 1 dim: 2 dim: 4 dim: 4 }\n'
                        'layer { name: "c" type: "Convolution" bottom: "x" top: "y" convolution_param { '
                        'num_output: 2 kernel_size: 3 weight_filler { type: "uniform" sparse: 2 } } }\n')
    output = tmp_path / "out.caffemodel"
    result = cli("init", prototxt, "-o", output)
    assert result.returncode == 2
    assert result.stderr == (f"purecaffe init: error: {prototxt}:c: blob 0 (weight) 2x2x3x3: sparse is only "
                             f"supported by the gaussian filler, not 'uniform'\n")
    assert not output.exists()


def test_fill_checks_the_target_first(project: dict[str, Path], tmp_path: Path) -> None:
    """--target runs the target's checks (`purecaffe lint`) before anything is written."""
    prototxt = with_swish(project)
    output = tmp_path / "net.caffemodel"
    result = cli("fill", prototxt, project["checkpoint"], "-o", output, "--map", project["mapping"], "--target", "bvlc")
    assert result.returncode == 0, result.stderr
    output.unlink()
    result = cli("fill", prototxt, project["checkpoint"], "-o", output, "--map", project["mapping"],
                 "--target", "caffe1")
    assert result.returncode == 2 and not output.exists()
    assert result.stderr.count("\n") == 1 and "the caffe1 target cannot take" in result.stderr
    assert "caffe1 has no Swish layer" in result.stderr and f"purecaffe lint {prototxt}" in result.stderr


def test_fill_reads_the_target_from_the_sidecar(project: dict[str, Path], tmp_path: Path) -> None:
    prototxt = with_swish(project)
    prototxt.with_suffix(".purecaffe.json").write_text(
        json.dumps({"format": "purecaffe-sidecar", "tensors": [], "target": "caffe1"}))
    output = tmp_path / "net.caffemodel"
    result = cli("fill", prototxt, project["checkpoint"], "-o", output, "--map", project["mapping"])
    assert result.returncode == 2 and "the caffe1 target cannot take" in result.stderr and not output.exists()
