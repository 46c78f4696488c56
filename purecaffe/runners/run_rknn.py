"""Run one Caffe net in RKNN-Toolkit2's simulator (fp16); executed by the RKNN venv's python.

    <venv>/bin/python run_rknn.py JOB_DIR          (the files: jobio)

request.json: {"prototxt", "caffemodel", "inputs": [names in net order], "target_platform", "dump": bool}
outputs.npz:  "output:<i>" the i-th net output as RKNN returns it (NCHW), "layer:<name>" the
              simulator's per-layer dump when asked
result.json:  {"ok", "error", "stage", "outputs": n, "layers": [names],
               "load_errors": [RKNN's E lines of a successful load_caffe], "seconds", "version"}
"""
from __future__ import annotations

import importlib.metadata
import os
import sys
import tempfile

import numpy as np

import jobio


def _error_lines(log_path: str) -> list[str]:
    """RKNN's own `E ...` lines from the log, traceback lines dropped."""
    return [line[2:] for line in jobio.log_lines(log_path)
            if line.startswith("E ") and "Traceback" not in line and "rknn-toolkit2 version" not in line]


def _said(lines: list[str]) -> str:
    """RKNN's first two error lines: usually what it refused, then where it gave up."""
    return "; ".join(lines[:2])


def _check(stage: str, code: object, log_path: str) -> None:
    if code != 0:
        said = _error_lines(log_path)
        raise jobio.Refused(stage, f"{stage} returned {code}" + (f": {_said(said)}" if said else ""))


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


def run(job: str, request: dict, result: dict) -> None:
    try:
        _run(job, request, result)
    except jobio.Refused:
        raise
    except Exception as error:  # RKNN raises ValueError etc. carrying whole tracebacks: keep its own E lines
        said = _error_lines(os.path.join(job, jobio.LOG))
        if not said:
            raise
        raise jobio.Refused(result["stage"], f"{result['stage']} failed: {_said(said)}") from error


def _run(job: str, request: dict, result: dict) -> None:
    inputs = list(jobio.read_inputs(job, request["inputs"]).values())
    log_path = os.path.join(job, jobio.LOG)
    result.update(outputs=0, layers=[], stage="import")
    from rknn.api import RKNN

    result["version"] = importlib.metadata.version("rknn-toolkit2")
    rknn = RKNN(verbose=False)
    try:
        result["stage"] = "config"
        _check("config", rknn.config(target_platform=request["target_platform"], optimization_level=0), log_path)
        result["stage"] = "load_caffe"
        _check("load_caffe", rknn.load_caffe(model=request["prototxt"], blobs=request["caffemodel"]), log_path)
        result["load_errors"] = _error_lines(log_path)  # load_caffe returns 0 after dropping a layer it lacks
        for stage, call in (("build", lambda: rknn.build(do_quantization=False)), ("init_runtime", rknn.init_runtime)):
            result["stage"] = stage
            _check(stage, call(), log_path)
        result["stage"] = "inference"
        formats = ["nhwc" if a.ndim == 4 else "nchw" for a in inputs]
        outputs = rknn.inference(inputs=[_nhwc(a) for a in inputs], data_format=formats)
        if outputs is None:
            _check("inference", None, log_path)
        arrays = {f"output:{i}": np.asarray(o, dtype=np.float32) for i, o in enumerate(outputs)}
        if request.get("dump"):
            result["stage"] = "accuracy_analysis"
            with tempfile.TemporaryDirectory(dir=job) as work:
                layers = _dump_layers(rknn, inputs, work, log_path)
            arrays.update({f"layer:{name}": value for name, value in layers.items()})
            result["layers"] = list(layers)
        jobio.save_outputs(job, arrays)
        result["outputs"] = len(outputs)
    finally:
        rknn.release()


if __name__ == "__main__":
    sys.exit(jobio.serve(run, sys.argv))
