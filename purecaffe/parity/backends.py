"""Where the Caffe side of a comparison comes from: per-layer blob snapshots.

Every backend returns `LayerOutputs`: for each layer, in execution order, the
value of each of its tops right after it ran (in-place chains give one entry
per layer), so a blob can be compared with the torch tensor at the exact point
the converter's sidecar names.

* `runtime`: purecaffe's in-process runtime with Caffe's semantics (default).
* `caffe`: real Caffe 1.0 (Docker image or Debian rootfs, see purecaffe.realcaffe).
* `opencv`: OpenCV DNN 4.x (`opencv-python-headless<5`), fusion off so every
  layer's own output is visible (a 1-D blob, which OpenCV 4's Mats of 2 axes or more hold as
  (n, 1), given its Caffe shape back).
* `rknn`: RKNN-Toolkit2's fp16 simulator (its own venv, see purecaffe.rknn).  It
  fuses layers (Convolution + BatchNorm + Scale, ...), so only the layers it kept
  are visible (`partial`): the others are not compared.
* `tpu-mlir`: Sophgo's tpu-mlir (its own Python 3.10 venv, see purecaffe.tpumlir): its Caffe
  front end and top-level fp32 interpreter, every tensor it kept after its fusions; with a
  `Deploy` (processor, quantize), the compiled model in the chip's simulator, its outputs only.
* `mnn`: MNN's Caffe converter and CPU runtime (fp32; its own venv, see purecaffe.mnn), every
  tensor its runtime computed after its fusions.

Given the net outputs in the model's order (`outputs`), the real consumers also read them the way
their users do (`reads`: real Caffe's `net.forward()` dict, OpenCV's `forward(names)` with default
fusion and `forward(getUnconnectedOutLayersNames())`, RKNN's `inference()` list by place): the
verdict on the outputs (`purecaffe.parity.reads`).
"""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from purecaffe.errors import BackendUnavailableError, PurecaffeError
from purecaffe.judgejob import JudgeRun
from purecaffe.parity.reads import OutputsRead, caffe_read, named_read, opencv_reads, positional_read
from purecaffe.runtime.shapes import infer_shapes
from purecaffe.tpumlir.judge import Deploy

if TYPE_CHECKING:
    from purecaffe.rknn import RknnRun

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

BACKENDS = ("runtime", "caffe", "opencv", "rknn", "tpu-mlir", "mnn")


@dataclass(frozen=True)
class LayerOutputs:
    """What a backend computed: per layer (in order) its tops' values, or why it refused the net."""

    backend: str
    layers: tuple[tuple[str, str, Mapping[str, np.ndarray]], ...]  # (layer, type, top -> value)
    error: str | None = None
    partial: bool = False  # True: a layer missing from `layers` was fused away, not skipped by mistake
    dropped: Mapping[str, str] = field(default_factory=dict)  # layer -> why the backend left it out (a failure)
    reads: tuple[OutputsRead, ...] = ()  # the net outputs as the consumer's users read them

    def after(self, layer: str) -> Mapping[str, np.ndarray] | None:
        for name, _, tops in self.layers:
            if name == layer:
                return tops
        return None


def run_backend(backend: str, prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray],
                *, caffe_backend: str = "auto", deploy: Deploy | None = None,
                outputs: Sequence[str] = (), options: Mapping[str, object] | None = None) -> LayerOutputs:
    """`deploy` (tpu-mlir only): compile for that processor and precision and judge the compiled model.
    `outputs`: the net's output blobs in the model's order, which the users' reads are judged by.
    `options` (mnn only): its runner's mode, e.g. {"winograd": False} (`Judge.diagnostic`)."""
    if deploy is not None and backend != "tpu-mlir":
        raise PurecaffeError(f"a processor/quantize mode is for the tpu-mlir backend, not {backend}")
    if options and backend != "mnn":
        raise PurecaffeError(f"run options {dict(options)} are for the mnn backend, not {backend}")
    if backend == "runtime":
        return _run_runtime(prototxt, caffemodel, inputs)
    if backend == "caffe":
        return _run_real_caffe(prototxt, caffemodel, inputs, caffe_backend, outputs)
    if backend == "opencv":
        return _run_opencv(prototxt, caffemodel, inputs, outputs)
    if backend == "rknn":
        return _run_rknn(prototxt, caffemodel, inputs, outputs)
    if backend == "tpu-mlir":
        from purecaffe.tpumlir import run_tpumlir

        run = run_tpumlir(prototxt, caffemodel, inputs, deploy=deploy)
        return _read_by_name(judge_outputs(run, prototxt, inputs, only_outputs=deploy is not None), run,
                             "tpu-mlir outputs by name", outputs)
    if backend == "mnn":
        from purecaffe.mnn import run_mnn

        run = run_mnn(prototxt, caffemodel, inputs, **dict(options or {}))  # type: ignore[arg-type]
        return _read_by_name(judge_outputs(run, prototxt, inputs), run, "mnn outputs by name", outputs)
    raise PurecaffeError(f"unknown verify backend {backend!r} (choose from {', '.join(BACKENDS)})")


def _read_by_name(snapshots: LayerOutputs, run: JudgeRun, call: str, outputs: Sequence[str]) -> LayerOutputs:
    """The users' read of a consumer that hands its outputs back by name (tpu-mlir, MNN)."""
    if not outputs or run.error:
        return snapshots
    return replace(snapshots, reads=(named_read(call, run.outputs, outputs),))


def _run_runtime(prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray]) -> LayerOutputs:
    from purecaffe.runtime import run

    try:
        result = run(str(prototxt), str(caffemodel), inputs)
    except PurecaffeError as error:  # the net cannot run (e.g. weights that don't fit): data, like Caffe's refusal
        return LayerOutputs("runtime", (), error=error.one_line())
    return LayerOutputs("runtime", tuple((step.name, step.type, dict(step.tops)) for step in result.steps))


def _run_real_caffe(prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray],
                    caffe_backend: str, outputs: Sequence[str]) -> LayerOutputs:
    from purecaffe.realcaffe import run_real_caffe

    result = run_real_caffe(prototxt, caffemodel, dict(inputs), backend=caffe_backend)
    name = f"caffe ({result.backend})"
    if result.error:
        return LayerOutputs(name, (), error=result.error)
    reads = (caffe_read(result.blobs, result.outputs, outputs),) if outputs else ()
    return LayerOutputs(name, tuple((snap.name, snap.type, dict(snap.outputs)) for snap in result.layers), reads=reads)


def _run_opencv(prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray],
                net_outputs: Sequence[str] = ()) -> LayerOutputs:
    """Every layer's output with fusion off (the diagnostic), and the users' reads with its default fusion."""
    try:
        import cv2
    except ImportError:
        raise BackendUnavailableError("the opencv backend needs OpenCV 4.x: pip install 'opencv-python-headless<5'") \
            from None
    if int(cv2.__version__.split(".")[0]) >= 5:
        raise BackendUnavailableError(f"OpenCV {cv2.__version__} has no Caffe importer (removed in 5.0); "
                                      f"pip install 'opencv-python-headless<5'")
    from purecaffe.io.prototxt import read_net as load_net

    net_param = load_net(prototxt)
    try:
        net = cv2.dnn.readNetFromCaffe(str(Path(prototxt)), str(Path(caffemodel)))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        net.enableFusion(False)
        for name, value in inputs.items():
            net.setInput(np.ascontiguousarray(value, dtype=np.float32), name)
        names = [layer.name for layer in net_param.layer if layer.type != "Input"]
        outputs = list(net.forwardAndRetrieve(names))
        # Asked for every layer at once, OpenCV still reuses the buffer of a multi-top layer's later
        # tops once their readers ran (measured: a ShuffleNet Slice's second top came back as another
        # blob's values while the net's output was right), so each such layer is fetched on its own.
        for index, layer in enumerate(layer for layer in net_param.layer if layer.type != "Input"):
            if len(layer.top) > 1:
                outputs[index] = net.forwardAndRetrieve([layer.name])[0]
    except cv2.error as error:
        text = " ".join(str(error).split())
        return LayerOutputs("opencv", (), error=f"OpenCV {cv2.__version__} refused the net: {text}")
    layers: list[tuple[str, str, Mapping[str, np.ndarray]]] = []
    computed = dict(zip(names, outputs))
    caffe_shapes = _low_rank_shapes(net_param, inputs)
    for layer in net_param.layer:
        if layer.type == "Input":  # OpenCV feeds inputs without running a layer: its tops are the inputs
            layers.append((layer.name, layer.type, {top: inputs[top] for top in layer.top if top in inputs}))
        else:
            values = computed[layer.name]
            layers.append((layer.name, layer.type, {top: _as_blob(np.asarray(v), caffe_shapes.get(top))
                                                    for top, v in zip(layer.top, values)}))
    reads = opencv_reads(cv2, prototxt, caffemodel, inputs, net_outputs) if net_outputs else ()
    return LayerOutputs(f"opencv {cv2.__version__}", tuple(layers), reads=reads)


def _low_rank_shapes(net_param: object, inputs: Mapping[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """The Caffe shape of every blob of fewer than 2 axes (by the runtime's shape inference; none where it fails)."""
    from purecaffe.runtime import infer_shapes

    try:
        shapes = infer_shapes(net_param, {name: np.shape(value) for name, value in inputs.items()}).blobs
    except PurecaffeError:
        return {}
    return {name: tuple(shape) for name, shape in shapes.items() if len(shape) < 2}


def _as_blob(value: np.ndarray, caffe_shape: tuple[int, ...] | None) -> np.ndarray:
    """OpenCV 4.x hands every blob back as a Mat of at least 2 axes: a 1-D (n,) blob comes back as (n, 1), the
    same values in the same order (measured: `mean` of (1, 99) values as (1, 1)).  Such a blob is given its
    Caffe shape again; any other mismatch stays for the comparison to report."""
    if caffe_shape is not None and value.ndim == 2 and value.size == int(np.prod(caffe_shape)) and \
            value.shape[1] == 1:
        return value.reshape(caffe_shape)
    return value


def _run_rknn(prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray],
              outputs: Sequence[str] = ()) -> LayerOutputs:
    """RKNN's per-layer dump (by Caffe layer name) for the layers it kept, its inference outputs for the net's."""
    from purecaffe.rknn import run_rknn

    return rknn_layer_outputs(run_rknn(prototxt, caffemodel, inputs), prototxt, inputs, "fp16 simulator",
                              outputs=outputs)


def rknn_layer_outputs(run: RknnRun, prototxt: PathLike, inputs: Mapping[str, np.ndarray],
                       mode: str, *, outputs: Sequence[str] = ()) -> LayerOutputs:
    """An RKNN run as per-layer snapshots: the dump by Caffe layer name, the outputs at their last writer
    (in the order RKNN lists them); with `outputs`, `inference()`'s list read by place as board code does."""
    from purecaffe.io.prototxt import read_net

    consumer = f"rknn {run.version} ({mode})"
    if run.error:
        return LayerOutputs(consumer, (), error=f"RKNN-Toolkit2 {run.version} refused the net: {run.error}")
    net = read_net(prototxt)
    tops = {layer.name: layer.top[0] for layer in net.layer if len(layer.top) == 1}
    shapes = infer_shapes(net, {name: value.shape for name, value in inputs.items()}).blobs
    layers = {}
    for name, value in run.layers.items():
        if name not in tops:
            continue
        if tuple(value.shape) != tuple(shapes[tops[name]]) and value.size == math.prod(shapes[tops[name]]):
            # RKNN folded a Permute into its neighbours: the tensor under this name holds the values in another
            # order, not the Caffe blob (measured: EfficientViT's transposes); the outputs, read by place, judge.
            log.debug("rknn: %s dumped as %s, the blob is %s: not compared", name, value.shape, shapes[tops[name]])
            continue
        layers[name] = {tops[name]: value}
    judged = JudgeRun(consumer, outputs=run.outputs, layers=layers, version=run.version)
    snapshots = judge_outputs(judged, prototxt, inputs, dropped=run.dropped)
    if not outputs:
        return snapshots
    return replace(snapshots, reads=(positional_read("rknn inference()", run.positional),))


def judge_outputs(run: JudgeRun, prototxt: PathLike, inputs: Mapping[str, np.ndarray], *,
                  only_outputs: bool = False, dropped: Mapping[str, str] | None = None) -> LayerOutputs:
    """A consumer's run as per-layer snapshots: the tensors it exposes, and the net outputs (as its users read
    them) at the layer that wrote them last.  `only_outputs`: the outputs alone (a compiled model);
    `dropped`: layers the consumer left out (each a failure, with its message)."""
    from purecaffe.io.prototxt import read_net

    if run.error:
        return LayerOutputs(run.consumer, (), error=f"{run.consumer} refused the net: {run.error}")
    net = read_net(prototxt)
    last_writer = {top: layer.name for layer in net.layer for top in layer.top}
    layers: list[tuple[str, str, Mapping[str, np.ndarray]]] = []
    for layer in net.layer:
        tops: dict[str, np.ndarray] = {}
        if layer.type == "Input":
            tops = {top: inputs[top] for top in layer.top if top in inputs}
        elif not only_outputs:
            tops = dict(run.layers.get(layer.name, {}))
        for top in layer.top:
            if top in run.outputs and last_writer[top] == layer.name:
                tops[top] = run.outputs[top]
        if tops:
            layers.append((layer.name, layer.type, tops))
    return LayerOutputs(run.consumer, tuple(layers), partial=True, dropped=dict(dropped or {}))
