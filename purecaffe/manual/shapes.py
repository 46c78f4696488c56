"""Parameter blob shapes as Caffe allocates them, from the runtime's shape inference."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from google.protobuf.message import Message

from purecaffe.errors import PurecaffeError

Shape = tuple[int, ...]


def net_param_shapes(net: Message, input_shapes: Mapping[str, Sequence[int]] | None = None, *,
                     path: str | None = None) -> dict[str, list[Shape]]:
    """Layer name -> shapes of its parameter blobs (layers without parameters left out), in net order.

    A shape-inference error that names no file gets `path` (the prototxt) added.
    """
    from purecaffe.runtime import infer_shapes

    try:
        inferred = infer_shapes(net, input_shapes)
    except PurecaffeError as error:
        if error.path is None and path is not None:
            error.path = path
            error.args = (error.one_line(),)
        raise
    return {name: [tuple(int(d) for d in shape) for shape in blobs]
            for name, blobs in inferred.param_shapes.items() if len(blobs)}
