"""Both int8 routes on a toolchain: the converted Caffe files, and `torch.onnx.export` -> its ONNX front end.

The toolchains are data (`Int8Toolchain`, `TOOLCHAINS`, keyed by the quantization's type): how
each route is built and run, and what the report calls it; `int8_routes` runs either the same way.
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from purecaffe.errors import FormatError, PurecaffeError
from purecaffe.int8.measure import RouteResult, route_result
from purecaffe.int8.onnx_route import export_onnx
from purecaffe.io.sidecar import output_paths, read_sidecar
from purecaffe.judgejob import net_io_names
from purecaffe.rknn.judge import RknnQuantization, run_rknn, run_rknn_onnx
from purecaffe.tpumlir.int8 import TpuMlirQuantization, run_tpumlir_int8

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
INT8_MIN_COSINE = 0.99
"""Each net output of an int8 build must keep this cosine to PyTorch's.  int8 keeps ~8 bits per
tensor: faithful nets measured 0.998-0.9999 (benchmarks/bench_int8.py); a wrongly read layer
drops far lower (the fp16 judge's measured failures: 0.67, 0.95)."""
ONNX_MARGIN = 0.001
"""The Caffe route may lose at most this much output cosine against the toolchain's own ONNX route."""


class Int8Run(Protocol):
    """What a toolchain's int8 build computed (`RknnRun`, `TpuMlirInt8Run`): outputs by name for the probe,
    each tensor it exposes (`layers`, int8) beside its own float run of the same graph (`golden`), the
    outputs of each evaluation sample, or its refusal."""

    outputs: Mapping[str, np.ndarray]
    layers: Mapping[str, np.ndarray]
    golden: Mapping[str, np.ndarray]
    evaluated: tuple[Mapping[str, np.ndarray], ...]
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool: ...


Feeds = Mapping[str, np.ndarray]
Samples = Sequence[Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Int8Toolchain:
    """One toolchain's two int8 routes: how to run each, and how the report names them.

    `run_caffe(prototxt, caffemodel, feeds, quantization, evaluate, venv)` and
    `run_onnx(onnx, input_names, output_names, feeds, quantization, evaluate, venv)` build int8 and run
    the probe `feeds` and the `evaluate` samples; `golden` says what each layer's int8 value is held against.
    """

    backend: str
    title: str
    caffe_route: str
    onnx_route: str
    golden: str
    run_caffe: Callable[[Path, Path, Feeds, Any, Samples, PathLike | None], Int8Run]
    run_onnx: Callable[[Path, Sequence[str], Sequence[str], Feeds, Any, Samples, PathLike | None], Int8Run]


def _rknn_caffe(prototxt: Path, caffemodel: Path, feeds: Feeds, quantization: Any, evaluate: Samples,
                venv: PathLike | None) -> Int8Run:
    return run_rknn(prototxt, caffemodel, feeds, quantize=quantization, evaluate=evaluate, venv=venv)


def _rknn_onnx(onnx: Path, names_in: Sequence[str], names_out: Sequence[str], feeds: Feeds, quantization: Any,
               evaluate: Samples, venv: PathLike | None) -> Int8Run:
    return run_rknn_onnx(onnx, names_in, names_out, feeds, quantize=quantization, evaluate=evaluate, venv=venv)


def _tpumlir_caffe(prototxt: Path, caffemodel: Path, feeds: Feeds, quantization: Any, evaluate: Samples,
                   venv: PathLike | None) -> Int8Run:
    return run_tpumlir_int8(feeds, quantization, prototxt=prototxt, caffemodel=caffemodel, evaluate=evaluate,
                            venv=venv)


def _tpumlir_onnx(onnx: Path, names_in: Sequence[str], names_out: Sequence[str], feeds: Feeds, quantization: Any,
                  evaluate: Samples, venv: PathLike | None) -> Int8Run:
    return run_tpumlir_int8(feeds, quantization, onnx=onnx, input_names=names_in, output_names=names_out,
                            evaluate=evaluate, venv=venv)


RKNN = Int8Toolchain("rknn", "RKNN", "caffe (load_caffe)", "onnx (torch.onnx.export -> load_onnx)",
                     "RKNN's int8 simulation against its own float32 run of that layer", _rknn_caffe, _rknn_onnx)
TPU_MLIR = Int8Toolchain("tpu-mlir", "tpu-mlir", "caffe (model_transform from Caffe)",
                         "onnx (torch.onnx.export -> model_transform)",
                         "the int8 tpu-level MLIR against the fp32 top-level MLIR it was calibrated from",
                         _tpumlir_caffe, _tpumlir_onnx)
TOOLCHAINS: dict[type, Int8Toolchain] = {RknnQuantization: RKNN, TpuMlirQuantization: TPU_MLIR}
"""The toolchain each kind of quantization request is built by."""


def toolchain_of(quantization: object) -> Int8Toolchain:
    toolchain = TOOLCHAINS.get(type(quantization))
    if toolchain is None:
        raise PurecaffeError(f"no int8 toolchain takes a {type(quantization).__name__} (the toolchains take "
                             f"{', '.join(kind.__name__ for kind in TOOLCHAINS)})")
    return toolchain


@dataclass(frozen=True)
class Int8Comparison:
    """The Caffe route and (when run) the ONNX route, same calibration, same settings, same inputs."""

    name: str
    quantization: str
    caffe: RouteResult
    onnx: RouteResult | None
    caffe_run: Int8Run
    toolchain: Int8Toolchain

    @property
    def passed(self) -> bool:
        """Every output of the Caffe route at INT8_MIN_COSINE or better, and (with the ONNX route) no
        more than ONNX_MARGIN below that route."""
        worst = self.caffe.min_output_cosine
        if not self.caffe.ok or worst is None or worst < INT8_MIN_COSINE:
            return False
        gap = self.gap()
        return gap is None or gap >= -ONNX_MARGIN

    def summary(self) -> str:
        if not self.caffe.ok:
            return f"int8 on {self.toolchain.title} ({self.quantization}): the Caffe route failed: {self.caffe.error}"
        text = f"int8 on {self.toolchain.title} ({self.quantization}): output cosine {self.caffe.min_output_cosine:.5f}"
        if self.caffe.top1 is not None:
            text += f", top-1 {self.caffe.top1:.2f}, top-5 {self.caffe.topk:.2f}"
        if self.onnx is not None:
            if self.onnx.ok:
                text += f"; the ONNX route {self.onnx.min_output_cosine:.5f} (Caffe - ONNX {self.gap():+.5f})"
            else:
                text += f"; the ONNX route failed: {self.onnx.error}"
        worst = self.caffe.worst_layers(1)
        if worst:
            text += f"; worst layer {worst[0].layer} ({worst[0].cosine:.5f})"
        verdict = "INT8 OK" if self.passed else "INT8 FAILED"
        criterion = f"outputs >= {INT8_MIN_COSINE:g}" + (f", >= ONNX - {ONNX_MARGIN:g}" if self.onnx else "")
        return f"{verdict} ({criterion}): {text}"

    def gap(self) -> float | None:
        """Caffe route's worst output cosine minus the ONNX route's (negative: the Caffe route lost more)."""
        if self.onnx is None or not (self.caffe.ok and self.onnx.ok):
            return None
        return (self.caffe.min_output_cosine or 0.0) - (self.onnx.min_output_cosine or 0.0)


def int8_routes(model: Any, inputs: Sequence[Any], converted: PathLike, quantization: Any, *,
                evaluate: Sequence[Mapping[str, np.ndarray]] = (), onnx: bool = True,
                venv: PathLike | None = None) -> Int8Comparison:
    """Quantize and simulate the converted files (`converted`: their path prefix) and, with `onnx`, the
    same `model` through the toolchain's ONNX route; score both against PyTorch (see `purecaffe.int8`).

    The toolchain is the quantization's (`TOOLCHAINS`: `RknnQuantization` -> RKNN-Toolkit2,
    `TpuMlirQuantization` -> tpu-mlir).  `inputs` (torch tensors, model input order) is the probe
    run whose layers are dumped; `evaluate` samples ({input blob: array}) are run too and scored on
    outputs only (top-k for classifiers).
    """
    toolchain = toolchain_of(quantization)
    saved = output_paths(converted)
    for path in (saved.prototxt, saved.caffemodel):
        if not path.is_file():
            raise FormatError("missing: the int8 routes need the converted prototxt and caffemodel", path=path)
    sidecar = read_sidecar(saved.sidecar)
    names_in = [entry["blob"] for entry in sidecar["inputs"]]
    feeds = {name: np.ascontiguousarray(value.detach().cpu().numpy(), dtype=np.float32)
             for name, value in zip(names_in, inputs)}
    expected = _torch_outputs(model, [feeds], names_in)[0]
    evaluated_expected = _torch_outputs(model, evaluate, names_in)
    _, caffe_outputs = net_io_names(saved.prototxt)
    by_blob = {entry["blob"]: index for index, entry in enumerate(sidecar["outputs"])}
    caffe_run = toolchain.run_caffe(saved.prototxt, saved.caffemodel, feeds, quantization, evaluate, venv)
    caffe = _score("caffe", caffe_run, [by_blob[name] for name in caffe_outputs], caffe_outputs, expected,
                   evaluated_expected, names_in)
    onnx_result = None
    if onnx:
        with tempfile.TemporaryDirectory(prefix="purecaffe-onnx-") as scratch:
            onnx_path = Path(scratch) / f"{sidecar.get('name', 'net')}.onnx"
            _, onnx_outputs = export_onnx(model, tuple(inputs), onnx_path, input_names=names_in,
                                          output_count=len(expected))
            onnx_run = toolchain.run_onnx(onnx_path, names_in, onnx_outputs, feeds, quantization, evaluate, venv)
        onnx_result = _score("onnx", onnx_run, list(range(len(onnx_outputs))), onnx_outputs, expected,
                             evaluated_expected, names_in)
    return Int8Comparison(str(sidecar.get("name", saved.prototxt.stem)), quantization.describe(), caffe, onnx_result,
                          caffe_run, toolchain)


def rknn_int8(model: Any, inputs: Sequence[Any], converted: PathLike, quantization: RknnQuantization, *,
              evaluate: Sequence[Mapping[str, np.ndarray]] = (), onnx: bool = True,
              venv: PathLike | None = None) -> Int8Comparison:
    """`int8_routes` on RKNN-Toolkit2."""
    return int8_routes(model, inputs, converted, quantization, evaluate=evaluate, onnx=onnx, venv=venv)


def tpumlir_int8(model: Any, inputs: Sequence[Any], converted: PathLike, quantization: TpuMlirQuantization, *,
                 evaluate: Sequence[Mapping[str, np.ndarray]] = (), onnx: bool = True,
                 venv: PathLike | None = None) -> Int8Comparison:
    """`int8_routes` on tpu-mlir."""
    return int8_routes(model, inputs, converted, quantization, evaluate=evaluate, onnx=onnx, venv=venv)


def _torch_outputs(model: Any, samples: Sequence[Mapping[str, np.ndarray]], names_in: Sequence[str]
                   ) -> list[list[np.ndarray]]:
    """PyTorch's outputs (flattened, in output order) for each sample."""
    import torch
    from torch.utils._pytree import tree_flatten

    results = []
    with torch.no_grad():
        for sample in samples:
            produced = model(*(torch.from_numpy(np.asarray(sample[name], np.float32)) for name in names_in))
            leaves, _ = tree_flatten(produced)
            results.append([leaf.detach().cpu().numpy().astype(np.float32) for leaf in leaves
                            if isinstance(leaf, torch.Tensor)])
    return results


def _score(route: str, run: Int8Run, positions: Sequence[int], names: Sequence[str], expected: Sequence[np.ndarray],
           evaluated_expected: Sequence[Sequence[np.ndarray]], names_in: Sequence[str]) -> RouteResult:
    """Match the route's outputs (by `names`) to PyTorch's flattened outputs (at `positions`) and score."""
    if not run.ok:
        return RouteResult(route, error=run.error, seconds=run.seconds)
    want = {name: expected[position] for name, position in zip(names, positions)}
    evaluated_want = [{name: sample[position] for name, position in zip(names, positions)}
                      for sample in evaluated_expected]
    order = [name for name in run.layers if name not in names_in]
    return route_result(route, run.outputs, want, evaluated=run.evaluated, evaluated_expected=evaluated_want,
                        simulated=run.layers, golden=run.golden, order=order, seconds=run.seconds)


__all__ = ["INT8_MIN_COSINE", "Int8Comparison", "Int8Run", "Int8Toolchain", "ONNX_MARGIN", "RKNN", "TOOLCHAINS", "TPU_MLIR",
           "int8_routes", "rknn_int8", "toolchain_of", "tpumlir_int8"]
