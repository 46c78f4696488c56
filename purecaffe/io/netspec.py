"""Facts about a NetParameter that several parts need: its inputs and layer lookup."""
from __future__ import annotations

from google.protobuf.message import Message

from purecaffe.errors import FormatError


def input_shapes(net: Message, *, path: str | None = None) -> dict[str, tuple[int, ...]]:
    """Declared input blobs and shapes, whichever of Caffe's three styles the net uses.

    `input` + `input_shape {}`, `input` + `input_dim` (4 per input), or `Input`
    layers (`input_param { shape {} }`, one shape for all tops or one per top).
    """
    shapes: dict[str, tuple[int, ...]] = {}
    names = list(net.input)
    if names:
        if len(net.input_shape) == len(names):
            for name, shape in zip(names, net.input_shape):
                shapes[name] = tuple(int(d) for d in shape.dim)
        elif len(net.input_dim) == 4 * len(names):
            for i, name in enumerate(names):
                shapes[name] = tuple(int(d) for d in net.input_dim[4 * i: 4 * i + 4])
        else:
            raise FormatError(f"{len(names)} net inputs but {len(net.input_shape)} input_shape and "
                              f"{len(net.input_dim)} input_dim entries (need one input_shape or four "
                              f"input_dim per input)", path=path)
    for layer in net.layer:
        if layer.type != "Input":
            continue
        declared = list(layer.input_param.shape)
        if len(declared) not in (1, len(layer.top)):
            raise FormatError(f"Input layer '{layer.name}' has {len(layer.top)} tops but "
                              f"{len(declared)} shapes", path=path)
        for i, top in enumerate(layer.top):
            shape = declared[0] if len(declared) == 1 else declared[i]
            shapes[top] = tuple(int(d) for d in shape.dim)
    return shapes


def layers_by_name(net: Message) -> dict[str, Message]:
    """Layers of `net` keyed by name (later duplicates win, as in Caffe's weight copy)."""
    return {layer.name: layer for layer in net.layer}
