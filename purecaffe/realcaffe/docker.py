"""The Docker route: image `caffe-verify` (docker/Dockerfile) runs the runner on a mounted bundle.

    docker build -t caffe-verify docker/
    docker run --rm -v "$PWD/out:/bundle" caffe-verify

From Python the bundle is mounted at /bundle and this package's own runner is
mounted over the image's copy, so the result format always matches the reader.
When the image is missing it is built from the shipped Dockerfile, package list
and runner (the same files as `docker/`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from purecaffe.errors import BackendUnavailableError
from purecaffe.realcaffe.assets import DOCKERFILE, PACKAGES_FILE, RUNNER_FILE, data_file, runner_path
from purecaffe.realcaffe.process import RunnerOutput, run_process, runner_env

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "caffe-verify"
IMAGE_ENV = "PURECAFFE_CAFFE_IMAGE"
BUNDLE_MOUNT = "/bundle"
RUNNER_IN_IMAGE = "/opt/purecaffe/caffe_runner.py"


def docker_executable() -> str | None:
    return shutil.which("docker")


def docker_available(timeout: float = 30.0) -> bool:
    """True when a Docker engine answers (`docker info` succeeds)."""
    docker = docker_executable()
    if docker is None:
        return False
    try:
        done = subprocess.run([docker, "info"], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def image_exists(image: str) -> bool:
    docker = docker_executable()
    if docker is None:
        return False
    done = subprocess.run([docker, "image", "inspect", image], stdin=subprocess.DEVNULL, capture_output=True,
                          check=False)
    return done.returncode == 0


def build_image(image: str = DEFAULT_IMAGE) -> None:
    """`docker build -t IMAGE` from the shipped Dockerfile, package list and runner."""
    docker = _require_docker()
    with tempfile.TemporaryDirectory(prefix="purecaffe-docker-") as context:
        shutil.copyfile(data_file(DOCKERFILE), Path(context) / "Dockerfile")
        shutil.copyfile(data_file(PACKAGES_FILE), Path(context) / "packages.txt")
        shutil.copyfile(data_file(RUNNER_FILE), Path(context) / "caffe_runner.py")
        log.warning("building Docker image %s (a few minutes)", image)
        done = subprocess.run([docker, "build", "-t", image, context], stdin=subprocess.DEVNULL,
                              capture_output=True, check=False)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:])
        raise BackendUnavailableError(f"docker build of {image} failed: {tail}")


def _require_docker() -> str:
    docker = docker_executable()
    if docker is None or not docker_available():
        raise BackendUnavailableError("no Docker engine answers (`docker info` failed); start Docker, "
                                      "or use the rootfs route as root: purecaffe caffe-rootfs")
    return docker


class DockerBackend:
    """Runs bundles with real Caffe in the `caffe-verify` image."""

    name = "docker"

    def __init__(self, image: str | None = None, *, build: bool = True) -> None:
        self.docker = _require_docker()
        self.image = image or os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE
        if not image_exists(self.image):
            if not build:
                raise BackendUnavailableError(f"Docker image {self.image} not found: "
                                              f"docker build -t {self.image} docker/")
            build_image(self.image)

    def describe(self) -> str:
        return f"docker image {self.image}"

    @contextlib.contextmanager
    def workspace(self) -> Iterator[Path]:
        """A scratch directory for a bundle (mounted into the container at /bundle)."""
        with tempfile.TemporaryDirectory(prefix="purecaffe-caffe-") as tmp:
            yield Path(tmp)

    def run_bundle(self, bundle: Path, *, timeout: float | None = None) -> RunnerOutput:
        name = f"purecaffe-{uuid.uuid4().hex[:12]}"
        command = [self.docker, "run", "--rm", "--name", name, "--network", "none",
                   "--user", f"{os.getuid()}:{os.getgid()}",
                   "-v", f"{Path(bundle).resolve()}:{BUNDLE_MOUNT}",
                   "-v", f"{runner_path()}:{RUNNER_IN_IMAGE}:ro"]
        for key, value in runner_env("/tmp").items():
            if key != "PATH":
                command += ["-e", f"{key}={value}"]
        command += [self.image, BUNDLE_MOUNT]
        output = run_process(command, timeout=timeout)
        if output.timed_out:
            subprocess.run([self.docker, "kill", name], capture_output=True, check=False)
        return output
