"""Running a judge's runner script in its venv: the job directory, the child process, what came back.

    with tempfile.TemporaryDirectory() as job:
        write_job(job, request, inputs)                     # request.json + inputs.npz
        result = run_runner(python, "run_mnn.py", job, judge="MNN", net=prototxt)
        arrays = read_arrays(job, "outputs.npz")

The runners (`purecaffe/runners/run_*.py`) import only the standard library, numpy, their
toolchain and `jobio` beside them; they answer in `result.json`, written last.  A runner that
died before writing it (a crash in the toolchain's native code, a timeout) is a one-line
`PurecaffeError` naming the net and the tail of the runner's log.

Inside `with persistent_runners():` the same calls go to one long-lived child per venv python,
runner and environment (`RunnerChildren`), which takes the job directories over a pipe
(`jobio.serve_jobs`): the toolchain is imported once, not once a net (RKNN-Toolkit2's import
alone takes seconds).  A child that dies or hangs is ended and the next job starts a new one;
each job still gets a fresh toolchain object, its own directory and log.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from purecaffe.errors import BackendUnavailableError, FormatError, PurecaffeError
from purecaffe.judgevenv import clean_env

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

RUNNERS = Path(__file__).with_name("runners")
REQUEST_JSON = "request.json"
INPUTS_NPZ = "inputs.npz"
RESULT_JSON = "result.json"
LOG = "runner.log"
"""The runner sends its own stdout and stderr (where the toolchains print) here."""


@dataclass(frozen=True)
class JudgeRun:
    """What a real consumer computed for one net.

    `outputs`: the net's outputs by Caffe blob name, read the way its users read them (the verdict).
    `layers`: Caffe layer -> {top: value right after that layer}, for the tensors the consumer
    exposes (consumers fuse chains: only the layers whose value survives appear).  `error` is
    the consumer's own one-line refusal (then `outputs` is empty) and `stage` where it came.
    """

    consumer: str
    outputs: Mapping[str, np.ndarray] = field(default_factory=dict)
    layers: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)
    error: str | None = None
    stage: str | None = None
    seconds: Mapping[str, float] = field(default_factory=dict)
    version: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def write_job(job: PathLike, request: Mapping[str, object], inputs: Mapping[str, np.ndarray]) -> None:
    Path(job, REQUEST_JSON).write_text(json.dumps(dict(request)), encoding="utf-8")
    np.savez(Path(job, INPUTS_NPZ), **{name: np.ascontiguousarray(value, dtype=np.float32)
                                        for name, value in inputs.items()})


def run_runner(python: Path, runner: str, job: PathLike, *, judge: str, net: PathLike, timeout: float,
               env: Mapping[str, str] | None = None) -> dict:
    """Run `RUNNERS/runner` on `job` with the venv's `python`; its result.json as a dict.

    Inside `persistent_runners()` the job goes to that block's long-lived child for this python,
    runner and `env`; otherwise a process is started for this job alone.
    """
    children = _ACTIVE_CHILDREN.get()
    if children is not None:
        return children.run(python, runner, job, judge=judge, net=net, timeout=timeout, env=env)
    job = Path(job)
    child_env = clean_env()
    child_env.update(env or {})
    try:
        done = subprocess.run([str(python), str(RUNNERS / runner), str(job)], cwd=job, env=child_env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise PurecaffeError(f"{judge} did not finish within {timeout:.0f} s{_tail(job, b'')}", path=net) from None
    except OSError as error:
        raise BackendUnavailableError(f"cannot start the {judge} venv's python: {error}", path=python) from None
    result_path = job / RESULT_JSON
    if not result_path.exists():
        raise PurecaffeError(f"the {judge} runner died (exit {done.returncode}){_tail(job, done.stderr)}", path=net)
    return json.loads(result_path.read_text(encoding="utf-8"))


class RunnerChildren:
    """Long-lived runner processes (`run_X.py --serve`), one per (python, runner, env), serving jobs in turn.

    A child is replaced after `max_jobs` jobs (toolchains keep caches), and ended (its whole
    process group) when a job outlives its timeout or the child dies; `close()` ends them all.
    """

    def __init__(self, *, max_jobs: int = 100) -> None:
        self.max_jobs = max_jobs
        self._children: dict[tuple[str, str, tuple[tuple[str, str], ...]], _Child] = {}
        self._scratch = tempfile.TemporaryDirectory(prefix="purecaffe-runners-")
        self.started = 0
        """How many child processes were started so far (a measure of the reuse)."""

    def run(self, python: Path, runner: str, job: PathLike, *, judge: str, net: PathLike, timeout: float,
            env: Mapping[str, str] | None = None) -> dict:
        """`run_runner`'s contract, in the child for this python, runner and env (started if needed)."""
        job = Path(job).absolute()
        key = (str(python), runner, tuple(sorted((env or {}).items())))
        child = self._children.get(key)
        if child is not None and (child.jobs >= self.max_jobs or child.process.poll() is not None):
            self._end(key)
            child = None
        if child is None:
            child = self._children[key] = self._start(python, runner, env, judge)
        child.jobs += 1
        answer = child.submit(job, timeout)
        if answer is None:
            self._end(key, kill=True)
            raise PurecaffeError(f"{judge} did not finish within {timeout:.0f} s{_tail(job, b'')}", path=net)
        result_path = job / RESULT_JSON
        if answer != str(job) or not result_path.exists():
            self._end(key, kill=True)
            raise PurecaffeError(f"the {judge} runner died (exit {child.process.returncode})"
                                 f"{_tail(job, child.log_tail())}", path=net)
        return json.loads(result_path.read_text(encoding="utf-8"))

    def close(self) -> None:
        for key in list(self._children):
            self._end(key)
        self._scratch.cleanup()

    def __enter__(self) -> RunnerChildren:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, python: Path, runner: str, env: Mapping[str, str] | None, judge: str) -> _Child:
        child_env = clean_env()
        child_env.update(env or {})
        self.started += 1
        log_path = Path(self._scratch.name, f"{Path(runner).stem}-{self.started}.log")
        with open(log_path, "wb") as log_file:
            try:
                process = subprocess.Popen([str(python), str(RUNNERS / runner), "--serve"], cwd=self._scratch.name,
                                           env=child_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=log_file, start_new_session=True)
            except OSError as error:
                raise BackendUnavailableError(f"cannot start the {judge} venv's python: {error}", path=python) from None
        log.info("started a persistent %s runner (%s, pid %d)", judge, runner, process.pid)
        return _Child(process, log_path)

    def _end(self, key: tuple[str, str, tuple[tuple[str, str], ...]], *, kill: bool = False) -> None:
        child = self._children.pop(key)
        child.stop(kill=kill)


class _Child:
    """One `--serve` process: job directories in on stdin, the same lines back on stdout."""

    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        if process.stdin is None or process.stdout is None:
            raise ValueError("a runner child needs pipes on stdin and stdout")
        self.process = process
        self.stdin, self.stdout = process.stdin, process.stdout
        self.log_path = log_path
        self.jobs = 0
        self._pending = b""

    def submit(self, job: Path, timeout: float) -> str | None:
        """The child's answer line for `job`; "" when the child died, None when it did not answer in time."""
        try:
            self.stdin.write(f"{job}\n".encode())
            self.stdin.flush()
        except OSError:  # BrokenPipeError: the child is gone
            return ""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.stdout, selectors.EVENT_READ)
            while b"\n" not in self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(self.stdout.fileno(), 65536)
                if not chunk:
                    return ""
                self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def log_tail(self) -> bytes:
        try:
            return self.log_path.read_bytes()[-4000:]
        except OSError:
            return b""

    def stop(self, *, kill: bool = False) -> None:
        """End of input asks the child to finish (`kill`: it is hung or dying, no waiting); then its process
        group is killed, so no toolchain grandchild outlives it."""
        with contextlib.suppress(OSError):
            self.stdin.close()
        if not kill:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        with contextlib.suppress(OSError):  # ProcessLookupError: the group is gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.stdout.close()


_ACTIVE_CHILDREN: contextvars.ContextVar[RunnerChildren | None] = contextvars.ContextVar(
    "purecaffe_runner_children", default=None)


@contextlib.contextmanager
def persistent_runners(*, max_jobs: int = 100, enabled: bool = True) -> Iterator[RunnerChildren | None]:
    """Within the block, every `run_runner` call (every judge that runs in a venv) uses this block's
    persistent children, ended when it exits; `enabled=False`: a process per job within the block,
    even inside another block."""
    children = RunnerChildren(max_jobs=max_jobs) if enabled else None
    token = _ACTIVE_CHILDREN.set(children)
    try:
        yield children
    finally:
        _ACTIVE_CHILDREN.reset(token)
        if children is not None:
            children.close()


def net_io_names(prototxt: PathLike) -> tuple[list[str], list[str]]:
    """(input blobs, output blobs): outputs as Caffe finds them (a blob no later layer reads), in layer order."""
    from purecaffe.io.prototxt import read_net

    net = read_net(prototxt)
    inputs = list(net.input)
    available: list[str] = list(inputs)
    for layer in net.layer:
        if layer.type == "Input":
            inputs.extend(layer.top)
        for bottom in layer.bottom:  # Caffe's AppendBottom takes a blob off the output list ...
            if bottom in available:
                available.remove(bottom)
        for top in layer.top:  # ... AppendTop puts it (back) on; an in-place top stays an output
            if top not in available:
                available.append(top)
    return inputs, [name for name in available if name not in inputs]


def net_files(prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray], *,
              judge: str) -> tuple[Path, Path, list[str], list[str]]:
    """The absolute files, the net's input and output blobs; a missing file or input is a one-line error."""
    prototxt, caffemodel = Path(prototxt).absolute(), Path(caffemodel).absolute()
    for path in (prototxt, caffemodel):
        if not path.is_file():
            raise FormatError(f"missing: {judge} needs the prototxt and the caffemodel", path=path)
    names_in, names_out = net_io_names(prototxt)
    missing = [name for name in names_in if name not in inputs]
    if missing:
        raise PurecaffeError(f"no input given for {', '.join(missing)} (the net's inputs: {', '.join(names_in)})",
                             path=prototxt)
    return prototxt, caffemodel, names_in, names_out


def read_arrays(job: PathLike, name: str) -> dict[str, np.ndarray]:
    path = Path(job, name)
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _tail(job: Path, stderr: bytes) -> str:
    """': ' + the last three lines the runner printed (colours stripped), or ''."""
    logged = job / LOG
    text = logged.read_text(encoding="utf-8", errors="replace") if logged.exists() else ""
    text += stderr.decode("utf-8", "replace")
    lines = [" ".join(re.sub(r"\x1b\[[0-9;]*m", "", line).split()) for line in text.strip().splitlines()]
    tail = " | ".join(line for line in lines[-3:] if line)
    return f": {tail}" if tail else ": (no output)"


__all__ = ["JudgeRun", "RUNNERS", "RunnerChildren", "net_files", "net_io_names", "persistent_runners", "read_arrays",
           "run_runner", "write_job"]
