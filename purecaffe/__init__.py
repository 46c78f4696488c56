"""purecaffe: PyTorch -> Caffe without a Caffe build, with proof of parity.

The public Python API; the `purecaffe` command line is a thin layer over it.
"""
from __future__ import annotations

import os

from google.protobuf.message import Message

from purecaffe.errors import (
    BackendUnavailableError,
    FormatError,
    ModelTooLargeError,
    PurecaffeError,
    SchemaError,
    ShapeError,
    UnsupportedError,
)
from purecaffe.io.caffemodel import read_blob_proto as load_blob
from purecaffe.io.netspec import input_shapes
from purecaffe.io.prototxt import read_net, write_net
from purecaffe.io.weights import load_weights as _load_weights
from purecaffe.io.weights import save_weights
from purecaffe.schema import CaffeSchema, load_schema

__version__ = "0.1.0"

PathLike = str | os.PathLike[str]


def load_net(path: PathLike, proto: PathLike | None = None) -> Message:
    """Read a prototxt into a NetParameter (V1 upgraded to V2); `proto` picks a vendor caffe.proto."""
    return read_net(path, schema=load_schema(proto) if proto is not None else None)


def save_net(net: Message, path: PathLike) -> None:
    """Write a NetParameter as prototxt, atomically."""
    write_net(net, path)


def load_weights(path: PathLike, net: Message | None = None, proto: PathLike | None = None) -> dict:
    """Read a caffemodel: ordered dict of layer name -> list of float32 arrays.

    With `net`, only the layers of that net are kept (matched by name, as Caffe does).
    """
    return _load_weights(path, net=net, schema=load_schema(proto) if proto is not None else None)


# Public names implemented in heavier subpackages (torch is imported only when
# one of these is first used, so file I/O does not pay for it).
_LAZY_EXPORTS: dict[str, str] = {
    "convert": "purecaffe.converter",
    "ConvertedNet": "purecaffe.converter",
    "list_outputs": "purecaffe.converter",
    "load_model": "purecaffe.converter.model_spec",
    "run": "purecaffe.runtime",
    "RunResult": "purecaffe.runtime",
    "infer_shapes": "purecaffe.runtime",
    "verify": "purecaffe.parity",
    "run_real_caffe": "purecaffe.realcaffe",
    "CaffeRun": "purecaffe.realcaffe",
    "fill": "purecaffe.manual",
    "init_weights": "purecaffe.manual",
}


def __getattr__(name: str) -> object:
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'purecaffe' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)


__all__ = [*_LAZY_EXPORTS,
    "BackendUnavailableError", "CaffeSchema", "FormatError", "ModelTooLargeError", "PurecaffeError",
    "SchemaError", "ShapeError", "UnsupportedError",
    "input_shapes", "load_blob", "load_net", "load_schema", "load_weights", "save_net", "save_weights",
]
