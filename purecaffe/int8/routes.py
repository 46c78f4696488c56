"""Both int8 routes on RKNN-Toolkit2: the converted Caffe files, and `torch.onnx.export` -> `load_onnx`."""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from purecaffe.errors import FormatError
from purecaffe.int8.measure import RouteResult, route_result
from purecaffe.int8.onnx_route import export_onnx
from purecaffe.io.sidecar import output_paths, read_sidecar
from purecaffe.rknn.judge import RknnQuantization, RknnRun, net_io_names, run_rknn, run_rknn_onnx

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
INT8_MIN_COSINE = 0.99
"""Each net output of an int8 build must keep this cosine to PyTorch's.  int8 keeps ~8 bits per
tensor: faithful nets measured 0.998-0.9999 (benchmarks/bench_int8.py); a wrongly read layer
drops far lower (the fp16 judge's measured failures: 0.67, 0.95)."""
ONNX_MARGIN = 0.001
"""The Caffe route may lose at most this much output cosine against the toolchain's own ONNX route."""


@dataclass(frozen=True)
class Int8Comparison:
    """The Caffe route and (when run) the ONNX route, same calibration, same settings, same inputs."""

    name: str
    quantization: str
    caffe: RouteResult
    onnx: RouteResult | None
    caffe_run: RknnRun

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
            return f"int8 ({self.quantization}): the Caffe route failed: {self.caffe.error}"
        text = f"int8 ({self.quantization}): output cosine {self.caffe.min_output_cosine:.5f}"
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


def rknn_int8(model: Any, inputs: Sequence[Any], converted: PathLike, quantization: RknnQuantization, *,
              evaluate: Sequence[Mapping[str, np.ndarray]] = (), onnx: bool = True,
              venv: PathLike | None = None) -> Int8Comparison:
    """Quantize and simulate the converted files (`converted`: their path prefix) and, with `onnx`, the
    same `model` through the ONNX route; score both against PyTorch (see `purecaffe.int8`).

    `inputs` (torch tensors, model input order) is the probe run whose layers are dumped; `evaluate`
    samples ({input blob: array}) are run too and scored on outputs only (top-k for classifiers).
    """
    import torch

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
    caffe_run = run_rknn(saved.prototxt, saved.caffemodel, feeds, quantize=quantization, evaluate=evaluate, venv=venv)
    caffe = _score("caffe", caffe_run, [by_blob[name] for name in caffe_outputs], caffe_outputs, expected,
                   evaluated_expected, names_in)
    onnx_result = None
    if onnx:
        with tempfile.TemporaryDirectory(prefix="purecaffe-onnx-") as scratch:
            onnx_path = Path(scratch) / f"{sidecar.get('name', 'net')}.onnx"
            _, onnx_outputs = export_onnx(model, tuple(inputs), onnx_path, input_names=names_in,
                                          output_count=len(expected))
            onnx_run = run_rknn_onnx(onnx_path, names_in, onnx_outputs, feeds, quantize=quantization,
                                     evaluate=evaluate, venv=venv)
        onnx_result = _score("onnx", onnx_run, list(range(len(onnx_outputs))), onnx_outputs, expected,
                             evaluated_expected, names_in)
    return Int8Comparison(str(sidecar.get("name", saved.prototxt.stem)), quantization.describe(), caffe, onnx_result,
                          caffe_run)


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


def _score(route: str, run: RknnRun, positions: Sequence[int], names: Sequence[str], expected: Sequence[np.ndarray],
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


__all__ = ["Int8Comparison", "rknn_int8"]
