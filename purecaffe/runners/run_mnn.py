"""Convert one Caffe net with MNN's own converter and run it in MNN's runtime (CPU, fp32); run by the MNN venv's python.

    <venv>/bin/python run_mnn.py JOB_DIR          (the files: jobio)

request.json: {"prototxt", "caffemodel", "inputs": [names], "outputs": [[candidate MNN names] per net output],
               "dump": bool, "threads": int, "hints": {HintMode number: value}}
outputs.npz:  "output:<i>" the i-th net output (Caffe layout), "tensor:<name>" every tensor an op of the
              converted model wrote (when dumped), by MNN's tensor name
result.json:  {"ok", "error", "stage", "outputs": n, "ops": [[op, type, [tensor names]]],
               "unsupported": [Caffe types MNNConvert lacks], "seconds", "version"}

The converter is called as a function (`_tools.mnnconvert`), as its console script does, but without
importing `MNN.tools`, whose logger installs a package and sends usage data on import.  A layer
type its Caffe front end lacks makes it log `These Op Not Support: Caffe::T` and fail: refused here,
naming the type (the parent names the layers).  The model is
run with the Session API; its per-op callback gives every tensor the runtime computed, named by
the converted model's own tensor names (read from its JSON dump).
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import sys

import numpy as np

import jobio

NOT_SUPPORTED = re.compile(r"These Op Not Support: (.+)$")
"""MNNConvert 3.6's line for the Caffe layer types it lacks ("... Caffe::Swish Caffe::Clip"), before
"Converted Failed!" (older front ends logged "Don't support type [ T ]" and dropped the rest of the net)."""


def _convert(request: dict, job: str, result: dict) -> str:
    import _tools

    model = os.path.join(job, "net.mnn")
    done = _tools.mnnconvert(["MNNConvert", "-f", "CAFFE", "--modelFile", request["caffemodel"],
                              "--prototxt", request["prototxt"], "--MNNModel", model, "--bizCode", "purecaffe"])
    sys.stdout.flush()
    lines = jobio.log_lines(os.path.join(job, jobio.LOG))
    unsupported = [kind.split("::", 1)[1] for m in map(NOT_SUPPORTED.search, lines) if m
                   for kind in m.group(1).split() if kind.startswith("Caffe::")]  # "Caffe::LSTM | Caffe::Parameter"
    if unsupported:
        result["unsupported"] = unsupported
        raise jobio.Refused("convert", f"MNN's Caffe converter has no {', '.join(unsupported)} layer")
    if not done or not os.path.exists(model):
        said = [line for line in lines if "rror" in line][:2]
        raise jobio.Refused("convert", "MNNConvert failed" + (": " + "; ".join(said) if said else ""))
    return model


def _tensor_names(model: str, job: str) -> list[list]:
    """[op name, op type, [output tensor names]] for each op of the converted model (its JSON dump)."""
    import _tools

    dumped = os.path.join(job, "net.json")
    _tools.mnnconvert(["MNNConvert", "-f", "MNN", "--modelFile", model, "--JsonFile", dumped])
    with open(dumped, encoding="utf-8") as handle:
        net = json.load(handle)
    names = net["tensorName"]
    return [[op.get("name", ""), op.get("type", ""), [names[i] for i in op.get("outputIndexes", [])]]
            for op in net["oplists"]]


def _host(MNN: object, tensor: object) -> np.ndarray:
    """A runtime tensor copied out in Caffe's layout (NCHW), as float32."""
    shape = tuple(tensor.getShape())
    host = MNN.Tensor(shape, MNN.Halide_Type_Float, np.zeros(shape, np.float32), MNN.Tensor_DimensionType_Caffe)
    tensor.copyToHostTensor(host)
    return np.array(host.getNumpyData(), dtype=np.float32).reshape(shape)


def run(job: str, request: dict, result: dict) -> None:
    result["stage"] = "import"
    import MNN

    result["version"] = importlib.metadata.version("mnn")
    inputs = jobio.read_inputs(job, request["inputs"])
    result["stage"] = "convert"
    model = _convert(request, job, result)
    ops = _tensor_names(model, job)
    result["ops"] = ops
    outputs_of = {op: tensors for op, _, tensors in ops}
    result["stage"] = "load"
    interpreter = MNN.Interpreter(model)
    for hint, value in request.get("hints", {}).items():  # Interpreter::HintMode, set before the session exists
        interpreter.setSessionHint(int(hint), int(value))
    session = interpreter.createSession({"numThread": int(request.get("threads", 1))})
    result["stage"] = "inputs"
    for name, value in inputs.items():
        tensor = interpreter.getSessionInput(session, name)
        if tuple(tensor.getShape()) != value.shape:
            raise jobio.Refused("inputs", f"MNN's input {name} has shape {tuple(tensor.getShape())}, "
                                          f"given {value.shape}")
        tensor.copyFrom(MNN.Tensor(value.shape, MNN.Halide_Type_Float, value, MNN.Tensor_DimensionType_Caffe))
    arrays: dict[str, np.ndarray] = {}

    def before(tensors: list, info: object) -> bool:
        return True

    def after(tensors: list, info: object) -> bool:
        names = outputs_of.get(info.getName())
        if request.get("dump") and names is not None and len(names) == len(tensors):
            for name, tensor in zip(names, tensors):
                arrays[f"tensor:{name}"] = _host(MNN, tensor)
        return True

    result["stage"] = "run"
    interpreter.runSessionWithCallBackInfo(session, before, after)
    produced = interpreter.getSessionOutputAll(session)
    for index, candidates in enumerate(request["outputs"]):
        found = next((name for name in candidates if name in produced), None)
        if found is None:
            raise jobio.Refused("outputs", f"MNN has no output {candidates[0]} (its outputs: "
                                           f"{', '.join(produced) or 'none'})")
        arrays[f"output:{index}"] = _host(MNN, produced[found])
    jobio.save_outputs(job, arrays)
    result["outputs"] = len(request["outputs"])


if __name__ == "__main__":
    sys.exit(jobio.serve(run, sys.argv))
