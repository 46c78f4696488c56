"""The public weight I/O: caffemodel <-> ordered dict of layer name -> float32 arrays."""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from google.protobuf.message import Message

from purecaffe.errors import PurecaffeError
from purecaffe.io.caffemodel import WeightLayer, read_caffemodel, write_caffemodel
from purecaffe.io.netspec import layers_by_name
from purecaffe.schema import CaffeSchema

PathLike = str | os.PathLike[str]
Weights = dict[str, list[np.ndarray]]


def load_weights(path: PathLike, *, net: Message | None = None, schema: CaffeSchema | None = None) -> Weights:
    """Parameter blobs of every layer that has any, in file order, shapes as Caffe's layers own them.

    Layers without blobs (data, loss, activation layers of a training net) are
    left out; a layer name stored twice keeps the later blobs, as Caffe does when
    it copies weights into a net by name.  With `net` (e.g. the deploy net of a
    caffemodel that stores the training net), only layers of `net` are kept, in
    the net's order: Caffe's own rule for matching weights to a net.
    """
    model = read_caffemodel(path, schema=schema)
    weights: Weights = {}
    for layer in model.layers:
        if layer.blobs:
            weights[layer.name] = list(layer.blobs)
    if net is not None:
        weights = {layer.name: weights[layer.name] for layer in net.layer if layer.name in weights}
    return weights


def save_weights(path: PathLike, weights: Mapping[str, Sequence[np.ndarray]], net: Message | None = None,
                 *, name: str | None = None) -> int:
    """Write `weights` as a V2 caffemodel; returns its size in bytes.

    With `net` (a NetParameter), each layer gets the net's type, bottoms and tops,
    layers are written in the net's order, and a weights entry naming no layer of
    the net is an error (Caffe would silently ignore it).
    """
    layers: list[WeightLayer] = []
    if net is None:
        for layer_name, blobs in weights.items():
            layers.append(WeightLayer(name=layer_name, type="", bottoms=(), tops=(),
                                      blobs=tuple(np.asarray(b) for b in blobs)))
        return write_caffemodel(path, layers, name=name or "")
    known = layers_by_name(net)
    unknown = [layer_name for layer_name in weights if layer_name not in known]
    if unknown:
        raise PurecaffeError(f"weights for layers the net does not have: {', '.join(unknown[:10])}"
                             f"{' ...' if len(unknown) > 10 else ''}", path=path)
    for layer in net.layer:
        if layer.name in weights:
            layers.append(WeightLayer(name=layer.name, type=layer.type, bottoms=tuple(layer.bottom),
                                      tops=tuple(layer.top),
                                      blobs=tuple(np.asarray(b) for b in weights[layer.name])))
    return write_caffemodel(path, layers, name=name if name is not None else net.name)
