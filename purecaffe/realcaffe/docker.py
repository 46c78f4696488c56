"""The container route: image `caffe-verify` (docker/Dockerfile) runs the runner on a mounted bundle.

    docker build -t caffe-verify docker/          (or: purecaffe caffe-image)
    docker run --rm --network none --user "$(id -u):$(id -g)" -v "$PWD/out:/bundle" caffe-verify

The engine is `docker` or `podman` (`purecaffe.realcaffe.engine`).  From Python
the bundle is mounted at /bundle and this package's own runner is mounted over
the image's copy, so the result format always matches the reader.  The runner's
environment is the same as in the rootfs route (`process.runner_env`): nothing
of the host leaks in.  When the image is missing it is built from the shipped
Dockerfile, package list and runner (`purecaffe.realcaffe.image`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from purecaffe.realcaffe.engine import ContainerEngine, engine_available, find_engine
from purecaffe.realcaffe.image import DEFAULT_IMAGE, ensure_image
from purecaffe.realcaffe.image import build_image as build_engine_image
from purecaffe.realcaffe.process import RunnerOutput, run_process, runner_env
from purecaffe.realcaffe.assets import runner_path

log = logging.getLogger(__name__)

IMAGE_ENV = "PURECAFFE_CAFFE_IMAGE"
BUNDLE_MOUNT = "/bundle"
RUNNER_IN_IMAGE = "/opt/purecaffe/caffe_runner.py"


def docker_available() -> bool:
    """True when a container engine (docker or podman) answers."""
    return engine_available()


def default_image() -> str:
    return os.environ.get(IMAGE_ENV) or DEFAULT_IMAGE


def build_image(image: str | None = None, engine: ContainerEngine | None = None) -> float:
    """Build the image from the shipped Dockerfile with the chosen engine; returns seconds."""
    return build_engine_image(engine or find_engine(), image or default_image())


def bundle_command(engine: ContainerEngine, bundle: Path, image: str, *extra: str) -> list[str]:
    """The README's bundle command for `engine`: `run --rm --network none --user U:G -v BUNDLE:/bundle IMAGE`."""
    return engine.run_command("--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
                              "-v", f"{Path(bundle).resolve()}:{BUNDLE_MOUNT}", *extra, image)


class DockerBackend:
    """Runs bundles with real Caffe in the `caffe-verify` image, through docker or podman."""

    name = "docker"

    def __init__(self, image: str | None = None, *, build: bool = True,
                 engine: ContainerEngine | None = None) -> None:
        self.engine = engine or find_engine()
        self.image = image or default_image()
        ensure_image(self.engine, self.image, build=build)
        log.warning("container route: %s, image %s", self.engine.describe(), self.image)

    def describe(self) -> str:
        return f"{self.engine.name} image {self.image}"

    @contextlib.contextmanager
    def workspace(self) -> Iterator[Path]:
        """A scratch directory for a bundle (mounted into the container at /bundle)."""
        with tempfile.TemporaryDirectory(prefix="purecaffe-caffe-") as tmp:
            yield Path(tmp)

    def run_bundle(self, bundle: Path, *, timeout: float | None = None) -> RunnerOutput:
        name = f"purecaffe-{uuid.uuid4().hex[:12]}"
        extra = ["--name", name, "-v", f"{runner_path()}:{RUNNER_IN_IMAGE}:ro"]
        for key, value in runner_env("/tmp").items():
            if key != "PATH":
                extra += ["-e", f"{key}={value}"]
        output = run_process(bundle_command(self.engine, bundle, self.image, *extra) + [BUNDLE_MOUNT],
                             timeout=timeout)
        if output.timed_out:
            subprocess.run(self.engine.command("kill", name), capture_output=True, check=False)
        return output

