"""A bundle: the directory real Caffe's runner reads (net, weights, inputs, request) and writes into.

Layout (the runner's docstring is the full contract):

    net.prototxt      the network, copied byte for byte
    net.caffemodel    the weights (absent: Caffe's own fillers)
    inputs.npz        net input name -> float32 array (each input blob is reshaped to it)
    request.json      {"prototxt", "caffemodel", "inputs", "snapshots", "params"}
    result.npz/.json  written by the runner
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from purecaffe.errors import PurecaffeError

PathLike = str | os.PathLike[str]

PROTOTXT = "net.prototxt"
CAFFEMODEL = "net.caffemodel"
INPUTS = "inputs.npz"
REQUEST = "request.json"


def require_file(path: PathLike, what: str) -> Path:
    """`path` as a Path, or a one-line error naming what is missing."""
    file = Path(path)
    if not file.is_file():
        raise PurecaffeError(f"{what} not found" if not file.exists() else f"{what} is not a file", path=file)
    return file


def write_bundle(directory: Path, prototxt: PathLike, caffemodel: PathLike | None,
                 inputs: Mapping[str, np.ndarray] | None, *, snapshots: bool = True,
                 params: bool = False) -> Path:
    """Fill `directory` (existing, empty) with a bundle for one run; returns it."""
    source = require_file(prototxt, "prototxt")
    weights = None if caffemodel is None else require_file(caffemodel, "caffemodel")
    shutil.copyfile(source, directory / PROTOTXT)
    if weights is not None:
        _link_or_copy(weights, directory / CAFFEMODEL)
    if inputs:
        arrays = {}
        for name, value in inputs.items():
            array = np.ascontiguousarray(value, dtype=np.float32)
            if array.ndim == 0:
                raise PurecaffeError(f"input {name!r} is a scalar; Caffe inputs are arrays")
            arrays[name] = array
        with open(directory / INPUTS, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    request = {
        "prototxt": PROTOTXT,
        "caffemodel": CAFFEMODEL if weights is not None else None,
        "inputs": INPUTS if inputs else None,
        "snapshots": bool(snapshots),
        "params": bool(params),
    }
    (directory / REQUEST).write_text(json.dumps(request, indent=1), encoding="utf-8")
    return directory


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link when possible (caffemodels reach 0.5 GB; nothing writes to the bundle's copy)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
