"""The manual path: your prototxt + your PyTorch checkpoint -> caffemodel, without Caffe.

`init_weights` makes a caffemodel whose blobs are shaped and filled as Caffe
would at net set-up; `fill` puts a checkpoint's tensors into those blobs and
reports where each came from.
"""
from __future__ import annotations

from purecaffe.io.checkpoint import Checkpoint, load_checkpoint
from purecaffe.manual.errors import MappingError, MissingTensorError, UnusedTensorError
from purecaffe.manual.fill_weights import fill
from purecaffe.manual.fillers import FillerError, FillerSpec
from purecaffe.manual.init import init_weights
from purecaffe.manual.mapping import load_mapping
from purecaffe.io.npy_dict import UnsafeCheckpointError
from purecaffe.manual.report import BlobMatch, FillResult, MissingBlob, ShapeMismatch, UnusedTensor

__all__ = [
    "BlobMatch", "Checkpoint", "FillResult", "FillerError", "FillerSpec", "MappingError", "MissingBlob",
    "MissingTensorError", "ShapeMismatch", "UnsafeCheckpointError", "UnusedTensor", "UnusedTensorError",
    "fill", "init_weights", "load_checkpoint", "load_mapping",
]
