"""Running a net in the RKNN venv: the request, the child process, the result.

`run_rknn` loads the Caffe files (`load_caffe`), `run_rknn_onnx` an ONNX file (`load_onnx`: the
toolchain's own route, the baseline int8 parity is measured against); both build fp16, or int8
with `quantize=RknnQuantization(samples)` (`build(do_quantization=True, dataset=...)`).
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from purecaffe.errors import FormatError, PurecaffeError
from purecaffe.judgejob import net_io_names, read_arrays, run_runner, write_job
from purecaffe.rknn.venv import RKNN_VERSION, build_venv, venv_python

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

TARGET_PLATFORM = "rk3588"
RUN_TIMEOUT = 900.0
DROPPED = re.compile(r"OP in Layer (\S+) Current not support")
"""RKNN's load_caffe logs this for a layer type it lacks, leaves the layer out (its top becomes its
bottom: an identity, measured for Clip and Swish in 2.5.0) and still returns 0."""


@dataclass(frozen=True)
class RknnRun:
    """What RKNN computed: net outputs by name (NCHW, float32) and, when dumped, per-layer values.

    `positional` is `inference()`'s list as board code indexes it; `outputs` the same keyed by the
    net's output blobs in the order RKNN lists them (the place of each one's last writer, measured),
    empty when RKNN returned another number of outputs than the net has (it drops an output that a
    layer also reads).  `layers` is keyed by Caffe layer name; RKNN fuses chains (Convolution + BatchNorm +
    Scale, ...) and names the fused node after the chain's last layer, so only the
    layers it kept appear.  `golden` (int8 builds): RKNN's own float32 run of the same layers,
    what it quantized from.  `evaluated`: the net outputs for each of the `evaluate` samples.  `dropped`: layers RKNN left out because it lacks their type.  `error` is RKNN's own one-line refusal (then nothing else is set).
    """

    outputs: Mapping[str, np.ndarray] = field(default_factory=dict)
    positional: tuple[np.ndarray, ...] = ()  # inference()'s list, as returned
    layers: Mapping[str, np.ndarray] = field(default_factory=dict)
    golden: Mapping[str, np.ndarray] = field(default_factory=dict)  # int8 builds: RKNN's float run, by layer
    evaluated: tuple[Mapping[str, np.ndarray], ...] = ()  # the outputs for each `evaluate` sample
    dropped: Mapping[str, str] = field(default_factory=dict)  # layer -> RKNN's message: left out, as identity
    error: str | None = None
    stage: str | None = None
    seconds: float = 0.0
    version: str = RKNN_VERSION

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RknnQuantization:
    """An int8 build: RKNN calibrates on `samples` (each: input blob name -> NCHW float32 array, batch 1).

    The arrays are the net's inputs as they are (already preprocessed): RKNN is configured with
    mean 0 and std 1.  `algorithm`: RKNN's quantized_algorithm (normal, mmse, kl_divergence);
    `method`: its quantized_method (channel, layer).
    """

    samples: tuple[Mapping[str, np.ndarray], ...]
    algorithm: str = "normal"
    method: str = "channel"

    def __post_init__(self) -> None:
        if not self.samples:
            raise PurecaffeError("an int8 build needs at least one calibration sample")
        if self.algorithm not in ALGORITHMS:
            raise PurecaffeError(f"unknown RKNN quantized_algorithm {self.algorithm!r} (choose from "
                                 f"{', '.join(ALGORITHMS)})")
        if self.method not in METHODS:
            raise PurecaffeError(f"unknown RKNN quantized_method {self.method!r} (choose from {', '.join(METHODS)})")

    def describe(self) -> str:
        return f"{len(self.samples)} calibration samples, {self.algorithm}/{self.method}"


ALGORITHMS = ("normal", "mmse", "kl_divergence")
METHODS = ("channel", "layer")


def run_rknn(prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray], *,
             dump_layers: bool = True, venv: PathLike | None = None, timeout: float = RUN_TIMEOUT,
             quantize: RknnQuantization | None = None,
             evaluate: Sequence[Mapping[str, np.ndarray]] = ()) -> RknnRun:
    """Load the Caffe files in RKNN-Toolkit2, build fp16 (or int8: `quantize`), run the x86 simulator.

    `inputs` are NCHW float32 arrays by input blob name (fed as NHWC, which RKNN
    expects for 4-D inputs).  Builds the venv on first use (a few minutes).  RKNN
    refusing the net is returned as `RknnRun.error`; a broken run raises a
    one-line `PurecaffeError` naming the file.  `evaluate`: more samples (like `inputs`) run by the
    same built model, their outputs in `RknnRun.evaluated`.
    """
    prototxt, caffemodel = Path(prototxt).absolute(), Path(caffemodel).absolute()
    for path in (prototxt, caffemodel):
        if not path.is_file():
            raise FormatError("missing: RKNN needs the prototxt and the caffemodel", path=path)
    names_in, names_out = net_io_names(prototxt)
    request = {"prototxt": str(prototxt), "caffemodel": str(caffemodel)}
    return _run(request, prototxt, names_in, names_out, inputs, dump_layers=dump_layers, venv=venv,
                timeout=timeout, quantize=quantize, evaluate=evaluate)


def run_rknn_onnx(onnx: PathLike, input_names: Sequence[str], output_names: Sequence[str],
                  inputs: Mapping[str, np.ndarray], *, dump_layers: bool = True, venv: PathLike | None = None,
                  timeout: float = RUN_TIMEOUT, quantize: RknnQuantization | None = None,
                  evaluate: Sequence[Mapping[str, np.ndarray]] = ()) -> RknnRun:
    """The same for an ONNX file (`rknn.load_onnx`): the toolchain's own route from PyTorch.

    `input_names`/`output_names` are the ONNX graph's, in its order; `outputs` are keyed by them and
    `layers`/`golden` by RKNN's tensor names (ONNX value names).
    """
    onnx = Path(onnx).absolute()
    if not onnx.is_file():
        raise FormatError("missing: RKNN's ONNX route needs the .onnx file", path=onnx)
    return _run({"onnx": str(onnx)}, onnx, list(input_names), list(output_names), inputs, dump_layers=dump_layers,
                venv=venv, timeout=timeout, quantize=quantize, evaluate=evaluate)


def _run(request: dict, net: Path, names_in: list[str], names_out: list[str], inputs: Mapping[str, np.ndarray], *,
         dump_layers: bool, venv: PathLike | None, timeout: float, quantize: RknnQuantization | None,
         evaluate: Sequence[Mapping[str, np.ndarray]]) -> RknnRun:
    missing = [name for name in names_in if name not in inputs]
    if missing:
        raise PurecaffeError(f"no input given for {', '.join(missing)} (the net's inputs: {', '.join(names_in)})",
                             path=net)
    python = venv_python(build_venv(venv))
    with tempfile.TemporaryDirectory(prefix="purecaffe-rknn-") as job:
        request.update(inputs=names_in, target_platform=TARGET_PLATFORM, dump=dump_layers,
                       quantize=None if quantize is None else _dataset(Path(job), names_in, quantize),
                       evaluate=len(evaluate))
        write_job(job, request, {name: inputs[name] for name in names_in})
        if evaluate:
            np.savez(Path(job, "evaluate.npz"), **{name: np.concatenate(
                [np.asarray(sample[name], dtype=np.float32) for sample in evaluate]) for name in names_in})
        result = run_runner(python, "run_rknn.py", job, judge="RKNN", net=net, timeout=timeout,
                            env={"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})
        if not result["ok"]:
            log.info("RKNN refused %s: %s", net, "\n".join(result.get("detail", [])))
            return RknnRun(error=result["error"], stage=result.get("stage"), seconds=result.get("seconds", 0.0),
                           version=result.get("version") or RKNN_VERSION)
        arrays = read_arrays(job, "outputs.npz")
    produced = [arrays[f"output:{i}"] for i in range(result["outputs"])]
    layers = {name: arrays[f"layer:{name}"] for name in result["layers"]}
    golden = {name: arrays[f"golden:{name}"] for name in result.get("golden", [])}
    evaluated = tuple({name: arrays[f"evaluate:{index}:{i}"] for i, name in enumerate(names_out)}
                      for index in range(len(evaluate)))
    outputs = dict(zip(names_out, produced))
    if len(produced) != len(names_out):
        log.warning("RKNN returned %d outputs for %s, whose outputs are %s", len(produced), net, ", ".join(names_out))
        outputs = {}
    dropped = {}
    for line in result.get("load_errors", []):
        match = DROPPED.search(line)
        if match:
            dropped[match.group(1)] = line
    for name, line in dropped.items():
        log.warning("RKNN-Toolkit2 left layer %s out of %s (load_caffe still returned 0): %s", name, net, line)
    return RknnRun(outputs=outputs, positional=tuple(produced), layers=layers, golden=golden, evaluated=evaluated,
                   dropped=dropped,
                   seconds=result["seconds"], version=result.get("version") or RKNN_VERSION)


def _dataset(job: Path, names_in: list[str], quantize: RknnQuantization) -> dict:
    """The calibration samples as RKNN reads them: one NCHW .npy per input and sample, a dataset.txt
    line per sample naming its inputs' files in input order."""
    lines = []
    channels: list[int] = []
    for index, sample in enumerate(quantize.samples):
        missing = [name for name in names_in if name not in sample]
        if missing:
            raise PurecaffeError(f"calibration sample {index} has no input {', '.join(missing)}")
        files = []
        for position, name in enumerate(names_in):
            path = job / f"calibration{index}_{position}.npy"
            np.save(path, np.ascontiguousarray(sample[name], dtype=np.float32))
            files.append(str(path))
        lines.append(" ".join(files))
    for name in names_in:
        shape = np.shape(quantize.samples[0][name])
        channels.append(int(shape[1]) if len(shape) >= 2 else 1)
    (job / "dataset.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"dataset": str(job / "dataset.txt"), "algorithm": quantize.algorithm, "method": quantize.method,
            "channels": channels}
