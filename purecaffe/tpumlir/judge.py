"""Running a Caffe net through tpu-mlir: its Caffe front end, its top-level fp32 interpreter, and a chip's model.

Two ways, both from `run_tpumlir`:

* front end only (`deploy=None`): `model_transform` reads the Caffe files into tpu-mlir's top-level
  MLIR, and its interpreter gives every tensor in float32 (the parity table);
* `deploy=Deploy("bm1684x", "F16")`: also `model_deploy --quantize F16 --processor bm1684x` and
  `model_runner` on the compiled model (the chip's own arithmetic, in its simulator): the net's
  outputs as a user of the bmodel/cvimodel reads them.
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from purecaffe.errors import PurecaffeError
from purecaffe.judgejob import JudgeRun, net_files, read_arrays, run_runner, write_job
from purecaffe.judgevenv import venv_python
from purecaffe.tpumlir.venv import TPU_MLIR_VERSION, build_venv

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
RUN_TIMEOUT = 3600.0
PROCESSORS = ("bm1684x", "bm1684", "bm1688", "bm1690", "cv180x", "cv181x", "cv182x", "cv183x", "cv186x")
QUANTIZE = ("F32", "F16", "BF16")
"""Float modes only: INT8 needs calibration data and is judged beside the ONNX route, not by a tolerance
(`purecaffe.tpumlir.int8`, `purecaffe.int8`)."""


@dataclass(frozen=True)
class Deploy:
    processor: str = "bm1684x"
    quantize: str = "F16"
    disable_layer_group: bool = False

    def __post_init__(self) -> None:
        if self.processor not in PROCESSORS:
            raise PurecaffeError(f"unknown tpu-mlir processor {self.processor!r} (choose from {', '.join(PROCESSORS)})")
        if self.quantize not in QUANTIZE:
            raise PurecaffeError(f"tpu-mlir --quantize {self.quantize!r}: the judge takes {', '.join(QUANTIZE)}")

    def describe(self) -> str:
        grouping = ", no layer groups" if self.disable_layer_group else ""
        return f"{self.processor} {self.quantize}{grouping}"


def tpumlir_tensor_names(prototxt: PathLike) -> dict[str, tuple[str, str]]:
    """tpu-mlir's tensor (location) name -> (Caffe layer, top) holding the same value.

    Its Caffe front end (CaffeConverter.resolve_alias) names the k-th of the n layers writing a
    blob `blob/(n-1-k)` and the last one plain `blob`; Dropout layers pass their bottom through
    and take no name.  Its top-level passes fuse chains (Convolution + BatchNorm + Scale + ReLU)
    under the last layer's name, so only the layers whose value survives appear.
    """
    from purecaffe.io.prototxt import read_net

    writers: dict[str, list[str]] = {}
    for layer in read_net(prototxt).layer:
        if layer.type == "Dropout":
            continue
        for top in layer.top:
            writers.setdefault(top, []).append(layer.name)
    names = {}
    for top, layers in writers.items():
        count = len(layers)
        for index, layer in enumerate(layers):
            names[top if index == count - 1 else f"{top}/{count - 1 - index}"] = (layer, top)
    return names


def reshape_copies(prototxt: PathLike) -> dict[str, list[tuple[str, tuple[int, ...]]]]:
    """blob -> [(top, dims)] of each Reshape reading it with every dim written out: how a net output that is
    also read later is copied for a target without Split (`targets.outputs.arrange_outputs`).

    tpu-mlir's top-level canonicalization folds a Reshape to the same shape, so such an output comes back
    under the copied blob's name (`W/pre` for W: measured on YOLOv8n-cls, whose logits feed its softmax)."""
    from purecaffe.io.prototxt import read_net

    copies: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
    for layer in read_net(prototxt).layer:
        if layer.type == "Reshape" and len(layer.bottom) == 1 and len(layer.top) == 1:
            dims = tuple(int(d) for d in layer.reshape_param.shape.dim)
            if dims and all(d > 0 for d in dims):
                copies.setdefault(layer.bottom[0], []).append((layer.top[0], dims))
    return copies


def run_tpumlir(prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray], *,
                deploy: Deploy | None = None, dump_layers: bool = True, venv: PathLike | None = None,
                timeout: float = RUN_TIMEOUT) -> JudgeRun:
    """Read the Caffe files with tpu-mlir's front end and run them (see the module); `inputs` NCHW float32.

    Without `deploy`, `outputs` are the top-level interpreter's (float32); with it, the compiled
    model's as model_runner returns them; either way the values tpu-mlir returns (its front end
    stops converting at the first layer that writes a net output blob, so an in-place layer
    after it is silently left out: measured, and caught here by value), keyed by the blob.  tpu-mlir refusing the net (a layer type it lacks, an
    assertion in its front end, a failed compile) is `JudgeRun.error`, naming the stage.
    """
    prototxt, caffemodel, names_in, names_out = net_files(prototxt, caffemodel, inputs, judge="tpu-mlir")
    python = venv_python(build_venv(venv))
    shapes = [list(np.shape(inputs[name])) for name in names_in]
    consumer = f"tpu-mlir {TPU_MLIR_VERSION} " + (f"({deploy.describe()}, model_runner)" if deploy
                                                  else "(top-level fp32 interpreter)")
    with tempfile.TemporaryDirectory(prefix="purecaffe-tpumlir-") as job:
        request = {"prototxt": str(prototxt), "caffemodel": str(caffemodel), "name": "net", "inputs": names_in,
                   "shapes": shapes, "outputs": names_out, "dump": dump_layers,
                   "deploy": None if deploy is None else {"processor": deploy.processor, "quantize": deploy.quantize,
                                                          "disable_layer_group": deploy.disable_layer_group}}
        write_job(job, request, {name: inputs[name] for name in names_in})
        env = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
               "GLOG_minloglevel": os.environ.get("GLOG_minloglevel", "2")}
        result = run_runner(python, "run_tpumlir.py", job, judge="tpu-mlir", net=prototxt, timeout=timeout, env=env)
        arrays = read_arrays(job, "outputs.npz")
    seconds = {key[8:]: value for key, value in result.items() if key.startswith("seconds_")}
    seconds["total"] = result.get("seconds", 0.0)
    version = result.get("version") or TPU_MLIR_VERSION
    if not result["ok"]:
        log.info("tpu-mlir refused %s: %s", prototxt, "\n".join(result.get("detail", [])))
        return JudgeRun(consumer, error=result["error"], stage=result.get("stage"), seconds=seconds, version=version)
    names = tpumlir_tensor_names(prototxt)
    layers: dict[str, dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        if key.startswith("top:") and key[4:] in names:
            layer, top = names[key[4:]]
            layers.setdefault(layer, {})[top] = value
    outputs: dict[str, np.ndarray] = {}
    copies = reshape_copies(prototxt)
    for index, value in enumerate(result["returned"]):  # in its Caffe's output order: by blob name
        if value not in names:
            raise PurecaffeError(f"tpu-mlir returns a value {value} that no layer of the net writes", path=prototxt)
        layer, top = names[value]
        if value != top:  # its front end stops at the first writer of an output blob (CaffeConverter.convert_subgraph)
            log.warning("tpu-mlir returns the net output %s of %s as written by layer %s: the in-place layers "
                        "after it were not converted", top, prototxt, layer)
        array = arrays[f"top:{value}"] if deploy is None else arrays[f"deployed:{index}"]
        if top not in names_out:  # a same-shape Reshape copying it to a net output, folded away (reshape_copies)
            copy = next(((name, dims) for name, dims in copies.get(top, ()) if name in names_out
                         and name not in outputs and int(np.prod(dims)) == np.size(array)), None)
            if copy is not None:
                log.info("tpu-mlir folded the Reshape copying %s to the net output %s: its value is returned as %s",
                         top, copy[0], value)
                top, array = copy[0], np.reshape(array, copy[1])
        outputs[top] = array
    if sorted(outputs) != sorted(names_out):
        raise PurecaffeError(f"tpu-mlir returns {', '.join(result['returned'])}; the net's outputs are "
                             f"{', '.join(names_out)}", path=prototxt)
    outputs = {name: outputs[name] for name in names_out}
    return JudgeRun(consumer, outputs=outputs, layers=layers, seconds=seconds, version=version)


__all__ = ["Deploy", "PROCESSORS", "QUANTIZE", "reshape_copies", "run_tpumlir", "tpumlir_tensor_names"]
