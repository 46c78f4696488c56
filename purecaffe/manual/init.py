"""`init`: a caffemodel with every parameter blob shaped as Caffe allocates it, filled as Caffe fills it."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import numpy as np
from google.protobuf.message import Message

from purecaffe.errors import PurecaffeError, UnsupportedError
from purecaffe.io.prototxt import read_net
from purecaffe.io.weights import save_weights
from purecaffe.manual.fillers import FillerError, fill
from purecaffe.manual.seeding import blob_rng
from purecaffe.manual.shapes import net_param_shapes
from purecaffe.manual.transforms import fmt_shape
from purecaffe.manual.units import caffe_side

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
Weights = dict[str, list[np.ndarray]]


def init_weights(prototxt: PathLike | Message, output: PathLike | None = None, seed: int = 0, *,
                 input_shapes: Mapping[str, Sequence[int]] | None = None) -> Weights:
    """Every parameter blob of the net, filled by the layer's declared (or Caffe's default) filler.

    Deterministic for `seed`; each blob has its own stream, so adding a layer
    does not change the others.  Blobs shared by `param { name }` are one array
    (as Caffe shares them).  With `output`, the weights are also written as a
    caffemodel (atomically: nothing is left behind on error).
    """
    path = None if isinstance(prototxt, Message) else str(prototxt)
    net = prototxt if isinstance(prototxt, Message) else read_net(prototxt)
    shapes = net_param_shapes(net, input_shapes, path=path)
    side = caffe_side(net, shapes)
    values: dict[tuple[str, int], np.ndarray] = {}
    for unit in side.units:
        for blob in unit.blobs:
            if blob.layout.filler is None:
                raise UnsupportedError(f"no filler is known for layer type {blob.layer_type} "
                                       f"(blob {blob.index} of {len(side.layer_blobs[blob.layer])})",
                                       path=path, place=blob.layer)
            try:
                values[(blob.layer, blob.index)] = fill(blob.shape, blob.layout.filler,
                                                        blob_rng(seed, blob.layer, blob.index))
            except FillerError as error:
                raise FillerError(f"blob {blob.index} ({blob.layout.role}) {fmt_shape(blob.shape)}: {error.message}",
                                  path=path, place=blob.layer) from None
    for blob in side.shared:
        assert blob.shared_with is not None
        owner = values[blob.shared_with]
        if owner.size != int(np.prod(blob.shape)):
            raise PurecaffeError(f"blob {blob.index} shares param with '{blob.shared_with[0]}' but has "
                                 f"{int(np.prod(blob.shape))} elements, not {owner.size}", path=path,
                                 place=blob.layer)
        values[(blob.layer, blob.index)] = owner.reshape(blob.shape)
    weights: Weights = {name: [values[(name, b.index)] for b in blobs] for name, blobs in side.layer_blobs.items()}
    if output is not None:
        size = save_weights(output, weights, net=net)
        log.info("wrote %s (%d layers, %d bytes)", output, len(weights), size)
    return weights

