"""The reference forward pass: an interpreter over the planned TEST-phase layers.

Shaped like torch.fx's Interpreter: `Interpreter.run(inputs)` walks the layers and calls
`run_layer` for each; an exception inside a layer is re-raised with the layer's name and
type in front of its message.  Blobs live in a dict keyed by blob name: a layer's tops
replace whatever the name held, so an in-place layer (`top == bottom`) changes what later
layers and the final result see, as in Caffe.  Layer functions never modify their inputs,
so sharing arrays between names (Split, Dropout, Flatten) is safe and Caffe's automatic
Split insertion is not needed.

`fp16_storage=True` runs the net the way an fp16 NPU stores it (RKNN's): the net inputs, every
layer's parameters and every top are rounded to float16 (round to nearest even) as they are
stored, while each layer still computes in float32 (fp32 accumulation).  It is the reference an
fp16 consumer is judged against (`purecaffe.parity`); the distance from it to PyTorch's float32
values is what fp16 storage costs, not a fault of the consumer.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from google.protobuf.message import Message

from purecaffe.errors import PurecaffeError, ShapeError, UnsupportedError
from purecaffe.runtime.layers.base import LayerProblem, Shape, Tensor, format_shape
from purecaffe.runtime.plan import PlannedLayer, load_net_arg, plan_net
from purecaffe.runtime.shapes import ShapeInference, infer_planned

log = logging.getLogger(__name__)

Weights = Mapping[str, Sequence[object]]


@dataclass(frozen=True)
class LayerStep:
    """The tops of one layer right after it ran (later in-place layers do not change them)."""

    name: str
    type: str
    tops: tuple[tuple[str, np.ndarray], ...]


@dataclass(frozen=True)
class RunResult:
    """Result of `run` (treat the dicts as read-only).

    blobs: blob name -> float32 value after the whole forward pass (the last writer wins,
    so an in-place chain leaves the value after its last layer, as Caffe's blobs do).
    steps: one LayerStep per layer in execution order.  shapes: the shape inference the run
    was checked against.
    """

    blobs: dict[str, np.ndarray]
    steps: tuple[LayerStep, ...]
    shapes: ShapeInference

    def step(self, layer_name: str) -> LayerStep:
        for step in self.steps:
            if step.name == layer_name:
                return step
        raise KeyError(layer_name)


def _as_tensor(value: object, *, copy: bool = False) -> Tensor:
    """A float32 tensor of `value`; with `copy`, never sharing the caller's memory."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().to(torch.float32).contiguous()
        return tensor.clone() if copy and tensor.data_ptr() == value.data_ptr() else tensor
    array = np.array(value, dtype=np.float32, order="C", copy=copy or None)
    if not array.flags.writeable:  # torch.from_numpy wants writable memory (the runtime never writes it)
        array = array.copy()
    return torch.from_numpy(array)


def _legacy_padded(shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(d) for d in shape)
    return (1,) * (4 - len(shape)) + shape if len(shape) <= 4 else shape


def layer_blobs(layer: PlannedLayer, expected: Sequence[Shape], weights: Weights) -> list[Tensor]:
    """The parameter blobs of `layer` from `weights`, checked against Caffe's shapes.

    A stored shape is accepted if it equals the expected one, or if both agree as legacy
    4-D shapes (Caffe's Blob::ShapeEquals for old num/channels/height/width blobs).
    """
    if not expected:
        return []
    stored = weights.get(layer.name)
    wanted = ", ".join(format_shape(s) for s in expected)
    if stored is None:
        raise PurecaffeError(f"needs {len(expected)} parameter blob(s) [{wanted}] but the weights have "
                             f"none for this layer", place=layer.place)
    if layer.kind is not None and layer.kind.stored is not None:  # a fork's layout (OpenCV's LSTM)
        try:
            stored = list(layer.kind.stored([_as_tensor(v) for v in stored], expected))
        except LayerProblem as problem:
            raise PurecaffeError(str(problem), place=layer.place) from None
    if len(stored) != len(expected):
        raise PurecaffeError(f"needs {len(expected)} parameter blob(s) [{wanted}] but the weights have "
                             f"{len(stored)}", place=layer.place)
    blobs = []
    for index, (value, shape) in enumerate(zip(stored, expected)):
        tensor = _as_tensor(value)
        if tuple(tensor.shape) != tuple(shape):
            if _legacy_padded(tensor.shape) != _legacy_padded(shape):
                raise ShapeError(f"parameter blob {index} has shape {format_shape(tensor.shape)}, Caffe "
                                 f"allocates {format_shape(shape)}", place=layer.place)
            tensor = tensor.reshape(shape)
        blobs.append(tensor)
    return blobs


class Interpreter:
    """Runs a net's TEST-phase forward pass with Caffe's semantics."""

    def __init__(self, net: Message, weights: Weights, *, keep_steps: bool = True, fp16_storage: bool = False) -> None:
        self.net = net
        self.layers = plan_net(net)
        self.weights = weights
        self.keep_steps = keep_steps
        self.fp16_storage = fp16_storage

    def stored(self, value: Tensor) -> Tensor:
        """A blob as it is stored: unchanged in float32, rounded to float16 (held as float32) in fp16 storage."""
        return value.to(torch.float16).to(torch.float32) if self.fp16_storage else value

    def run(self, inputs: Mapping[str, object]) -> RunResult:
        feeds = {name: self.stored(_as_tensor(value, copy=True)) for name, value in inputs.items()}
        shapes = infer_planned(self.net, self.layers, {name: tuple(t.shape) for name, t in feeds.items()})
        missing = [name for name in shapes.inputs if name not in feeds]
        if missing:
            raise PurecaffeError(f"no value given for net input(s) {', '.join(missing)}")
        env: dict[str, Tensor] = {name: feeds[name] for name in self.net.input}
        steps: list[LayerStep] = []
        with torch.inference_mode():
            for layer, shape_step in zip(self.layers, shapes.steps):
                blobs = [self.stored(blob) for blob in layer_blobs(layer, shape_step.params, self.weights)]
                tops = [self.stored(top) for top in self.run_layer(layer, env, blobs, feeds)]
                for (top_name, expected), value in zip(shape_step.tops, tops):
                    if tuple(value.shape) != tuple(expected):
                        raise ShapeError(f"top '{top_name}' came out {format_shape(value.shape)}, shape "
                                         f"inference said {format_shape(expected)}", place=layer.place)
                    env[top_name] = value
                if self.keep_steps:
                    snapshot = tuple((name, _to_numpy(value)) for name, value in zip(layer.tops, tops))
                    steps.append(LayerStep(layer.name, layer.type, snapshot))
        blobs_out = {name: _to_numpy(value) for name, value in env.items()}
        log.debug("ran %d layers", len(self.layers))
        return RunResult(blobs=blobs_out, steps=tuple(steps), shapes=shapes)

    def run_layer(self, layer: PlannedLayer, env: Mapping[str, Tensor], blobs: Sequence[Tensor],
                  feeds: Mapping[str, Tensor]) -> list[Tensor]:
        """Run one layer on the current blobs; errors name the layer and its type."""
        if layer.kind is None:
            return [feeds[top] for top in layer.tops]
        kind = layer.kind
        if kind.forward is None:
            raise UnsupportedError("has no forward in the runtime (shape inference only)",
                                   place=layer.place)
        bottoms = [env[name] for name in layer.bottoms]
        kwargs = dict(layer.kwargs)
        if kind.takes_blobs:
            kwargs["blobs"] = blobs
        if kind.forward_wants_tops:
            kwargs["n_tops"] = len(layer.tops)
        try:
            return list(kind.forward(bottoms, **kwargs))
        except LayerProblem as problem:
            raise PurecaffeError(str(problem), place=layer.place) from None
        except PurecaffeError as error:
            if error.place is None:
                error.place = layer.place
                error.args = (error.one_line(),)
            raise
        except Exception as error:
            message = f"while running {layer.place}"
            error.args = (f"{message}: {error.args[0]}" if error.args else message, *error.args[1:])
            raise


def _to_numpy(value: Tensor) -> np.ndarray:
    return value.detach().numpy()


def run(prototxt: Message | str, caffemodel: Weights | str | None, inputs: Mapping[str, object], *,
        keep_steps: bool = True, fp16_storage: bool = False) -> RunResult:
    """Forward `inputs` (input name -> array) through a Caffe net with Caffe's semantics.

    `prototxt` is a path or a NetParameter; `caffemodel` a path, a weights dict (layer name ->
    list of arrays, as `purecaffe.load_weights` returns), or None for a net without parameters.
    Weights are matched by layer name; entries for layers not in the net are ignored.
    `keep_steps=False` skips the per-layer snapshots (less memory on big nets).  `fp16_storage`:
    inputs, parameters and every top rounded to float16 as stored, float32 arithmetic (`Interpreter`).
    """
    net = load_net_arg(prototxt)
    if caffemodel is None:
        weights: Weights = {}
    elif isinstance(caffemodel, Mapping):
        weights = caffemodel
    else:
        from purecaffe.io.weights import load_weights
        weights = load_weights(caffemodel)
    return Interpreter(net, weights, keep_steps=keep_steps, fp16_storage=fp16_storage).run(inputs)
