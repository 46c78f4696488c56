"""`purecaffe inspect`: what a prototxt and/or caffemodel holds, layer by layer."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from purecaffe.errors import PurecaffeError
from purecaffe.io.caffemodel import read_caffemodel
from purecaffe.io.prototxt import read_net
from purecaffe.schema import load_schema

PathLike = str | os.PathLike[str]

TEXT_SUFFIXES = (".prototxt", ".pbtxt", ".txt")
BINARY_SUFFIXES = (".caffemodel", ".binaryproto")


@dataclass(frozen=True)
class LayerRow:
    name: str
    type: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    param_shapes: tuple[tuple[int, ...], ...] | None  # None: not known (no weights, no shape inference)
    param_count: int | None


@dataclass(frozen=True)
class InspectReport:
    files: tuple[str, ...]
    net_name: str
    format: str
    rows: tuple[LayerRow, ...]
    weight_layers_not_in_net: tuple[str, ...] = ()

    @property
    def total_params(self) -> int:
        return sum(row.param_count or 0 for row in self.rows)

    def to_json(self) -> str:
        data = asdict(self)
        data["total_params"] = self.total_params
        data["total_layers"] = len(self.rows)
        return json.dumps(data, indent=2)

    def to_table(self) -> str:
        header = ("layer", "type", "bottoms -> tops", "params", "count")
        lines = [header]
        for row in self.rows:
            shapes = "-" if row.param_shapes is None else \
                " ".join("x".join(map(str, shape)) or "scalar" for shape in row.param_shapes)
            lines.append((row.name, row.type, f"{','.join(row.bottoms)} -> {','.join(row.tops)}", shapes,
                          "-" if row.param_count is None else f"{row.param_count:,}"))
        widths = [min(max(len(line[i]) for line in lines), 60) for i in range(len(header))]
        out = [f"{self.net_name or '(unnamed net)'}  [{self.format}]  {' + '.join(self.files)}"]
        for i, line in enumerate(lines):
            out.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(line)).rstrip())
            if i == 0:
                out.append("  ".join("-" * w for w in widths))
        out.append(f"total: {len(self.rows)} layers, {self.total_params:,} parameters")
        if self.weight_layers_not_in_net:
            out.append(f"weights for layers not in the net (ignored by Caffe): "
                       f"{', '.join(self.weight_layers_not_in_net)}")
        return "\n".join(out)


def is_binary_caffe_file(path: PathLike) -> bool:
    suffix = Path(path).suffix.lower()
    if suffix in BINARY_SUFFIXES:
        return True
    if suffix in TEXT_SUFFIXES:
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError as error:
        raise PurecaffeError(f"cannot read: {error.strerror}", path=path) from None
    return b"\x00" in head or not head.isascii()


def inspect_files(paths: list[PathLike], proto: PathLike | None = None) -> InspectReport:
    """Describe one prototxt, one caffemodel, or a prototxt with its caffemodel."""
    schema = load_schema(proto) if proto is not None else None
    texts = [p for p in paths if not is_binary_caffe_file(p)]
    binaries = [p for p in paths if is_binary_caffe_file(p)]
    if len(texts) > 1 or len(binaries) > 1 or not paths:
        raise PurecaffeError("give one prototxt, one caffemodel, or one of each")
    model = read_caffemodel(binaries[0], schema=schema) if binaries else None
    weights = {layer.name: layer.blobs for layer in model.layers if layer.blobs} if model else {}
    if texts:
        net = read_net(texts[0], schema=schema)
        rows = []
        for layer in net.layer:
            blobs = weights.get(layer.name)
            rows.append(_row(layer.name, layer.type, tuple(layer.bottom), tuple(layer.top),
                             None if model is None else tuple(blobs or ())))
        names = {layer.name for layer in net.layer}
        extra = tuple(name for name in weights if name not in names)
        kind = "prototxt" + (f" + {model.format} caffemodel" if model else "")
        return InspectReport(files=tuple(map(str, paths)), net_name=net.name, format=kind, rows=tuple(rows),
                             weight_layers_not_in_net=extra)
    assert model is not None
    rows = [_row(layer.name, layer.type, layer.bottoms, layer.tops, layer.blobs) for layer in model.layers]
    return InspectReport(files=tuple(map(str, paths)), net_name=model.name, format=f"{model.format} caffemodel",
                         rows=tuple(rows))


def _row(name: str, layer_type: str, bottoms: tuple[str, ...], tops: tuple[str, ...],
         blobs: tuple[np.ndarray, ...] | None) -> LayerRow:
    if blobs is None:
        return LayerRow(name, layer_type, bottoms, tops, None, None)
    shapes = tuple(tuple(int(d) for d in blob.shape) for blob in blobs)
    return LayerRow(name, layer_type, bottoms, tops, shapes, sum(int(blob.size) for blob in blobs))
