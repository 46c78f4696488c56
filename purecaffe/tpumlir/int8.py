"""tpu-mlir's int8 build: calibrate (`run_calibration.py`), lower (`model_deploy --quantize INT8`), simulate.

    quantization = TpuMlirQuantization(samples)                          # bm1684x, kl calibration
    run = run_tpumlir_int8({"data": x}, quantization, prototxt="net.prototxt", caffemodel="net.caffemodel")
    run = run_tpumlir_int8({"data": x}, quantization, onnx="net.onnx", output_names=["out0"])
    run.outputs["prob"], run.layers["conv1"], run.golden["conv1"], run.evaluated[3]["prob"]

The model is simulated by the interpreter of the deploy's tpu-level MLIR (the chip's int8 arithmetic,
what `model_runner.py --model *_tpu.mlir` runs): 0.08 s a sample where the compiled bmodel takes
~18 s (purecaffe/runners/run_tpumlir_int8.py says what was measured); `bmodel=True` also compiles it
and runs the probe in the chip's simulator (`TpuMlirInt8Run.bmodel_outputs`).
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from purecaffe.errors import FormatError, PurecaffeError
from purecaffe.judgejob import net_io_names, read_arrays, run_runner, write_job
from purecaffe.judgevenv import venv_python
from purecaffe.tpumlir.judge import PROCESSORS, RUN_TIMEOUT, tpumlir_tensor_names
from purecaffe.tpumlir.venv import TPU_MLIR_VERSION, build_venv

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
CALI_METHODS = ("kl", "mse", "max", "percentile9999")
"""run_calibration.py's --cali_method choices purecaffe passes on (kl is tpu-mlir's default)."""


@dataclass(frozen=True)
class TpuMlirQuantization:
    """An int8 build: tpu-mlir calibrates on `samples` (each: input name -> NCHW float32, batch 1, as the
    net takes them: no mean/scale is given to model_transform) for `processor`, by `method`."""

    samples: tuple[Mapping[str, np.ndarray], ...]
    processor: str = "bm1684x"
    method: str = "kl"

    def __post_init__(self) -> None:
        if not self.samples:
            raise PurecaffeError("an int8 build needs at least one calibration sample")
        if self.processor not in PROCESSORS:
            raise PurecaffeError(f"unknown tpu-mlir processor {self.processor!r} (choose from {', '.join(PROCESSORS)})")
        if self.method not in CALI_METHODS:
            raise PurecaffeError(f"unknown tpu-mlir --cali_method {self.method!r} (choose from {', '.join(CALI_METHODS)})")

    def describe(self) -> str:
        return f"{len(self.samples)} calibration samples, {self.processor} {self.method}"


@dataclass(frozen=True)
class TpuMlirInt8Run:
    """What the int8 model computed.  `outputs`: the net's outputs by name (the Caffe net's blobs, or the
    ONNX graph's output names), for the probe input; `layers`: every tensor of the int8 tpu-level MLIR
    on the probe by tpu-mlir's name (dequantized), `golden` the same names in the fp32 top-level MLIR
    (what it was calibrated from); `evaluated`: the outputs for each `evaluate` sample; `seconds`: the
    whole job, `stages`: per stage (transform, calibration, deploy, int8, bmodel)."""

    outputs: Mapping[str, np.ndarray] = field(default_factory=dict)
    layers: Mapping[str, np.ndarray] = field(default_factory=dict)
    golden: Mapping[str, np.ndarray] = field(default_factory=dict)
    evaluated: tuple[Mapping[str, np.ndarray], ...] = ()
    bmodel_outputs: Mapping[str, np.ndarray] = field(default_factory=dict)
    error: str | None = None
    stage: str | None = None
    seconds: float = 0.0
    stages: Mapping[str, float] = field(default_factory=dict)
    version: str = TPU_MLIR_VERSION

    @property
    def ok(self) -> bool:
        return self.error is None

    def caffe_layers(self, prototxt: PathLike) -> dict[str, dict[str, np.ndarray]]:
        """The int8 tensors by Caffe layer and top (`tpumlir_tensor_names`): the Caffe route's rows."""
        layers: dict[str, dict[str, np.ndarray]] = {}
        for name, (layer, top) in tpumlir_tensor_names(prototxt).items():
            if name in self.layers:
                layers.setdefault(layer, {})[top] = self.layers[name]
        return layers


def run_tpumlir_int8(inputs: Mapping[str, np.ndarray], quantize: TpuMlirQuantization, *,
                     prototxt: PathLike | None = None, caffemodel: PathLike | None = None,
                     onnx: PathLike | None = None, input_names: Sequence[str] = (), output_names: Sequence[str] = (),
                     evaluate: Sequence[Mapping[str, np.ndarray]] = (), bmodel: bool = False,
                     venv: PathLike | None = None, timeout: float = RUN_TIMEOUT) -> TpuMlirInt8Run:
    """Build the Caffe files (`prototxt`, `caffemodel`) or the ONNX file (`onnx`, with its `input_names` and
    `output_names` in graph order) int8 with tpu-mlir and run `inputs` (the probe) and the `evaluate` samples.

    tpu-mlir refusing the net (a layer it lacks, a failed calibration or lowering) is `error`, naming
    the stage; a runner that died is a one-line `PurecaffeError` naming the file."""
    if onnx is not None:
        net = Path(onnx).absolute()
        if not net.is_file():
            raise FormatError("missing: tpu-mlir's ONNX route needs the .onnx file", path=net)
        names_in, names_out = list(input_names), list(output_names)
        request: dict = {"onnx": str(net), "caffe": None}
    else:
        if prototxt is None or caffemodel is None:
            raise PurecaffeError("run_tpumlir_int8 needs the prototxt and the caffemodel, or an onnx file")
        net, weights = Path(prototxt).absolute(), Path(caffemodel).absolute()
        for path in (net, weights):
            if not path.is_file():
                raise FormatError("missing: tpu-mlir needs the prototxt and the caffemodel", path=path)
        names_in, names_out = net_io_names(net)
        request = {"caffe": {"prototxt": str(net), "caffemodel": str(weights)}, "onnx": None}
    missing = [name for name in names_in if name not in inputs]
    if missing:
        raise PurecaffeError(f"no input given for {', '.join(missing)} (the net's inputs: {', '.join(names_in)})",
                             path=net)
    python = venv_python(build_venv(venv))
    with tempfile.TemporaryDirectory(prefix="purecaffe-tpumlir-int8-") as job:
        _write_samples(Path(job), names_in, quantize.samples)
        request.update(name="net", inputs=names_in, shapes=[list(np.shape(inputs[name])) for name in names_in],
                       processor=quantize.processor, method=quantize.method, calibration=len(quantize.samples),
                       evaluate=len(evaluate), bmodel=bmodel)
        write_job(job, request, {name: inputs[name] for name in names_in})
        if evaluate:
            np.savez(Path(job, "evaluate.npz"), **{name: np.concatenate(
                [np.asarray(sample[name], dtype=np.float32) for sample in evaluate]) for name in names_in})
        env = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
               "GLOG_minloglevel": os.environ.get("GLOG_minloglevel", "2")}
        result = run_runner(python, "run_tpumlir_int8.py", job, judge="tpu-mlir", net=net, timeout=timeout, env=env)
        arrays = read_arrays(job, "outputs.npz")
    stages = {key[8:]: value for key, value in result.items() if key.startswith("seconds_")}
    version = result.get("version") or TPU_MLIR_VERSION
    if not result["ok"]:
        log.info("tpu-mlir int8 refused %s: %s", net, "\n".join(result.get("detail", [])))
        return TpuMlirInt8Run(error=result["error"], stage=result.get("stage"), seconds=result.get("seconds", 0.0),
                              stages=stages, version=version)
    keys = _output_keys(result["returned"], names_out, net, caffe=onnx is None)
    produced = [arrays[f"output:{i}"] for i in range(len(result["int8_outputs"]))]
    if len(produced) != len(keys):
        raise PurecaffeError(f"tpu-mlir's int8 model returns {len(produced)} values; the net has {len(keys)} outputs",
                             path=net)
    order = {key: index for index, key in enumerate(keys)}
    ordered = sorted(keys, key=lambda key: names_out.index(key))  # in the net's own output order

    def by_name(prefix: str) -> dict[str, np.ndarray]:
        return {key: arrays[f"{prefix}{order[key]}"] for key in ordered}

    return TpuMlirInt8Run(
        outputs=by_name("output:"),
        layers={key[5:]: value for key, value in arrays.items() if key.startswith("int8:")},
        golden={key[4:]: value for key, value in arrays.items() if key.startswith("top:")},
        evaluated=tuple(by_name(f"evaluate:{sample}:") for sample in range(len(evaluate))),
        bmodel_outputs=by_name("bmodel:") if bmodel else {},
        seconds=result.get("seconds", 0.0), stages=stages, version=version)


def _output_keys(returned: Sequence[str], names_out: Sequence[str], net: Path, *, caffe: bool) -> list[str]:
    """The net output each returned value stands for, in return order: a Caffe net's by the blob its
    tpu-mlir name holds; an ONNX graph's by place (its front end returns the graph outputs in order)."""
    if not caffe:
        if len(returned) != len(names_out):
            raise PurecaffeError(f"tpu-mlir returns {', '.join(returned)}; the ONNX graph's outputs are "
                                 f"{', '.join(names_out)}", path=net)
        return list(names_out)
    names = tpumlir_tensor_names(net)
    keys = []
    for value in returned:
        if value not in names:
            raise PurecaffeError(f"tpu-mlir returns a value {value} that no layer of the net writes", path=net)
        keys.append(names[value][1])
    if sorted(keys) != sorted(names_out):
        raise PurecaffeError(f"tpu-mlir returns {', '.join(returned)}; the net's outputs are {', '.join(names_out)}",
                             path=net)
    return keys


def _write_samples(job: Path, names_in: Sequence[str], samples: Sequence[Mapping[str, np.ndarray]]) -> None:
    """The calibration samples as run_calibration.py reads a dataset folder: one .npz a sample, by input name."""
    folder = job / "calibration"
    folder.mkdir()
    for index, sample in enumerate(samples):
        missing = [name for name in names_in if name not in sample]
        if missing:
            raise PurecaffeError(f"calibration sample {index} has no input {', '.join(missing)}")
        np.savez(folder / f"sample{index:05d}.npz",
                 **{name: np.ascontiguousarray(sample[name], dtype=np.float32) for name in names_in})


__all__ = ["CALI_METHODS", "TpuMlirInt8Run", "TpuMlirQuantization", "run_tpumlir_int8"]
