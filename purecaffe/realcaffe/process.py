"""Running the runner as a child process: its environment and what it left behind.

Caffe aborts the whole process on a failed CHECK, so the runner always runs in a
child process (inside a container or a chroot) and its stderr is kept: that is
where Caffe says why it refused a net.
"""
from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

PASSED_THROUGH = ("OPENBLAS_NUM_THREADS", "GLOG_minloglevel", "GLOG_v")
"""Host variables handed to the runner when set (the runner pins OPENBLAS_NUM_THREADS=2 otherwise).
The host's OPENBLAS_CORETYPE is not: the runner's kernels are pinned by `openblas_coretype()`."""
AVX2_FLAGS = frozenset({"avx2", "fma"})

LAUNCH_FAILURES = (125, 126, 127)
"""Exit statuses of `docker run` / `chroot` themselves failing (not of the runner)."""


@dataclass(frozen=True)
class RunnerOutput:
    returncode: int
    stderr: str
    seconds: float
    timed_out: bool = False


def openblas_coretype(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """OpenBLAS's kernels for the runner: "Haswell" when the CPU has AVX2 and FMA, else None (its own pick).

    OpenBLAS 0.3.13 picks kernels per CPU, and SkylakeX (AVX-512) kernels round differently
    from Haswell ones (~1e-6 of scale); the corpus references were made with Haswell kernels.
    Same rule as `avx2_coretype` in the runner, which cannot see the CPU from inside the chroot.
    """
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return "Haswell" if AVX2_FLAGS <= set(line.split(":", 1)[1].split()) else None
    except OSError:
        pass
    return None


def runner_env(home: str) -> dict[str, str]:
    """The runner's whole environment: nothing of the host leaks in but `PASSED_THROUGH`."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "GLOG_minloglevel": "1",  # Caffe's INFO chatter off; warnings, errors and fatal CHECKs stay
    }
    coretype = openblas_coretype()
    if coretype is not None:
        env["OPENBLAS_CORETYPE"] = coretype
    env.update({key: os.environ[key] for key in PASSED_THROUGH if key in os.environ})
    return env


def run_process(command: Sequence[str], *, env: dict[str, str] | None = None,
                timeout: float | None = None) -> RunnerOutput:
    """Run `command`, capturing stderr (stdout is drained, the runner prints nothing there)."""
    log.debug("running %s", " ".join(command))
    started = time.monotonic()
    try:
        done = subprocess.run(list(command), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as expired:
        stderr = (expired.stderr or b"").decode("utf-8", "replace")
        return RunnerOutput(returncode=-9, stderr=stderr, seconds=time.monotonic() - started, timed_out=True)
    return RunnerOutput(returncode=done.returncode, stderr=done.stderr.decode("utf-8", "replace"),
                        seconds=time.monotonic() - started)
