"""Real Caffe as the judge: run a net in BVLC Caffe 1.0 (Debian bullseye) and read every layer back.

Real Caffe is only ever used to verify, never to convert.  Two routes install
the same Debian packages (`docker/packages.txt`): the container image
`caffe-verify` (run by docker or podman) and a debootstrap rootfs run with
chroot (`purecaffe caffe-rootfs`).
"""
from __future__ import annotations

from purecaffe.realcaffe.backend import BACKEND_NAMES, Backend, resolve_backend, run_real_caffe
from purecaffe.realcaffe.docker import DockerBackend, build_image, docker_available
from purecaffe.realcaffe.engine import ContainerEngine, find_engine
from purecaffe.realcaffe.result import CaffeRun, LayerSnapshot, caffe_error_text, load_caffe_run
from purecaffe.realcaffe.rootfs import RootfsBackend, build_rootfs, default_rootfs_dir, rootfs_ready

__all__ = [
    "BACKEND_NAMES", "Backend", "CaffeRun", "ContainerEngine", "DockerBackend", "LayerSnapshot", "RootfsBackend",
    "build_image", "build_rootfs", "caffe_error_text", "default_rootfs_dir", "docker_available", "find_engine",
    "load_caffe_run", "resolve_backend", "rootfs_ready", "run_real_caffe",
]
