"""The Docker route's commands, against a fake `docker` on PATH (no engine runs on CI machines)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from purecaffe.errors import BackendUnavailableError
from purecaffe.realcaffe import DockerBackend, docker, resolve_backend, run_real_caffe
from purecaffe.realcaffe.assets import caffe_packages, runner_path

FAKE_DOCKER = """#!/bin/sh
# Records each call; `run` answers like the runner would for a one-blob net.
echo "$*" >> "$FAKE_DOCKER_LOG"
case "$1" in
  info) exit "${FAKE_DOCKER_INFO:-0}" ;;
  image) [ -f "$FAKE_DOCKER_DIR/image-built" ] && exit 0; exit 1 ;;
  build) for f in Dockerfile packages.txt caffe_runner.py; do cp "$4/$f" "$FAKE_DOCKER_DIR/context-$f"; done
         touch "$FAKE_DOCKER_DIR/image-built"; exit 0 ;;
  run) for a in "$@"; do case "$a" in *:/bundle) bundle="${a%:/bundle}" ;; esac; done
       cp "$FAKE_DOCKER_DIR/result.json" "$FAKE_DOCKER_DIR/result.npz" "$bundle/"; exit 0 ;;
esac
exit 2
"""


@pytest.fixture
def fake_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(FAKE_DOCKER)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("FAKE_DOCKER_DIR", str(tmp_path))
    monkeypatch.delenv("PURECAFFE_CAFFE_IMAGE", raising=False)
    value = np.ones((1, 2), np.float32)
    np.savez(tmp_path / "result.npz", **{"blob:data": value, "shape:data": np.array([1, 2])})
    (tmp_path / "result.json").write_text(json.dumps({
        "format": 1, "status": "ok", "error": None, "inputs": ["data"], "outputs": ["data"],
        "blobs": {"data": {"key": "blob:data", "shape": [1, 2]}},
        "layers": [{"index": 0, "name": "data", "type": "Input", "bottoms": [], "tops": ["data"],
                    "snapshots": {"data": "blob:data"}, "params": []}]}))
    return tmp_path


def _calls(fake: Path) -> list[str]:
    return (fake / "calls.log").read_text().splitlines()


def test_missing_image_is_built_from_the_shipped_files(fake_docker: Path) -> None:
    backend = DockerBackend()
    assert backend.image == "caffe-verify"
    assert _calls(fake_docker)[-1].startswith("build -t caffe-verify ")
    assert (fake_docker / "context-caffe_runner.py").read_bytes() == runner_path().read_bytes()
    assert "FROM debian:bullseye-slim" in (fake_docker / "context-Dockerfile").read_text()
    packages = (fake_docker / "context-packages.txt").read_text()
    assert all(package in packages.split() for package in caffe_packages())


def test_run_mounts_the_bundle_and_our_runner(fake_docker: Path, tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('name: "n"\n')
    run = run_real_caffe(prototxt, None, {"data": np.ones((1, 2), np.float32)}, backend="docker")
    assert run.ok and run.backend == "docker"
    np.testing.assert_array_equal(run.blobs["data"], np.ones((1, 2)))
    command = _calls(fake_docker)[-1].split()
    assert command[:2] == ["run", "--rm"]
    assert command[command.index("--network") + 1] == "none"
    assert command[command.index("--user") + 1] == f"{os.getuid()}:{os.getgid()}"
    assert f"{runner_path()}:/opt/purecaffe/caffe_runner.py:ro" in command
    assert "GLOG_minloglevel=1" in command and "HOME=/tmp" in command
    assert command[-2:] == ["caffe-verify", "/bundle"]


def test_auto_prefers_an_answering_docker_engine(fake_docker: Path) -> None:
    assert resolve_backend("auto").name == "docker"


def test_docker_route_without_an_engine(fake_docker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_INFO", "1")
    assert not docker.docker_available()
    with pytest.raises(BackendUnavailableError, match="no Docker engine answers"):
        resolve_backend("docker")
