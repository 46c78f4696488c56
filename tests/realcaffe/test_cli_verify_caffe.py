"""`purecaffe verify-caffe` and `purecaffe caffe-rootfs`: user errors are one line + exit 2."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from corpus import model_dir
from purecaffe.cli import main
from purecaffe.realcaffe import Backend, backend, load_caffe_run, rootfs


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    return err


def test_missing_prototxt(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["verify-caffe", str(tmp_path / "none.prototxt")]) == 2
    assert _one_line_error(capsys) == f"purecaffe verify-caffe: error: {tmp_path / 'none.prototxt'}: prototxt not found"


def test_missing_caffemodel_and_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('name: "n"\n')
    assert main(["verify-caffe", str(prototxt), str(tmp_path / "w.caffemodel")]) == 2
    assert "caffemodel not found" in _one_line_error(capsys)
    assert main(["verify-caffe", str(prototxt), "--inputs", str(tmp_path / "x.npz")]) == 2
    assert "inputs file not found" in _one_line_error(capsys)
    (tmp_path / "x.npy").write_bytes(b"")
    np.save(tmp_path / "x.npy", np.zeros(3))
    assert main(["verify-caffe", str(prototxt), "--inputs", str(tmp_path / "x.npy")]) == 2
    assert "not an .npz of named arrays" in _one_line_error(capsys)


def test_no_backend_names_both_routes(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    monkeypatch.setattr(backend, "docker_available", lambda: False)
    monkeypatch.setattr(backend, "is_root", lambda: False)
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('name: "n"\n')
    assert main(["verify-caffe", str(prototxt)]) == 2
    err = _one_line_error(capsys)
    assert "purecaffe caffe-image" in err and "podman" in err and "purecaffe caffe-rootfs" in err
    assert "apt-get install debootstrap" in err


def test_caffe_rootfs_not_root(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                               tmp_path: Path) -> None:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 1000)
    assert main(["caffe-rootfs"]) == 2
    err = _one_line_error(capsys)
    assert err.startswith("purecaffe caffe-rootfs: error: building the Debian rootfs needs root")
    assert "docker build -t caffe-verify docker/" in err


def test_caffe_rootfs_without_debootstrap(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(rootfs, "is_root", lambda: True)
    monkeypatch.setattr(rootfs, "find_tool", lambda name: None)
    assert main(["caffe-rootfs", "--dir", str(tmp_path / "fs")]) == 2
    assert "debootstrap is not installed: apt-get install debootstrap" in capsys.readouterr().err
    assert not (tmp_path / "fs").exists()


def test_caffe_rootfs_prints_a_finished_tree(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tree = tmp_path / "fs"
    (tree / "usr" / "bin").mkdir(parents=True)
    (tree / "usr" / "bin" / "python3").write_text("")
    (tree / rootfs.STAMP).write_text(json.dumps({"packages": list(rootfs.caffe_packages())}))
    assert main(["caffe-rootfs", "--dir", str(tree)]) == 0
    assert capsys.readouterr().out.strip() == str(tree)


def _backend_args(real: Backend) -> list[str]:
    if isinstance(real, rootfs.RootfsBackend):
        return ["--caffe-backend", "rootfs", "--rootfs-dir", str(real.root)]
    return ["--caffe-backend", real.name]


@pytest.mark.real_caffe
def test_verify_caffe_table_json_and_out(real_caffe_backend: Backend, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    folder = model_dir("mtcnn_det1_pnet")
    args = ["verify-caffe", str(folder / "det1.prototxt"), str(folder / "det1.caffemodel"),
            "--inputs", str(folder / "reference.npz"), *_backend_args(real_caffe_backend)]
    assert main([*args, "--out", str(tmp_path / "run.npz")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("real Caffe (") and "12 layers" in table[0]
    assert table[1].split() == ["#", "layer", "type", "top", "shape", "min", "max", "mean"]
    relu = next(line for line in table if line.split()[:2] == ["2", "PReLU1"])
    assert "conv1 (in place)" in relu and "1x10x10x10" in relu
    with np.load(folder / "reference.npz") as reference:
        run = load_caffe_run(tmp_path / "run.npz")
        np.testing.assert_array_equal(run.blobs["prob1"], reference["prob1"])
        np.testing.assert_array_equal(run.after("PReLU1"), reference["conv1"])
    assert not np.array_equal(run.after("conv1"), run.after("PReLU1"))

    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["outputs"] == ["conv4-2", "prob1"]
    rows = [(row["layer"], row["top"], row["in_place"]) for row in report["layers"]]
    assert rows[1:3] == [("conv1", "conv1", False), ("PReLU1", "conv1", True)]
    assert report["layers"][1]["shape"] == [1, 10, 10, 10]


@pytest.mark.real_caffe
def test_verify_caffe_refusal_exits_1(real_caffe_backend: Backend, capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('name: "n"\nlayer { name: "x" type: "NoSuchLayer" top: "x" }\n')
    assert main(["verify-caffe", str(prototxt), *_backend_args(real_caffe_backend)]) == 1
    captured = capsys.readouterr()
    assert "refused the net" in captured.out and "Unknown layer type: NoSuchLayer" in captured.out
    assert captured.err.startswith("purecaffe verify-caffe: real Caffe refused the net: Check failed")


def test_rootfs_backend_needs_root(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                   tmp_path: Path) -> None:
    monkeypatch.setattr(rootfs.os, "geteuid", lambda: 1000)
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('name: "n"\n')
    assert main(["verify-caffe", str(prototxt), "--caffe-backend", "rootfs"]) == 2
    err = _one_line_error(capsys)
    assert "running real Caffe in the Debian rootfs (chroot) needs root" in err and "Docker" in err
