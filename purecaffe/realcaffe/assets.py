"""The files purecaffe ships for the real-Caffe system: the package list, the runner, the Dockerfile.

In a checkout they live in `docker/` (the Docker build context) and
`purecaffe/data/` holds relative symlinks to them; an installed wheel holds
copies.  Both routes (Docker image and debootstrap rootfs) read the same
package list, so they install the same system.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

PACKAGES_FILE = "caffe-packages.txt"
RUNNER_FILE = "caffe_runner.py"
DOCKERFILE = "Dockerfile"

DEBIAN_SUITE = "bullseye"
"""The Debian release whose `python3-caffe` (BVLC Caffe 1.0, CPU) is the judge."""


def data_file(name: str) -> Path:
    """Path of a shipped data file (symlinks resolved)."""
    return (DATA_DIR / name).resolve()


def parse_package_list(text: str) -> tuple[str, ...]:
    """Package names of a package-list file: one per line, '#' starts a comment."""
    names: list[str] = []
    for line in text.splitlines():
        names.extend(line.split("#", 1)[0].split())
    return tuple(names)


def caffe_packages() -> tuple[str, ...]:
    """The Debian packages both routes install (from `docker/packages.txt`)."""
    return parse_package_list(data_file(PACKAGES_FILE).read_text(encoding="utf-8"))


def packages_digest(packages: tuple[str, ...]) -> str:
    """A short stable hash of a package list (names the cached rootfs)."""
    text = "\n".join([DEBIAN_SUITE, *packages])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def runner_path() -> Path:
    return data_file(RUNNER_FILE)
