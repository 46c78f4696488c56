"""The `--map` file: which checkpoint tensors feed which Caffe layer, for what automatic matching misses.

YAML, one entry per Caffe layer name.  Either a key prefix (the layer type
decides the suffixes, e.g. `weight`/`bias`; for a BatchNorm it also feeds the
Scale that follows it) or a list with one item per Caffe blob, in Caffe's blob
order:

    head_conv: classifier.0            # prefix: classifier.0.weight, classifier.0.bias
    bn_head: classifier.1              # BatchNorm + its Scale: running_mean/var, weight/bias
    fc_t:                              # per blob
      - {key: proj.weight, transform: transpose}
      - proj.bias
    lstm1:
      - {key: rnn.weight_ih_l0, transform: lstm_gates}
      - {keys: [rnn.bias_ih_l0, rnn.bias_hh_l0], transform: sum_lstm_gates}
      - {key: rnn.weight_hh_l0, transform: lstm_gates}
    lstm_static:
      - ...
      - null                           # keep this blob's prototxt filler value

Transforms: `as_is` (default; size-1 axes may differ), `transpose` (2-D),
`lstm_gates` (4 gate blocks on axis 0 from PyTorch's i,f,g,o to Caffe's i,f,o,g),
`sum` (add several tensors), `sum_lstm_gates` (add, then reorder gates).
Keys are as the checkpoint names them after the `module.` prefix is stripped.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from purecaffe.errors import FormatError
from purecaffe.manual.layouts import AS_IS, LSTM_GATES, SUM, SUM_LSTM_GATES, TRANSPOSE

PathLike = str | os.PathLike[str]

MAPPING_TRANSFORMS = (AS_IS, TRANSPOSE, LSTM_GATES, SUM, SUM_LSTM_GATES)


@dataclass(frozen=True)
class BlobSource:
    """Checkpoint keys that make one Caffe blob (empty keys: keep the filler value)."""

    keys: tuple[str, ...]
    transform: str = AS_IS


@dataclass(frozen=True)
class LayerMapping:
    layer: str
    prefix: str | None = None                     # prefix form
    blobs: tuple[BlobSource, ...] | None = None   # per-blob form


@dataclass(frozen=True)
class WeightMap:
    """A parsed mapping file."""

    path: str
    layers: Mapping[str, LayerMapping]


def empty_mapping() -> WeightMap:
    return WeightMap(path="", layers={})


def load_mapping(source: PathLike | Mapping[str, Any] | None) -> WeightMap:
    """Parse a mapping file (or an already-loaded dict, for the Python API)."""
    if source is None:
        return empty_mapping()
    if isinstance(source, Mapping):
        return parse_mapping(source, path="<mapping>")
    import yaml

    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise FormatError(f"cannot read: {error.strerror}", path=source) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f"{mark.line + 1}:{mark.column + 1}" if mark is not None else None
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise FormatError(f"malformed YAML: {problem}", path=source, place=place) from None
    return parse_mapping(data if data is not None else {}, path=str(source))


def parse_mapping(data: Any, *, path: str) -> WeightMap:
    if not isinstance(data, Mapping):
        raise FormatError("a mapping file must be a YAML mapping of Caffe layer name -> key prefix or "
                          "list of per-blob keys", path=path)
    layers: dict[str, LayerMapping] = {}
    for layer, value in data.items():
        layer = str(layer)
        if isinstance(value, str):
            layers[layer] = LayerMapping(layer, prefix=value.strip())
        elif isinstance(value, list):
            layers[layer] = LayerMapping(layer, blobs=tuple(_blob_source(item, path, f"{layer}[{i}]")
                                                            for i, item in enumerate(value)))
        else:
            raise FormatError(f"expected a key prefix or a list of per-blob keys, got "
                              f"{type(value).__name__}", path=path, place=layer)
    return WeightMap(path=path, layers=layers)


def _blob_source(item: Any, path: str, place: str) -> BlobSource:
    if item is None:
        return BlobSource(keys=())
    if isinstance(item, str):
        return BlobSource(keys=(item,))
    if not isinstance(item, Mapping):
        raise FormatError(f"a blob entry is a key, null, or {{key: ..., transform: ...}}; got "
                          f"{type(item).__name__}", path=path, place=place)
    unknown = set(item) - {"key", "keys", "transform"}
    if unknown:
        raise FormatError(f"unknown field(s) {', '.join(sorted(map(str, unknown)))} (known: key, keys, transform)",
                          path=path, place=place)
    if ("key" in item) == ("keys" in item):
        raise FormatError("give exactly one of key or keys", path=path, place=place)
    keys = (item["key"],) if "key" in item else item["keys"]
    if isinstance(keys, str) or not isinstance(keys, (list, tuple)) or not keys \
            or not all(isinstance(k, str) for k in keys):
        raise FormatError("keys must be a non-empty list of strings", path=path, place=place)
    transform = item.get("transform", AS_IS)
    if transform not in MAPPING_TRANSFORMS:
        raise FormatError(f"unknown transform {transform!r} (known: {', '.join(MAPPING_TRANSFORMS)})",
                          path=path, place=place)
    if len(keys) > 1 and transform not in (SUM, SUM_LSTM_GATES):
        raise FormatError(f"several keys need transform sum or sum_lstm_gates, not {transform}",
                          path=path, place=place)
    return BlobSource(keys=tuple(keys), transform=transform)
