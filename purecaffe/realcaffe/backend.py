"""Choosing a real-Caffe backend and running one net through it: `run_real_caffe`.

Backends: "docker" (image caffe-verify, through a docker or podman engine),
"rootfs" (debootstrap tree + chroot, as root), "auto" = the container route when
an engine answers, else the rootfs when running
as root with debootstrap (or an already built tree), else
`BackendUnavailableError` naming both routes.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np

from purecaffe.errors import BackendUnavailableError, PurecaffeError
from purecaffe.realcaffe.bundle import require_file, write_bundle
from purecaffe.realcaffe.docker import DockerBackend, docker_available
from purecaffe.realcaffe.process import LAUNCH_FAILURES, RunnerOutput
from purecaffe.realcaffe.result import CaffeRun, read_bundle_result
from purecaffe.realcaffe.rootfs import (
    RootfsBackend,
    build_rootfs,
    default_rootfs_dir,
    find_tool,
    is_root,
    require_root,
    rootfs_ready,
)

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

BACKEND_NAMES = ("auto", "docker", "rootfs")
DEFAULT_TIMEOUT = 1800.0
NO_BACKEND = ("no real-Caffe backend here: no container engine answers (`docker info`, `podman info`), and "
              "the rootfs route needs root plus debootstrap. Either start Docker or install podman (the image "
              "is built from docker/Dockerfile: purecaffe caffe-image), or as root: apt-get install "
              "debootstrap && purecaffe caffe-rootfs")


class Backend(Protocol):
    """Something that runs the runner on a bundle directory and leaves result.npz/.json in it."""

    name: str

    def describe(self) -> str: ...

    def workspace(self) -> AbstractContextManager[Path]:
        """A scratch directory to build a bundle in (removed on exit)."""
        ...

    def run_bundle(self, bundle: Path, *, timeout: float | None = None) -> RunnerOutput: ...


def resolve_backend(name: str = "auto", *, rootfs_dir: PathLike | None = None, image: str | None = None,
                    build: bool = True) -> Backend:
    """A ready backend; builds the rootfs / Docker image on first use when `build`."""
    if name not in BACKEND_NAMES:
        raise PurecaffeError(f"unknown backend {name!r} (choose from {', '.join(BACKEND_NAMES)})")
    root = Path(rootfs_dir) if rootfs_dir is not None else default_rootfs_dir()
    if name == "docker":
        return DockerBackend(image, build=build)
    if name == "rootfs":
        return _rootfs_backend(root, build)
    if docker_available():
        return DockerBackend(image, build=build)
    if is_root() and (rootfs_ready(root) or (build and find_tool("debootstrap") is not None)):
        return _rootfs_backend(root, build)
    raise BackendUnavailableError(NO_BACKEND)


def _rootfs_backend(root: Path, build: bool) -> RootfsBackend:
    require_root("running real Caffe in the Debian rootfs (chroot)")
    if not rootfs_ready(root):
        if not build:
            raise BackendUnavailableError("the Debian rootfs is not built yet: purecaffe caffe-rootfs", path=root)
        build_rootfs(root)
    return RootfsBackend(root)


def run_real_caffe(prototxt: PathLike, caffemodel: PathLike | None = None,
                   inputs: Mapping[str, np.ndarray] | None = None, *, backend: str | Backend = "auto",
                   snapshots: bool = True, params: bool = False,
                   timeout: float | None = DEFAULT_TIMEOUT) -> CaffeRun:
    """Run `prototxt` (+ `caffemodel`) on `inputs` in real Caffe 1.0 (TEST phase, CPU), layer by layer.

    Each input blob is reshaped to its array's shape.  Returns final blobs,
    per-layer snapshots (in-place layers each get one; `snapshots=False` keeps
    only the final values), blob and parameter shapes, and `params=True` adds
    the parameter values as Caffe loaded them.  When Caffe refuses the net, the
    result has `.error` (Caffe's own text) instead; a missing backend raises
    `BackendUnavailableError`.
    """
    require_file(prototxt, "prototxt")  # before a backend may spend minutes getting ready
    if caffemodel is not None:
        require_file(caffemodel, "caffemodel")
    runner = resolve_backend(backend) if isinstance(backend, str) else backend
    with runner.workspace() as tmp:
        bundle = write_bundle(tmp, prototxt, caffemodel, inputs, snapshots=snapshots, params=params)
        output = runner.run_bundle(bundle, timeout=timeout)
        if output.timed_out:
            return CaffeRun(backend=runner.name, error=f"real Caffe did not finish within {timeout:g} s",
                            log=output.stderr, seconds=output.seconds)
        if output.returncode in LAUNCH_FAILURES and not (bundle / "result.json").exists():
            tail = " | ".join(output.stderr.strip().splitlines()[-3:])
            raise BackendUnavailableError(f"{runner.describe()} could not start the runner "
                                          f"(exit {output.returncode}): {tail}")
        run = read_bundle_result(bundle, backend=runner.name, returncode=output.returncode,
                                 stderr=output.stderr, seconds=output.seconds)
    log.info("real Caffe (%s): %s in %.1f s", runner.describe(), "ok" if run.ok else "refused", run.seconds)
    return run
