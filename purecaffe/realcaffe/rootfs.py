"""The rootfs route: a Debian bullseye tree made by debootstrap, real Caffe run in it with chroot.

    debootstrap --variant=minbase --include=<docker/packages.txt> bullseye DIR http://deb.debian.org/debian

The tree is built once into `<cache>/rootfs/bullseye-<hash of the package list>`
(`purecaffe.cache.cache_dir()`): first into a hidden temporary directory beside
it, then renamed into place after a stamp file was written, so a half-built tree
is never used.  A lock file serialises concurrent builds.  Needs root (debootstrap
and chroot both do); without root, use the Docker image instead.

Running a bundle mounts nothing: Caffe, numpy and OpenBLAS work without /proc and
/sys (the runner pins OpenBLAS's thread count), so no mount can be left behind.
The bundle is copied into the tree's /tmp and the job directory removed afterwards.
"""
from __future__ import annotations

import contextlib
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

from purecaffe.cache import build_lock, building_path, cache_dir, move_into_place, remove_leftovers
from purecaffe.errors import BackendUnavailableError, PurecaffeError
from purecaffe.realcaffe.assets import DEBIAN_SUITE, caffe_packages, packages_digest, runner_path
from purecaffe.realcaffe.process import RunnerOutput, run_process, runner_env
from purecaffe.realcaffe.result import RESULT_JSON, RESULT_NPZ

log = logging.getLogger(__name__)

DEFAULT_MIRROR = "http://deb.debian.org/debian"
MIRROR_ENV = "PURECAFFE_DEBIAN_MIRROR"
STAMP = ".purecaffe-rootfs.json"
"""Written last into a finished tree; a tree without it is never run or reused."""
SBIN_PATHS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
DOCKER_HINT = ("or verify in a container instead (Docker or podman): docker build -t caffe-verify docker/ "
               "(then --caffe-backend docker)")


def default_rootfs_dir(packages: tuple[str, ...] | None = None) -> Path:
    """`<cache>/rootfs/bullseye-<12 hex digits of the package list>`."""
    packages = caffe_packages() if packages is None else packages
    return cache_dir() / "rootfs" / f"{DEBIAN_SUITE}-{packages_digest(packages)}"


def read_stamp(root: str | os.PathLike[str]) -> dict | None:
    try:
        return json.loads((Path(root) / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def rootfs_ready(root: str | os.PathLike[str], packages: tuple[str, ...] | None = None) -> bool:
    """True for a finished tree (stamp present) built from `packages` (default: the shipped list)."""
    stamp = read_stamp(root)
    if stamp is None or not (Path(root) / "usr" / "bin" / "python3").exists():
        return False
    packages = caffe_packages() if packages is None else packages
    return tuple(stamp.get("packages", ())) == tuple(packages)


def is_root() -> bool:
    return os.geteuid() == 0


def require_root(action: str) -> None:
    if not is_root():
        raise BackendUnavailableError(f"{action} needs root (debootstrap and chroot): run it as root, "
                                      f"e.g. sudo purecaffe caffe-rootfs, {DOCKER_HINT}")


def find_tool(name: str) -> str | None:
    """`name` on PATH or in the sbin directories (often not on a user's PATH)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_PATHS])
    return shutil.which(name, path=path)


def find_debootstrap() -> str:
    tool = find_tool("debootstrap")
    if tool is None:
        raise BackendUnavailableError(f"debootstrap is not installed: apt-get install debootstrap, {DOCKER_HINT}")
    return tool


def check_can_build() -> str:
    """Raise the one-line reason the rootfs cannot be built here (not root, no debootstrap); else debootstrap's path."""
    require_root("building the Debian rootfs")
    return find_debootstrap()


def debootstrap_command(debootstrap: str, target: Path, packages: tuple[str, ...], mirror: str) -> list[str]:
    """The exact debootstrap call; the package list is the one the Dockerfile installs."""
    return [debootstrap, "--variant=minbase", f"--include={','.join(packages)}", DEBIAN_SUITE, str(target), mirror]


def build_rootfs(root: str | os.PathLike[str] | None = None, *, rebuild: bool = False, mirror: str | None = None,
                 packages: tuple[str, ...] | None = None) -> Path:
    """Build (or find) the Debian rootfs with real Caffe; returns its directory.

    Reuses a finished tree unless `rebuild`.  Refuses to replace a directory
    that is not a purecaffe rootfs.  Takes a few minutes (downloads ~200 MB).
    """
    packages = caffe_packages() if packages is None else packages
    root = (Path(root) if root is not None else default_rootfs_dir(packages)).absolute()
    if not rebuild and rootfs_ready(root, packages):
        return root
    debootstrap = check_can_build()
    mirror = mirror or os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR
    root.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(root):
        if not rebuild and rootfs_ready(root, packages):
            return root  # another process finished it while we waited
        if root.exists() and read_stamp(root) is None and any(root.iterdir()):
            raise PurecaffeError("exists but is not a purecaffe rootfs (no stamp file); remove it or pick "
                                 "another --dir", path=root)
        remove_leftovers(root, remove_tree)
        work = building_path(root)
        try:
            seconds = _debootstrap(debootstrap, work, packages, mirror, root.parent / f"{root.name}.log")
            _trim(work)
            _check_caffe(work)
            stamp = {"suite": DEBIAN_SUITE, "packages": list(packages), "mirror": mirror,
                     "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": round(seconds, 1)}
            (work / STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
            move_into_place(work, root, remove_tree)
        finally:
            if work.exists():
                remove_tree(work)
    log.info("Debian rootfs with real Caffe ready at %s", root)
    return root




def _debootstrap(debootstrap: str, work: Path, packages: tuple[str, ...], mirror: str, log_path: Path) -> float:
    command = debootstrap_command(debootstrap, work, packages, mirror)
    log.warning("building the Debian %s rootfs for real Caffe (a few minutes): %s", DEBIAN_SUITE,
                " ".join(command))
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log_file:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                              check=False)
    if done.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise BackendUnavailableError(f"debootstrap failed (exit {done.returncode}): {tail[0]} "
                                      f"-- full log: {log_path}")
    return time.monotonic() - started


def _trim(work: Path) -> None:
    """Drop the downloaded .deb files (about 170 MB) debootstrap leaves in the apt cache."""
    for deb in (work / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        deb.unlink()


def _check_caffe(work: Path) -> None:
    output = run_process(_chroot_command(work, ["/usr/bin/python3", "-c", "import caffe, numpy"]),
                         env=runner_env("/root"), timeout=300)
    if output.returncode != 0:
        tail = " | ".join(output.stderr.strip().splitlines()[-3:])
        raise BackendUnavailableError(f"the new rootfs cannot import caffe: {tail}", path=work)



def mounts_under(path: Path, mounts_file: Path = Path("/proc/self/mounts")) -> list[Path]:
    """Mount points at or below `path` (from /proc/self/mounts), deepest first."""
    base = os.path.realpath(path)
    found: list[Path] = []
    try:
        lines = mounts_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])  # \040 = space
        if point == base or point.startswith(base + os.sep):
            found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def remove_tree(path: Path) -> None:
    """rm -rf for a rootfs: first unmount whatever debootstrap left mounted inside, never delete through a mount."""
    for point in mounts_under(path):
        log.warning("unmounting leftover mount %s", point)
        if subprocess.run(["umount", str(point)], check=False, capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)
    still = mounts_under(path)
    if still:
        raise PurecaffeError(f"will not delete: still mounted inside: {', '.join(map(str, still))}", path=path)
    shutil.rmtree(path, ignore_errors=False)


def _chroot_command(root: Path, command: list[str]) -> list[str]:
    chroot = find_tool("chroot")
    if chroot is None:
        raise BackendUnavailableError("the chroot command is missing (apt-get install coreutils)")
    return [chroot, str(root), *command]


class RootfsBackend:
    """Runs bundles with real Caffe inside a finished debootstrap tree, via chroot (as root)."""

    name = "rootfs"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        if read_stamp(root) is None:
            raise BackendUnavailableError("not a finished purecaffe rootfs (run purecaffe caffe-rootfs)",
                                          path=Path(root))
        self.root = Path(root).absolute()

    def describe(self) -> str:
        return f"rootfs {self.root}"

    @contextlib.contextmanager
    def workspace(self) -> Iterator[Path]:
        """A scratch directory inside the tree's /tmp: a bundle made there is run without copying."""
        job = Path(tempfile.mkdtemp(prefix="purecaffe-job-", dir=self.root / "tmp"))
        try:
            yield job
        finally:
            shutil.rmtree(job, ignore_errors=True)

    def run_bundle(self, bundle: Path, *, timeout: float | None = None) -> RunnerOutput:
        """Run the runner on `bundle` in the tree; a bundle outside the tree's /tmp is copied in and back."""
        require_root("running real Caffe in the Debian rootfs (chroot)")
        bundle = Path(bundle).absolute()
        if bundle.is_relative_to(self.root / "tmp"):
            return self._run_inside(bundle, timeout)
        with self.workspace() as job:
            inner = job / "bundle"
            shutil.copytree(bundle, inner)
            output = self._run_inside(inner, timeout)
            for name in (RESULT_NPZ, RESULT_JSON):  # the JSON last: its presence means the npz is there
                if (inner / name).exists():
                    shutil.move(inner / name, bundle / name)
            return output

    def _run_inside(self, bundle: Path, timeout: float | None) -> RunnerOutput:
        with tempfile.NamedTemporaryFile("wb", prefix="purecaffe-runner-", suffix=".py",
                                         dir=self.root / "tmp") as runner:
            runner.write(runner_path().read_bytes())
            runner.flush()
            inside = "/" + Path(runner.name).relative_to(self.root).as_posix()
            target = "/" + bundle.relative_to(self.root).as_posix()
            command = _chroot_command(self.root, ["/usr/bin/python3", inside, target])
            return run_process(command, env=runner_env("/root"), timeout=timeout)
