"""Running a judge's runner script in its venv: the job directory, the child process, what came back.

    with tempfile.TemporaryDirectory() as job:
        write_job(job, request, inputs)                     # request.json + inputs.npz
        result = run_runner(python, "run_mnn.py", job, judge="MNN", net=prototxt)
        arrays = read_arrays(job, "outputs.npz")

The runners (`purecaffe/runners/run_*.py`) import only the standard library, numpy, their
toolchain and `jobio` beside them; they answer in `result.json`, written last.  A runner that
died before writing it (a crash in the toolchain's native code, a timeout) is a one-line
`PurecaffeError` naming the net and the tail of the runner's log.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from purecaffe.errors import BackendUnavailableError, FormatError, PurecaffeError
from purecaffe.judgevenv import clean_env

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
    """Run `RUNNERS/runner` on `job` with the venv's `python`; its result.json as a dict."""
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


__all__ = ["JudgeRun", "RUNNERS", "net_files", "net_io_names", "read_arrays", "run_runner", "write_job"]
