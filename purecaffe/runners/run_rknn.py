"""Run one net in RKNN-Toolkit2's simulator (fp16, or int8 quantized); executed by the RKNN venv's python.

    <venv>/bin/python run_rknn.py JOB_DIR          (the files: jobio)

request.json: {"prototxt", "caffemodel", "inputs": [names in net order], "target_platform", "dump": bool,
               "onnx": an .onnx path to load instead of the Caffe files (optional),
               "quantize": null | {"dataset": a dataset.txt of NCHW .npy files, "channels": [per input],
                                   "algorithm", "method"}: an int8 build,
               "evaluate": n (optional): also run evaluate.npz's n samples}
evaluate.npz: (with "evaluate") per input name an (n, ...) NCHW array, one row a sample
outputs.npz:  "output:<i>" the i-th net output as RKNN returns it (NCHW), "layer:<name>" the
              simulator's per-layer dump when asked, "golden:<name>" RKNN's float32 run of the
              same layer (int8 builds), "evaluate:<s>:<i>" the i-th output for evaluation sample s
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


def _dump_layers(rknn: object, inputs: list[np.ndarray], work: str,
                 log_path: str) -> dict[str, dict[str, np.ndarray]]:
    """Every layer RKNN kept (after its fusions), by layer name: "simulator" its output in the
    simulator, "golden" RKNN's own float32 run of the same graph (what an int8 build was quantized from).
    """
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
    dumped: dict[str, dict[str, np.ndarray]] = {"simulator": {}, "golden": {}}
    for kind, layers in dumped.items():
        for name, stem in names.items():
            path = os.path.join(snapshot, kind, "npy", stem + ".npy")
            if os.path.exists(path):
                layers[name] = np.load(path)
    return dumped


def _config(request: dict) -> dict:
    """rknn.config's arguments; an int8 build takes its inputs as they come (mean 0, std 1: purecaffe
    preprocesses the calibration data) with the requested quantization."""
    config = {"target_platform": request["target_platform"], "optimization_level": 0}
    quantize = request.get("quantize")
    if quantize is not None:
        config.update(mean_values=[[0.0] * count for count in quantize["channels"]],
                      std_values=[[1.0] * count for count in quantize["channels"]],
                      quantized_algorithm=quantize["algorithm"], quantized_method=quantize["method"])
    return config


def _build(rknn: object, request: dict) -> object:
    """fp16 (no quantization), or int8 calibrated on the request's dataset file."""
    quantize = request.get("quantize")
    if quantize is None:
        return rknn.build(do_quantization=False)
    return rknn.build(do_quantization=True, dataset=quantize["dataset"])


def _evaluate(rknn: object, job: str, request: dict, formats: list[str], log_path: str) -> dict[str, np.ndarray]:
    """The built model's outputs for each evaluation sample."""
    with np.load(os.path.join(job, "evaluate.npz")) as archive:
        rows = [np.asarray(archive[name], dtype=np.float32) for name in request["inputs"]]
    arrays = {}
    for sample in range(request["evaluate"]):
        produced = rknn.inference(inputs=[_nhwc(np.ascontiguousarray(row[sample:sample + 1])) for row in rows],
                                  data_format=formats)
        if produced is None:
            _check("inference", None, log_path)
        arrays.update({f"evaluate:{sample}:{i}": np.asarray(o, dtype=np.float32) for i, o in enumerate(produced)})
    return arrays


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
        _check("config", rknn.config(**_config(request)), log_path)
        if request.get("onnx"):
            result["stage"] = "load_onnx"
            _check("load_onnx", rknn.load_onnx(model=request["onnx"]), log_path)
        else:
            result["stage"] = "load_caffe"
            _check("load_caffe", rknn.load_caffe(model=request["prototxt"], blobs=request["caffemodel"]), log_path)
        result["load_errors"] = _error_lines(log_path)  # load_caffe returns 0 after dropping a layer it lacks
        for stage, call in (("build", lambda: _build(rknn, request)), ("init_runtime", rknn.init_runtime)):
            result["stage"] = stage
            _check(stage, call(), log_path)
        result["stage"] = "inference"
        formats = ["nhwc" if a.ndim == 4 else "nchw" for a in inputs]
        outputs = rknn.inference(inputs=[_nhwc(a) for a in inputs], data_format=formats)
        if outputs is None:
            _check("inference", None, log_path)
        arrays = {f"output:{i}": np.asarray(o, dtype=np.float32) for i, o in enumerate(outputs)}
        if request.get("evaluate"):
            arrays.update(_evaluate(rknn, job, request, formats, log_path))
        if request.get("dump"):
            result["stage"] = "accuracy_analysis"
            with tempfile.TemporaryDirectory(dir=job) as work:
                dumped = _dump_layers(rknn, inputs, work, log_path)
            arrays.update({f"layer:{name}": value for name, value in dumped["simulator"].items()})
            result["layers"] = list(dumped["simulator"])
            if request.get("quantize") is not None:
                arrays.update({f"golden:{name}": value for name, value in dumped["golden"].items()})
                result["golden"] = list(dumped["golden"])
        jobio.save_outputs(job, arrays)
        result["outputs"] = len(outputs)
    finally:
        rknn.release()


if __name__ == "__main__":
    sys.exit(jobio.serve(run, sys.argv))
