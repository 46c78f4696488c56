"""Run one Caffe net in RKNN-Toolkit2's simulator (fp16); executed by the RKNN venv's python.

    <venv>/bin/python runner.py JOB_DIR

Standalone on purpose: it imports only the standard library, numpy and rknn (no
purecaffe), because it runs in the RKNN venv.  It talks to the parent by files:

    JOB_DIR/request.json   {"prototxt", "caffemodel", "inputs": [names in net order],
                            "target_platform", "dump": bool}
    JOB_DIR/inputs.npz     one float32 NCHW array per input name
    JOB_DIR/outputs.npz    written here: "output:<i>" the i-th net output as RKNN returns it
                           (NCHW), "layer:<name>" the simulator's per-layer dump when asked
    JOB_DIR/result.json    written last: {"ok", "error", "stage", "outputs": n, "layers": [names],
                                          "load_errors": [RKNN's E lines of a successful load_caffe],
                                          "seconds", "version"}

Every failure of RKNN (a non-zero return code, an exception) is reported in
result.json as data; the exit status is 0 whenever result.json was written.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import sys
import tempfile
import time
import traceback

import numpy as np

RESULT_JSON = "result.json"
OUTPUTS_NPZ = "outputs.npz"


def _error_lines(log_path: str) -> list[str]:
    """RKNN's own `E ...` lines from its log file (ANSI colours stripped), traceback lines dropped."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return []
    lines = []
    for raw in text.splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", raw).strip()
        if line.startswith("E ") and "Traceback" not in line and "rknn-toolkit2 version" not in line:
            lines.append(" ".join(line[2:].split()))
    return lines


def _said(lines: list[str]) -> str:
    """RKNN's first two error lines: usually what it refused, then where it gave up."""
    return "; ".join(lines[:2])


class RknnFailure(Exception):
    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


def _check(stage: str, code: object, log_path: str) -> None:
    if code != 0:
        said = _error_lines(log_path)
        raise RknnFailure(stage, f"{stage} returned {code}" + (f": {_said(said)}" if said else ""))


def _nhwc(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array.transpose(0, 2, 3, 1)) if array.ndim == 4 else array


def _dump_layers(rknn: object, inputs: list[np.ndarray], work: str, log_path: str) -> dict[str, np.ndarray]:
    """The simulator's output of every layer RKNN kept (after its fusions), by the Caffe layer name."""
    paths = []
    for index, array in enumerate(inputs):
        path = os.path.join(work, f"input{index}.npy")
        np.save(path, array)  # NCHW: accuracy_analysis reads .npy files as the model's own layout
        paths.append(path)
    snapshot = os.path.join(work, "snapshot")
    _check("accuracy_analysis", rknn.accuracy_analysis(inputs=paths, output_dir=snapshot), log_path)
    names = {}
    with open(os.path.join(snapshot, "map_name_to_file.txt"), encoding="utf-8") as handle:
        for line in handle.read().splitlines()[2:]:  # a header line and a ---- line
            fields = line.split()
            if len(fields) == 2 and fields[1].endswith(".txt"):
                names[fields[0]] = fields[1][:-4]
    layers = {}
    for name, stem in names.items():
        path = os.path.join(snapshot, "simulator", "npy", stem + ".npy")
        if os.path.exists(path):
            layers[name] = np.load(path)
    return layers


def _log_to(log_path: str) -> None:
    """Send this process's stdout and stderr (RKNN prints its `E ...` lines there) to the log file."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def run(job: str) -> dict:
    started = time.monotonic()
    with open(os.path.join(job, "request.json"), encoding="utf-8") as handle:
        request = json.load(handle)
    with np.load(os.path.join(job, "inputs.npz")) as archive:
        inputs = [np.ascontiguousarray(archive[name], dtype=np.float32) for name in request["inputs"]]
    log_path = os.path.join(job, "rknn.log")
    _log_to(log_path)
    result = {"ok": False, "error": None, "stage": None, "outputs": 0, "layers": [], "version": None}
    stage = "import"
    try:
        from rknn.api import RKNN

        result["version"] = importlib.metadata.version("rknn-toolkit2")
        rknn = RKNN(verbose=False)
        try:
            stage = "config"
            _check(stage, rknn.config(target_platform=request["target_platform"], optimization_level=0), log_path)
            stage = "load_caffe"
            _check(stage, rknn.load_caffe(model=request["prototxt"], blobs=request["caffemodel"]), log_path)
            result["load_errors"] = _error_lines(log_path)  # load_caffe returns 0 after dropping a layer it lacks
            stage = "build"
            _check(stage, rknn.build(do_quantization=False), log_path)
            stage = "init_runtime"
            _check(stage, rknn.init_runtime(), log_path)
            stage = "inference"
            formats = ["nhwc" if a.ndim == 4 else "nchw" for a in inputs]
            outputs = rknn.inference(inputs=[_nhwc(a) for a in inputs], data_format=formats)
            if outputs is None:
                _check(stage, None, log_path)
            arrays = {f"output:{i}": np.asarray(o, dtype=np.float32) for i, o in enumerate(outputs)}
            if request.get("dump"):
                stage = "accuracy_analysis"
                with tempfile.TemporaryDirectory(dir=job) as work:
                    layers = _dump_layers(rknn, inputs, work, log_path)
                arrays.update({f"layer:{name}": value.astype(np.float32) for name, value in layers.items()})
                result["layers"] = list(layers)
            np.savez(os.path.join(job, OUTPUTS_NPZ), **arrays)
            result.update(ok=True, outputs=len(outputs))
        finally:
            rknn.release()
    except RknnFailure as failure:
        result.update(stage=failure.stage, error=str(failure))
    except Exception as error:  # RKNN raises ValueError etc. carrying whole tracebacks: keep its own E lines
        said = _error_lines(log_path)
        last = str(error).strip().splitlines()[-1:] or [type(error).__name__]
        result.update(stage=stage, error=f"{stage} failed: " + (_said(said) if said else last[0]))
        result["detail"] = said[:20] or traceback.format_exc().splitlines()[-20:]
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: runner.py JOB_DIR", file=sys.stderr)
        return 2
    result = run(argv[1])
    path = os.path.join(argv[1], RESULT_JSON)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)
    os.replace(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
