"""Building the `caffe-verify` image from the shipped Dockerfile, with or without a registry.

The Dockerfile is the one definition of the image and `docker/packages.txt` the
one package list.  Its `FROM` line names the base (`debian:bullseye-slim`).  When
the engine has no such image and cannot pull it (no registry reachable), the base
is made locally, as root, from a debootstrap minbase tree of the same Debian
release and imported under that very name; then the Dockerfile is built as is:

    debootstrap --variant=minbase bullseye DIR http://deb.debian.org/debian
    tar -C DIR -c . | podman import - docker.io/library/debian:bullseye-slim
    podman build -t caffe-verify docker/

A lock file under the cache dir serialises builds; the debootstrap tree is made in
a temporary directory and removed after the import, and an engine tags an image
only once its import or build finished, so a killed build is never used.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from purecaffe.cache import cache_dir
from purecaffe.errors import BackendUnavailableError
from purecaffe.realcaffe.assets import DEBIAN_SUITE, DOCKERFILE, PACKAGES_FILE, RUNNER_FILE, data_file
from purecaffe.realcaffe.engine import ContainerEngine
from purecaffe.realcaffe.rootfs import DEFAULT_MIRROR, MIRROR_ENV, find_tool, is_root, remove_tree

log = logging.getLogger(__name__)

DEFAULT_IMAGE = "caffe-verify"
ASSETS_LABEL = "purecaffe.assets"
"""Label of an image purecaffe built: a hash of the Dockerfile, package list and runner it was built from."""
PULL_TIMEOUT = 300.0
BUILD_TIMEOUT = 3600.0


def base_image(dockerfile: str | None = None) -> str:
    """The Dockerfile's `FROM` image, fully qualified (`docker.io/library/debian:bullseye-slim`)."""
    text = data_file(DOCKERFILE).read_text(encoding="utf-8") if dockerfile is None else dockerfile
    found = re.search(r"^\s*FROM\s+(\S+)", text, flags=re.MULTILINE | re.IGNORECASE)
    if found is None:
        raise BackendUnavailableError("the shipped Dockerfile has no FROM line")
    return qualified(found.group(1))


def qualified(reference: str) -> str:
    """`debian:x` -> `docker.io/library/debian:x` (what docker assumes; podman wants it spelt out)."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return reference
    return f"docker.io/{reference}" if rest else f"docker.io/library/{reference}"


def debian_suite_of(reference: str) -> str:
    """The Debian release a `debian:<release>[-slim]` base names; it must be the rootfs route's release."""
    tag = reference.rsplit(":", 1)[-1] if ":" in reference.rsplit("/", 1)[-1] else "latest"
    suite = tag.removesuffix("-slim")
    if suite != DEBIAN_SUITE:
        raise BackendUnavailableError(f"the Dockerfile's base {reference} is not Debian {DEBIAN_SUITE}, "
                                      f"the release both routes must share")
    return suite


def image_exists(engine: ContainerEngine, image: str) -> bool:
    done = subprocess.run(engine.command("image", "inspect", image), stdin=subprocess.DEVNULL,
                          capture_output=True, check=False)
    return done.returncode == 0


def assets_digest() -> str:
    """A short hash of the build context (an image built from other files is rebuilt)."""
    digest = hashlib.sha256()
    for name in (DOCKERFILE, PACKAGES_FILE, RUNNER_FILE):
        digest.update(data_file(name).read_bytes())
    return digest.hexdigest()[:12]


def image_label(engine: ContainerEngine, image: str) -> str | None:
    """The image's `purecaffe.assets` label (None: no such image or no label)."""
    done = subprocess.run(engine.command("image", "inspect", "--format", "{{json .Config.Labels}}", image),
                          stdin=subprocess.DEVNULL, capture_output=True, check=False)
    try:
        labels = json.loads(done.stdout.decode("utf-8", "replace").strip() or "null") if done.returncode == 0 else None
    except ValueError:
        return None
    return labels.get(ASSETS_LABEL) if isinstance(labels, dict) else None


def image_ready(engine: ContainerEngine, image: str) -> bool:
    """The image exists and, when purecaffe built it, from the files shipped now."""
    if not image_exists(engine, image):
        return False
    label = image_label(engine, image)
    if label is not None and label != assets_digest():
        log.warning("image %s was built from other files (%s != %s): rebuilding", image, label, assets_digest())
        return False
    return True


def _run(command: list[str], what: str, timeout: float, **kwargs: object) -> float:
    """Run a build step; a failure raises one line with the end of its output."""
    log.info("%s: %s", what, " ".join(command))
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False, **kwargs)  # type: ignore[call-overload]
    except subprocess.TimeoutExpired as expired:
        raise BackendUnavailableError(f"{what} did not finish within {timeout:g} s") from expired
    if done.returncode != 0:
        output = (done.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        tail = " | ".join(output[-3:]) or f"exit {done.returncode}"
        raise BackendUnavailableError(f"{what} failed: {tail}")
    return time.monotonic() - started


def ensure_base_image(engine: ContainerEngine, reference: str | None = None, *, pull: bool = True) -> str:
    """Make sure the engine has the Dockerfile's base: present, pulled, or made by debootstrap (root)."""
    reference = reference or base_image()
    if image_exists(engine, reference):
        return reference
    if pull:
        try:
            _run(engine.command("pull", reference), f"{engine.name} pull {reference}", PULL_TIMEOUT)
            return reference
        except BackendUnavailableError as failed:
            log.warning("cannot pull the base image (%s); making it from a debootstrap minbase instead", failed)
    make_base_image(engine, reference)
    return reference


def make_base_image(engine: ContainerEngine, reference: str, *, mirror: str | None = None) -> float:
    """debootstrap a minbase tree of the base's Debian release and import it as `reference` (root)."""
    suite = debian_suite_of(reference)
    debootstrap = find_tool("debootstrap")
    if not is_root() or debootstrap is None:
        raise BackendUnavailableError(f"the base image {reference} cannot be pulled and making it needs root "
                                      f"and debootstrap: as root, purecaffe caffe-image (or pull it where a "
                                      f"registry answers: {engine.name} pull {reference})")
    mirror = mirror or os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR
    work_parent = cache_dir() / "containers"
    work_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".base-{suite}-building-", dir=work_parent))
    try:
        seconds = _run([debootstrap, "--variant=minbase", suite, str(work), mirror],
                       f"debootstrap of the base {suite}", BUILD_TIMEOUT)
        tar = subprocess.Popen(["tar", "-C", str(work), "-c", "."], stdout=subprocess.PIPE)
        try:
            seconds += _run(engine.command("import", "-", reference), f"{engine.name} import {reference}",
                            BUILD_TIMEOUT, stdin=tar.stdout)
        finally:
            if tar.stdout is not None:
                tar.stdout.close()
            tar.wait()
        if tar.returncode != 0:  # the import read a cut-short tree: do not keep it
            subprocess.run(engine.command("rmi", reference), capture_output=True, check=False)
            raise BackendUnavailableError(f"tar of the debootstrap tree failed (exit {tar.returncode})")
    finally:
        remove_tree(work)
    log.warning("made the base image %s from a debootstrap %s minbase in %.0f s", reference, suite, seconds)
    return seconds


def build_context(directory: Path) -> Path:
    """Fill `directory` with the build context: the shipped Dockerfile, package list and runner."""
    shutil.copyfile(data_file(DOCKERFILE), directory / "Dockerfile")
    shutil.copyfile(data_file(PACKAGES_FILE), directory / "packages.txt")
    shutil.copyfile(data_file(RUNNER_FILE), directory / "caffe_runner.py")
    return directory


def build_image(engine: ContainerEngine, image: str = DEFAULT_IMAGE, *, pull: bool = True) -> float:
    """Build `image` from the shipped Dockerfile (making its base first when needed); returns seconds."""
    with build_lock():
        return _build(engine, image, pull)


def _build(engine: ContainerEngine, image: str, pull: bool) -> float:
    started = time.monotonic()
    ensure_base_image(engine, pull=pull)
    with tempfile.TemporaryDirectory(prefix="purecaffe-docker-") as context:
        log.warning("building the image %s with %s (a few minutes)", image, engine.describe())
        _run(engine.build_command("--label", f"{ASSETS_LABEL}={assets_digest()}", "-t", image,
                                  str(build_context(Path(context)))),
             f"{engine.name} build of {image}", BUILD_TIMEOUT, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    log.warning("built the image %s in %.0f s", image, seconds)
    return seconds


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """One image build at a time per cache dir (a second caller waits, then finds the image)."""
    directory = cache_dir() / "containers"
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "build.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("waiting for another process building the image")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_image(engine: ContainerEngine, image: str = DEFAULT_IMAGE, *, build: bool = True,
                 pull: bool = True) -> None:
    """The image exists afterwards (built when missing and `build`), else a one-line error saying how."""
    if image_ready(engine, image):
        return
    if not build:
        raise BackendUnavailableError(f"image {image} not found in {engine.name}: build it with "
                                      f"purecaffe caffe-image (or {engine.name} build -t {image} docker/)")
    with build_lock():
        if not image_ready(engine, image):  # another process may have built it while we waited
            _build(engine, image, pull)
