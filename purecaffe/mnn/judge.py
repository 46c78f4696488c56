"""Running a Caffe net through MNN: its own Caffe converter (MNNConvert) and its runtime (CPU, fp32)."""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping

import numpy as np

from purecaffe.judgejob import JudgeRun, net_files, read_arrays, run_runner, write_job
from purecaffe.mnn.venv import MNN_VERSION, build_venv
from purecaffe.judgevenv import venv_python

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
RUN_TIMEOUT = 600.0
WINOGRAD_MEMORY_LEVEL = 3
"""MNN's `Interpreter::HintMode::WINOGRAD_MEMORY_LEVEL` (include/MNN/Interpreter.hpp).  At 0 its CPU backend
never picks a Winograd convolution (source/backend/cpu/compute/ConvolutionFloatFactory.cpp: `hint().
winogradMemoryUsed == 0` -> DenseConvolutionTiledExecutor); the default, 3, lets it."""


def mnn_tensor_names(prototxt: PathLike) -> dict[str, tuple[str, str]]:
    """MNN's tensor name -> (Caffe layer, top) holding the same value.

    MNN's converter names a tensor after its blob; its RemoveInplace pass then gives each
    in-place write of a one-in, one-out layer a new tensor named after the layer (measured and
    read in tools/converter/source/optimizer/postconvert/RemoveInplace.cpp).  Fused ops keep
    their last tensor, so `conv1` followed by in-place BatchNorm, Scale and `relu` is one op
    whose output is the tensor `relu`: the blob after the ReLU.
    """
    from purecaffe.io.prototxt import read_net

    names: dict[str, tuple[str, str]] = {}
    for layer in read_net(prototxt).layer:
        in_place = len(layer.bottom) == 1 and len(layer.top) == 1 and layer.bottom[0] == layer.top[0]
        for top in layer.top:
            names.setdefault(layer.name if in_place else top, (layer.name, top))
    return names


def layer_types(prototxt: PathLike) -> list[tuple[str, str]]:
    from purecaffe.io.prototxt import read_net

    return [(layer.name, layer.type) for layer in read_net(prototxt).layer]


def run_mnn(prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray], *, dump_layers: bool = True,
            winograd: bool = True, venv: PathLike | None = None, timeout: float = RUN_TIMEOUT) -> JudgeRun:
    """Convert the Caffe files with MNN's converter, run the model in MNN's runtime (fp32) on NCHW `inputs`.

    Outputs by net output blob; with `dump_layers`, every tensor the runtime computed under the
    Caffe (layer, top) it stands for.  `winograd=False` runs the session with Winograd convolutions off
    (hint WINOGRAD_MEMORY_LEVEL 0): direct convolutions, float32 to a few ulps.  MNN refusing the net (a
    layer type its converter lacks) is `JudgeRun.error`, naming the type and the layers.
    """
    prototxt, caffemodel, names_in, names_out = net_files(prototxt, caffemodel, inputs, judge="MNN")
    python = venv_python(build_venv(venv))
    tensor_names = mnn_tensor_names(prototxt)
    by_blob = {}
    for mnn_name, (_, top) in tensor_names.items():
        by_blob[top] = mnn_name  # the last writer's name wins: the blob's final value
    candidates = [[by_blob.get(name, name), name] for name in names_out]
    consumer = f"mnn {MNN_VERSION} (fp32{'' if winograd else ', Winograd off'})"
    with tempfile.TemporaryDirectory(prefix="purecaffe-mnn-") as job:
        request = {"prototxt": str(prototxt), "caffemodel": str(caffemodel), "inputs": names_in,
                   "outputs": candidates, "dump": dump_layers, "threads": 1,
                   "hints": {} if winograd else {str(WINOGRAD_MEMORY_LEVEL): 0}}
        write_job(job, request, {name: inputs[name] for name in names_in})
        result = run_runner(python, "run_mnn.py", job, judge="MNN", net=prototxt, timeout=timeout)
        arrays = read_arrays(job, "outputs.npz")
    seconds = {"total": result.get("seconds", 0.0)}
    if not result["ok"]:
        log.info("MNN refused %s: %s", prototxt, "\n".join(result.get("detail", [])))
        error = result["error"]
        if result.get("unsupported"):
            layers = [name for name, kind in layer_types(prototxt) if kind in result["unsupported"]]
            error += f" ({'layer' if len(layers) == 1 else 'layers'} {', '.join(layers)})" if layers else ""
        return JudgeRun(consumer, error=error, stage=result.get("stage"), seconds=seconds,
                        version=result.get("version") or MNN_VERSION)
    layers: dict[str, dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        if key.startswith("tensor:") and key[7:] in tensor_names:
            layer, top = tensor_names[key[7:]]
            layers.setdefault(layer, {})[top] = value
    outputs = {name: arrays[f"output:{i}"] for i, name in enumerate(names_out)}
    return JudgeRun(consumer, outputs=outputs, layers=layers, seconds=seconds,
                    version=result.get("version") or MNN_VERSION)


__all__ = ["mnn_tensor_names", "run_mnn"]
