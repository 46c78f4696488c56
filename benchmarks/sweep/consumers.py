"""Each target's real consumer, called the way its users call it.

* bvlc, caffe1: real Caffe 1.0 (Debian's python3-caffe), net outputs read by blob name;
* opencv: `cv2.dnn.readNetFromCaffe`, default backend and fusion, `forward(list of output names)`
  (OpenCV takes those as layer names), values in the order asked for;
* rknn: RKNN-Toolkit2 2.5's fp16 simulator, `inference()`'s list taken BY POSITION (what board code
  does): `RknnRun.positional`, as many tensors as RKNN returned;
* nnie: no public consumer: purecaffe's Caffe-semantics runtime, by blob name;
* sophgo: tpu-mlir 1.30.2's `model_transform` and its top-level fp32 interpreter, the values its MLIR
  returns, by blob name (its front end returns the prototxt's outputs, in their order);
* mnn: MNNConvert and MNN 3.6.1's CPU runtime (fp32), outputs by blob name.

A consumer that refuses the file gives `Consumed.error` (its own words); anything else raised is left
to the caller (a CRASH).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from purecaffe.targets import TARGETS

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Consumed:
    """What the consumer handed back: `outputs` in the order the user receives them."""

    outputs: tuple[np.ndarray, ...] = ()
    error: str | None = None
    positional: bool = False  # True: outputs[i] is whatever the consumer put at position i
    notes: Mapping[str, object] = field(default_factory=dict)


def caffe_output_order(prototxt: PathLike) -> list[str]:
    """The blobs no later layer reads, in their last writers' order: what RKNN and OpenCV list (real
    Caffe's own `net.outputs` has the same blobs sorted by name)."""
    from purecaffe.rknn import net_io_names

    return net_io_names(prototxt)[1]


def run_real_caffe(prototxt: Path, caffemodel: Path, inputs: Mapping[str, np.ndarray], outputs: Sequence[str],
                   backend: str) -> Consumed:
    from purecaffe import run_real_caffe as real_caffe

    run = real_caffe(prototxt, caffemodel, inputs, backend=backend, snapshots=False)
    notes = {"caffe_outputs": caffe_output_order(prototxt)}
    if not run.ok:
        return Consumed(error=" ".join(str(run.error).split())[:600], notes=notes)
    missing = [name for name in outputs if name not in run.blobs]
    if missing:
        return Consumed(error=f"real Caffe has no blob {', '.join(missing)}", notes=notes)
    return Consumed(outputs=tuple(np.asarray(run.blobs[name]) for name in outputs), notes=notes)


def run_runtime(prototxt: Path, caffemodel: Path, inputs: Mapping[str, np.ndarray],
                outputs: Sequence[str]) -> Consumed:
    import purecaffe

    result = purecaffe.run(str(prototxt), str(caffemodel), dict(inputs), keep_steps=False)
    return Consumed(outputs=tuple(np.asarray(result.blobs[name]) for name in outputs),
                    notes={"caffe_outputs": caffe_output_order(prototxt)})


def run_opencv(prototxt: Path, caffemodel: Path, inputs: Mapping[str, np.ndarray],
               outputs: Sequence[str]) -> Consumed:
    import cv2

    try:
        net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        for name, value in inputs.items():
            net.setInput(np.ascontiguousarray(value, dtype=np.float32), name)
        unconnected = list(net.getUnconnectedOutLayersNames())
        values = net.forward(list(outputs))
    except cv2.error as error:
        text = " ".join(str(error).split())
        return Consumed(error=f"OpenCV {cv2.__version__}: {text[:600]}")
    return Consumed(outputs=tuple(np.asarray(v) for v in values), notes={"opencv_unconnected": unconnected})


def run_rknn(prototxt: Path, caffemodel: Path, inputs: Mapping[str, np.ndarray], outputs: Sequence[str],
             venv: PathLike | None) -> Consumed:
    from purecaffe.rknn import run_rknn as rknn

    run = rknn(prototxt, caffemodel, inputs, dump_layers=False, venv=venv)
    notes: dict[str, object] = {"caffe_outputs": caffe_output_order(prototxt)}
    if run.dropped:
        notes["rknn_left_out_layers"] = sorted(run.dropped)
    if not run.ok:
        return Consumed(error=f"RKNN {run.stage}: {' '.join(str(run.error).split())[:600]}", notes=notes)
    return Consumed(outputs=tuple(np.asarray(v) for v in run.positional), positional=True, notes=notes)


def run_tpumlir(prototxt: Path, caffemodel: Path, inputs: Mapping[str, np.ndarray],
                outputs: Sequence[str]) -> Consumed:
    from purecaffe.tpumlir import run_tpumlir as tpumlir

    run = tpumlir(prototxt, caffemodel, inputs, dump_layers=False)
    notes: dict[str, object] = {"caffe_outputs": caffe_output_order(prototxt)}
    if not run.ok:
        return Consumed(error=f"tpu-mlir {run.stage}: {' '.join(str(run.error).split())[:600]}", notes=notes)
    return Consumed(outputs=tuple(np.asarray(run.outputs[name]) for name in outputs), notes=notes)


def run_mnn(prototxt: Path, caffemodel: Path, inputs: Mapping[str, np.ndarray], outputs: Sequence[str],
            options: Mapping[str, object]) -> Consumed:
    from purecaffe.mnn import run_mnn as mnn

    run = mnn(prototxt, caffemodel, inputs, dump_layers=False, **options)  # type: ignore[arg-type]
    notes: dict[str, object] = {"caffe_outputs": caffe_output_order(prototxt)}
    if not run.ok:
        return Consumed(error=f"MNN {run.stage}: {' '.join(str(run.error).split())[:600]}", notes=notes)
    return Consumed(outputs=tuple(np.asarray(run.outputs[name]) for name in outputs), notes=notes)


def consume(target: str, prototxt: Path, caffemodel: Path, inputs: Mapping[str, np.ndarray],
            outputs: Sequence[str], *, caffe_backend: str, rknn_venv: PathLike | None,
            options: Mapping[str, object] | None = None) -> Consumed:
    """Run the file on the target's judge (the catalog's `Target.judge`), the user's way; `options`: the
    judge's diagnostic mode (`Judge.diagnostic.options`, e.g. MNN with Winograd off)."""
    backend = TARGETS[target].judge.backend
    if options and backend != "mnn":
        raise ValueError(f"the sweep's runner for {backend!r} takes no options ({dict(options)})")
    if backend == "caffe":
        return run_real_caffe(prototxt, caffemodel, inputs, outputs, caffe_backend)
    if backend == "opencv":
        return run_opencv(prototxt, caffemodel, inputs, outputs)
    if backend == "rknn":
        return run_rknn(prototxt, caffemodel, inputs, outputs, rknn_venv)
    if backend == "runtime":
        return run_runtime(prototxt, caffemodel, inputs, outputs)
    if backend == "tpu-mlir":
        return run_tpumlir(prototxt, caffemodel, inputs, outputs)
    if backend == "mnn":
        return run_mnn(prototxt, caffemodel, inputs, outputs, options or {})
    raise ValueError(f"the sweep has no runner for {target!r}'s judge {backend!r}")
