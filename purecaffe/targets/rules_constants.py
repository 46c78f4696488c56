"""Constant blobs on targets without a Parameter layer: a Convolution of a blob already there.

A constant the net uses as a tensor of its own (a `cat` part: ENet's zero channels padding a
downsampled map, `x = cat(pooled, zeros)`) is a Parameter layer (`_support.tensor_blob`).  OpenCV
cannot create one ("Can't create layer ... of type Parameter", measured with 4.14), and RKNN-Toolkit2,
tpu-mlir and MNN have none in their Caffe front ends (the targets rknn, sophgo and mnn, each judged on its
consumer by tests/targets/test_rules.py and test_rules_sophgo_mnn.py, cases `cat_*`).  Where the
constant is 4-D and varies along channels alone (c[n, k, i, j] = v[k]), it becomes a 1x1
Convolution of any earlier 4-D blob x with its batch, height and width (the reader's other bottom
first: the Concat's sibling), all weights 0 and the bias v:

    out[n, k, i, j] = sum_c 0 * x[n, c, i, j] + v[k] = v[k]

exact for finite x (0 * x is +-0, and +-0 + v is v); an inf or NaN in x would give NaN.  Its
weights are num_output x channels(x) zeros plus v, instead of the whole constant.  Any other constant
of batch 1 (a ViT's class token and position embedding, DeiT's and ViTSTR's) is flattened into the
channels of such a Convolution, of a global MAX pooling of an earlier 4-D blob of batch 1 (finite
wherever that blob is), and Reshaped back: its weights are then the constant's size x channels zeros.

This needs the net, not one layer (the blob to read), so it is a net rule (`Target.net_rules`, run
before the layer rules); `parameter_declined` is the layer rule that explains, in the refusal, a
Parameter it leaves.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, builders
from purecaffe.targets.target import Declined, Outcome, Target

# A constant's Convolution costs its channels x the read blob's channels zero weights; past this many the
# Parameter is left (and refused).
MAX_ZERO_WEIGHTS = 1 << 22

WHY = ("only a constant varying along channels alone (with an earlier blob of its batch, height and width) or of "
       "batch 1 (with an earlier 4-D blob of batch 1) becomes a Convolution (zero weights, the constant as bias), "
       f"of at most {MAX_ZERO_WEIGHTS} weights")


def channel_values(layer: CaffeLayer) -> np.ndarray | None:
    """v when the Parameter's value is 4-D and c[n, k, i, j] = v[k] (equal as floats; NaN never is), else None."""
    if layer.type != "Parameter" or len(layer.weights) != 1:
        return None
    value = np.asarray(layer.weights[0], dtype=np.float32)
    if value.ndim != 4 or value.size == 0:
        return None
    first = value[:1, :, :1, :1]
    return first.reshape(-1).copy() if bool(np.all(value == first)) else None


def _source(layers: Sequence[CaffeLayer], reader: int, constant: Blob) -> Blob | None:
    """A 4-D blob of the constant's batch, height and width available at layer `reader`: that reader's
    other bottoms first, then the tops before it, the latest first."""
    n, _, h, w = constant.shape

    def fits(blob: Blob) -> bool:
        return blob.name != constant.name and len(blob.shape) == 4 and \
            (blob.shape[0], blob.shape[2], blob.shape[3]) == (n, h, w)

    for blob in layers[reader].bottoms:
        if fits(blob):
            return blob
    for layer in reversed(layers[:reader]):
        for blob in layer.tops:
            if fits(blob):
                return blob
    return None


def parameters_as_convolutions(layers: Sequence[CaffeLayer], target: Target) -> list[CaffeLayer]:
    """Each Parameter the target lacks -> a zero-weight 1x1 Convolution (bias: the values), placed just
    before its first reader:

    * a value varying along channels alone: of a blob of its batch, height and width (`_source`);
    * any other value of batch 1 (a ViT's class token and position embedding): its values flattened into
      the channels of a (1, K, 1, 1) Convolution of a global MAX pooling of an earlier 4-D blob of batch 1
      (the maximum of finite values is finite, so 0 x it is 0), then Reshaped to the constant's shape.

    A Parameter without such a blob, or past `MAX_ZERO_WEIGHTS`, is left for `checks` to refuse."""
    if target.has("Parameter") or not target.has("Convolution"):
        return list(layers)
    current = list(layers)
    for parameter in [layer for layer in current if layer.type == "Parameter"]:
        readers = [i for i, layer in enumerate(current) if parameter.top.name in layer.bottom_names]
        if not readers:
            continue
        made = _channel_constant(current, readers[0], parameter)
        if made is None and target.has("Pooling") and target.has("Reshape"):
            made = _flattened_constant(current, readers[0], parameter)
        if made is None:
            continue
        made = [dataclasses.replace(layer, origin=parameter.origin) for layer in made]
        first = current[readers[0]]
        current = [layer for layer in current if layer is not parameter]
        at = next(i for i, layer in enumerate(current) if layer is first)
        current[at:at] = made
    return current


def _channel_constant(layers: Sequence[CaffeLayer], reader: int, parameter: CaffeLayer) -> list[CaffeLayer] | None:
    values = channel_values(parameter)
    if values is None:
        return None
    source = _source(layers, reader, parameter.top)
    if source is None or values.size * source.shape[1] > MAX_ZERO_WEIGHTS:
        return None
    conv = builders.convolution(parameter.name, source, parameter.top.name, num_output=int(values.size),
                                kernel=1).with_weights(
        [np.zeros((values.size, source.shape[1], 1, 1), dtype=np.float32), values])
    return [conv] if conv.top == parameter.top else None  # same N, H, W and C = values.size: always equal


def _flattened_constant(layers: Sequence[CaffeLayer], reader: int, parameter: CaffeLayer) -> list[CaffeLayer] | None:
    if len(parameter.weights) != 1:
        return None
    value = np.asarray(parameter.weights[0], dtype=np.float32)
    if value.size == 0 or value.ndim == 0 or value.shape[0] != 1:
        return None
    source = next((blob for layer in reversed(layers[:reader]) for blob in layer.tops
                   if len(blob.shape) == 4 and blob.shape[0] == 1 and blob.name != parameter.top.name), None)
    if source is None or value.size * source.shape[1] > MAX_ZERO_WEIGHTS:
        return None
    name = parameter.name
    pooled = builders.pooling(f"{name}/anchor", source, f"{name}/anchor", method="MAX", global_pooling=True)
    conv = builders.convolution(f"{name}/values", pooled.top, f"{name}/values", num_output=int(value.size),
                                kernel=1).with_weights(
        [np.zeros((value.size, source.shape[1], 1, 1), dtype=np.float32), value.reshape(-1).copy()])
    back = builders.reshape_to(name, conv.top, parameter.top.name, tuple(int(d) for d in parameter.top.shape))
    return [pooled, conv, back] if back.top == parameter.top else None


def parameter_declined(layer: CaffeLayer, target: Target) -> Outcome:
    """Why a Parameter is still there on a target without Parameter (`parameters_as_convolutions` left it)."""
    if layer.type != "Parameter" or target.has("Parameter"):
        return None
    return Declined(WHY)


__all__ = ["MAX_ZERO_WEIGHTS", "channel_values", "parameter_declined", "parameters_as_convolutions"]
