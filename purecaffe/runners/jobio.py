"""What every judge runner shares: reading the job, sending the toolchain's chatter to a log, answering.

Imported by the runner scripts beside it (`import jobio`: a script's own directory is first on
sys.path), which run in a judge's venv: standard library and numpy only, no purecaffe.

    JOB_DIR/request.json   what to do (each runner documents its keys)
    JOB_DIR/inputs.npz     one float32 array per input blob
    JOB_DIR/runner.log     the toolchain's stdout and stderr
    JOB_DIR/outputs.npz    arrays the runner hands back
    JOB_DIR/result.json    written last, atomically: {"ok", "error", "stage", ..., "seconds", "version"}

Every failure of the toolchain is reported in result.json as data; the exit status is 0 whenever
result.json was written.

    <venv>/bin/python run_X.py --serve             (a persistent child: `purecaffe.judgejob.RunnerChildren`)

serves many jobs in one process, so the toolchain is imported once: each line on stdin is a job
directory, run as above (its own runner.log, the job directory as the working directory); the
same line is echoed on stdout once its result.json is written.  End of stdin ends the process.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
from collections.abc import Callable

import numpy as np

REQUEST_JSON = "request.json"
INPUTS_NPZ = "inputs.npz"
RESULT_JSON = "result.json"
OUTPUTS_NPZ = "outputs.npz"
LOG = "runner.log"


class Refused(Exception):
    """The toolchain refused the net at `stage`: reported as data, not as a crash."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


def read_request(job: str) -> dict:
    with open(os.path.join(job, REQUEST_JSON), encoding="utf-8") as handle:
        return json.load(handle)


def read_inputs(job: str, names: list[str]) -> dict[str, np.ndarray]:
    with np.load(os.path.join(job, INPUTS_NPZ)) as archive:
        return {name: np.ascontiguousarray(archive[name], dtype=np.float32) for name in names}


def log_to(job: str) -> str:
    """Send this process's stdout and stderr (toolchains print there, native code included) to runner.log."""
    path = os.path.join(job, LOG)
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return path


def log_lines(path: str) -> list[str]:
    """The log's lines, ANSI colours stripped and whitespace collapsed, empty ones dropped."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return []
    lines = (" ".join(re.sub(r"\x1b\[[0-9;]*m", "", raw).split()) for raw in text.splitlines())
    return [line for line in lines if line]


def save_outputs(job: str, arrays: dict[str, np.ndarray]) -> None:
    np.savez(os.path.join(job, OUTPUTS_NPZ), **{k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()})


def serve(run: Callable[[str, dict, dict], None], argv: list[str]) -> int:
    """The runner's main: `run(job, request, result)` fills `result`; failures become data in result.json.

    `run` raises `Refused(stage, message)` for a refusal; any other exception is reported with
    the stage `result["stage"]` held when it was raised and the last line of its message.
    `argv` [script, JOB_DIR] runs one job; [script, "--serve"] serves jobs from stdin (module docstring).
    """
    if len(argv) == 2 and argv[1] == "--serve":
        return serve_jobs(run)
    if len(argv) != 2:
        print(f"usage: {os.path.basename(argv[0])} JOB_DIR | --serve", file=sys.stderr)
        return 2
    run_job(run, argv[1])
    return 0


def run_job(run: Callable[[str, dict, dict], None], job: str) -> None:
    """One job, start to result.json (written last, atomically)."""
    started = time.monotonic()
    result: dict = {"ok": False, "error": None, "stage": "start", "version": None}
    try:
        request = read_request(job)
        log_to(job)
        run(job, request, result)
        result.update(ok=True, error=None)
    except Refused as refused:
        result.update(stage=refused.stage, error=str(refused))
    except Exception as error:  # noqa: BLE001  the toolchain's own exceptions, whatever their type
        message = [line for line in str(error).strip().splitlines() if line.strip()][-1:] or [type(error).__name__]
        result.update(error=f"{result['stage']} failed: {type(error).__name__}: {message[0].strip()}")
        result["detail"] = traceback.format_exc().splitlines()[-20:]
    result["seconds"] = round(time.monotonic() - started, 3)
    path = os.path.join(job, RESULT_JSON)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)
    os.replace(path + ".tmp", path)


def serve_jobs(run: Callable[[str, dict, dict], None]) -> int:
    """Jobs from stdin, one directory a line, each echoed on stdout when done; returns at end of stdin.

    The pipes are moved off fds 0 and 1 first: the toolchains print to fd 1 and 2, which point
    at each job's runner.log while it runs and at this process's stderr in between.
    """
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    home_out, home_err, home = os.dup(1), os.dup(2), os.getcwd()
    for line in requests:
        job = line.strip()
        if not job:
            continue
        try:
            os.chdir(job)
            run_job(run, job)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(home_out, 1)
            os.dup2(home_err, 2)
            os.chdir(home)
        answers.write(job + "\n")
        answers.flush()
    return 0
