"""The container engine behind the Docker route: a `docker` or a `podman` command line.

`$PURECAFFE_CONTAINER_ENGINE` picks one (`docker`, `podman`, or a path to either);
otherwise the first of docker, podman whose `info` answers is taken.  Both speak
the same commands; what differs is what the engine needs on this host:

* podman: `--runtime runc` when runc is installed (crun fails on hosts with
  cgroups v1/hybrid), and `--ulimit nofile=1024:1024 --ulimit nproc=4096:4096`
  (podman's defaults exceed what such hosts let a container set, and the
  container then fails to start);
* podman with `$PURECAFFE_CONTAINER_STORE=DIR`: `--root DIR/storage --runroot
  DIR/run`, an image store of its own (CI keeps it inside the clone).
"""
from __future__ import annotations

import logging
import os
import resource
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from purecaffe.errors import BackendUnavailableError

log = logging.getLogger(__name__)

ENGINE_ENV = "PURECAFFE_CONTAINER_ENGINE"
STORE_ENV = "PURECAFFE_CONTAINER_STORE"
ENGINE_NAMES = ("docker", "podman")
INFO_TIMEOUT = 30.0
CONTAINER_LIMITS = (("nofile", resource.RLIMIT_NOFILE, 1024), ("nproc", resource.RLIMIT_NPROC, 4096))
"""The runner's limits in a podman container: plenty for Caffe, and within what hosts allow (here
podman's default nproc and even nproc=65536 are refused by runc: "error setting rlimit type 6")."""


@dataclass(frozen=True)
class ContainerEngine:
    """One engine's executable and the flags it needs here."""

    name: str
    """"docker" or "podman" (what the command line speaks)."""
    executable: str
    global_args: tuple[str, ...] = ()
    """Before the subcommand: podman's --runtime, --root, --runroot."""
    limit_args: tuple[str, ...] = ()
    """For `run` and `build`: podman's --ulimit flags."""

    def command(self, *args: str) -> list[str]:
        """`engine [global flags] args...`."""
        return [self.executable, *self.global_args, *args]

    def run_command(self, *args: str) -> list[str]:
        """`engine [global flags] run [limits] args...`."""
        return self.command("run", *self.limit_args, *args)

    def build_command(self, *args: str) -> list[str]:
        return self.command("build", *self.limit_args, *args)

    def describe(self) -> str:
        """One line: which engine and flags (the one line the user sees in the log)."""
        flags = " ".join(self.global_args + self.limit_args)
        return f"{self.name} ({self.executable}{' ' + flags if flags else ''})"


def engine_kind(executable: str) -> str:
    """"podman" when the executable's name says so, else "docker"."""
    return "podman" if "podman" in Path(executable).name else "docker"


def make_engine(executable: str) -> ContainerEngine:
    """The engine at `executable` with the flags this host needs (see the module docstring)."""
    kind = engine_kind(executable)
    if kind == "docker":
        return ContainerEngine("docker", executable)
    global_args: list[str] = []
    if shutil.which("runc") or Path("/usr/sbin/runc").exists():
        global_args += ["--runtime", "runc"]
    store = os.environ.get(STORE_ENV)
    if store:
        global_args += ["--root", str(Path(store, "storage")), "--runroot", str(Path(store, "run"))]
    return ContainerEngine("podman", executable, tuple(global_args), host_limit_args())


def host_limit_args() -> tuple[str, ...]:
    """`--ulimit NAME=N:N` for nofile and nproc: `CONTAINER_LIMITS`, never above this process's hard limit."""
    args: list[str] = []
    for name, which, wanted in CONTAINER_LIMITS:
        hard = resource.getrlimit(which)[1]
        value = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        args += ["--ulimit", f"{name}={value}:{value}"]
    return tuple(args)


def answers(engine: ContainerEngine, timeout: float = INFO_TIMEOUT) -> str | None:
    """None when `engine info` succeeds, else the one-line reason."""
    try:
        done = subprocess.run(engine.command("info"), stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"`{engine.name} info` did not answer within {timeout:g} s"
    except OSError as error:
        return f"`{engine.name} info` could not run ({error.strerror})"
    if done.returncode == 0:
        return None
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"`{engine.name} info` failed: {lines[-1] if lines else f'exit {done.returncode}'}"


def find_engine() -> ContainerEngine:
    """The engine to use: `$PURECAFFE_CONTAINER_ENGINE`, else the first of docker, podman that answers."""
    chosen = os.environ.get(ENGINE_ENV)
    candidates = [chosen] if chosen else list(ENGINE_NAMES)
    reasons: list[str] = []
    for candidate in candidates:
        executable = shutil.which(candidate)
        if executable is None:
            reasons.append(f"{candidate} is not installed")
            continue
        engine = make_engine(executable)
        reason = answers(engine)
        if reason is None:
            log.info("container engine: %s", engine.describe())
            return engine
        reasons.append(reason)
    hint = (f" (chosen by ${ENGINE_ENV})" if chosen else "")
    raise BackendUnavailableError(f"no container engine answers{hint}: {'; '.join(reasons)}. Start Docker, or "
                                  f"as root: apt-get install podman runc; or use the rootfs route: "
                                  f"purecaffe caffe-rootfs")


def engine_available() -> bool:
    """True when some container engine answers."""
    try:
        find_engine()
    except BackendUnavailableError:
        return False
    return True
