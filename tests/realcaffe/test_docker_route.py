"""The container route's commands, against a fake `docker`/`podman` on PATH (no real engine needed)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from purecaffe.errors import BackendUnavailableError
from purecaffe.realcaffe import DockerBackend, docker, resolve_backend, run_real_caffe
from purecaffe.realcaffe import image as image_module
from purecaffe.realcaffe.assets import caffe_packages, runner_path
from purecaffe.realcaffe.engine import ENGINE_ENV, STORE_ENV, find_engine

FAKE_ENGINE = """#!/bin/sh
# Records each call (without podman's global flags); `run` answers like the runner would for a one-blob net.
while [ "${1#--}" != "$1" ]; do shift 2; done
echo "$(basename "$0") $*" >> "$FAKE_DOCKER_LOG"
case "$1" in
  info) exit "${FAKE_DOCKER_INFO:-0}" ;;
  image) case "$3" in *debian*) exit "${FAKE_BASE_MISSING:-0}" ;; esac
         [ -f "$FAKE_DOCKER_DIR/image-built" ] && exit 0; exit 1 ;;
  pull) echo "no such host" >&2; exit 125 ;;
  build) for a in "$@"; do context="$a"; done
         for f in Dockerfile packages.txt caffe_runner.py; do cp "$context/$f" "$FAKE_DOCKER_DIR/context-$f"; done
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
    for name in ("docker", "podman"):
        script = bin_dir / name
        script.write_text(FAKE_ENGINE)
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("FAKE_DOCKER_DIR", str(tmp_path))
    monkeypatch.setenv("PURECAFFE_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("PURECAFFE_CAFFE_IMAGE", ENGINE_ENV, STORE_ENV):
        monkeypatch.delenv(name, raising=False)
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


def _run_one(tmp_path: Path) -> None:
    prototxt = tmp_path / "net.prototxt"
    prototxt.write_text('name: "n"\n')
    run = run_real_caffe(prototxt, None, {"data": np.ones((1, 2), np.float32)}, backend="docker")
    assert run.ok and run.backend == "docker"
    np.testing.assert_array_equal(run.blobs["data"], np.ones((1, 2)))


def test_missing_image_is_built_from_the_shipped_files(fake_docker: Path) -> None:
    backend = DockerBackend()
    assert backend.image == "caffe-verify"
    assert _calls(fake_docker)[-1].startswith("docker build --label purecaffe.assets=")
    assert " -t caffe-verify " in _calls(fake_docker)[-1]
    assert (fake_docker / "context-caffe_runner.py").read_bytes() == runner_path().read_bytes()
    assert "FROM debian:bullseye-slim" in (fake_docker / "context-Dockerfile").read_text()
    packages = (fake_docker / "context-packages.txt").read_text()
    assert all(package in packages.split() for package in caffe_packages())


def test_missing_image_without_build_says_how_to_build_it(fake_docker: Path) -> None:
    with pytest.raises(BackendUnavailableError, match=r"^image caffe-verify not found in docker: build it with "
                                                      r"purecaffe caffe-image \(or docker build"):
        DockerBackend(build=False)


def test_unpullable_base_without_root_is_one_line(fake_docker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_BASE_MISSING", "1")
    monkeypatch.setattr(image_module, "is_root", lambda: False)
    with pytest.raises(BackendUnavailableError, match="cannot be pulled and making it needs root") as raised:
        DockerBackend()
    assert "\n" not in str(raised.value) and "purecaffe caffe-image" in str(raised.value)
    assert "docker pull docker.io/library/debian:bullseye-slim" in _calls(fake_docker)


def test_run_mounts_the_bundle_and_our_runner(fake_docker: Path, tmp_path: Path) -> None:
    _run_one(tmp_path)
    command = _calls(fake_docker)[-1].split()
    assert command[:3] == ["docker", "run", "--rm"]
    assert command[command.index("--network") + 1] == "none"
    assert command[command.index("--user") + 1] == f"{os.getuid()}:{os.getgid()}"
    assert f"{runner_path()}:/opt/purecaffe/caffe_runner.py:ro" in command
    assert "GLOG_minloglevel=1" in command and "HOME=/tmp" in command
    assert "--ulimit" not in command
    assert command[-2:] == ["caffe-verify", "/bundle"]


def test_podman_gets_runtime_limits_and_store(fake_docker: Path, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv(ENGINE_ENV, "podman")
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "store"))
    engine = find_engine()
    assert engine.name == "podman"
    assert engine.global_args[-4:] == ("--root", str(tmp_path / "store" / "storage"),
                                       "--runroot", str(tmp_path / "store" / "run"))
    assert engine.limit_args[0::2] == ("--ulimit", "--ulimit")
    assert engine.limit_args[1].startswith("nofile=") and engine.limit_args[3].startswith("nproc=")
    _run_one(tmp_path)
    command = _calls(fake_docker)[-1].split()
    assert command[:4] == ["podman", "run", "--ulimit", engine.limit_args[1]]


def test_first_engine_that_answers(fake_docker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_engine().name == "docker"
    monkeypatch.setenv(ENGINE_ENV, "podman")
    assert find_engine().name == "podman"


def test_auto_prefers_an_answering_engine(fake_docker: Path) -> None:
    assert resolve_backend("auto").name == "docker"


def test_docker_route_without_an_engine(fake_docker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_DOCKER_INFO", "1")
    monkeypatch.setenv(ENGINE_ENV, "docker")
    assert not docker.docker_available()
    with pytest.raises(BackendUnavailableError, match=r"no container engine answers \(chosen by "):
        resolve_backend("docker")


def test_caffe_image_command_builds_once(fake_docker: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from purecaffe.cli import main

    assert main(["caffe-image"]) == 0
    assert capsys.readouterr().out.strip() == "docker caffe-verify"
    builds = [call for call in _calls(fake_docker) if call.startswith("docker build")]
    assert main(["caffe-image"]) == 0
    assert [call for call in _calls(fake_docker) if call.startswith("docker build")] == builds
    assert len(builds) == 1
