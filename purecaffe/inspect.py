"""`purecaffe inspect`: what a prototxt and/or caffemodel holds, layer by layer."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf.message import Message

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
    top_shapes: tuple[tuple[int, ...], ...] | None = None  # from shape inference (prototxt given)


@dataclass(frozen=True)
class InspectReport:
    files: tuple[str, ...]
    net_name: str
    format: str
    rows: tuple[LayerRow, ...]
    weight_layers_not_in_net: tuple[str, ...] = ()
    shape_problem: str | None = None  # why shape inference failed, if it did
    weight_shape_mismatches: tuple[str, ...] = ()  # caffemodel blobs that do not fit the prototxt

    @property
    def total_params(self) -> int:
        return sum(row.param_count or 0 for row in self.rows)

    def to_json(self) -> str:
        data = asdict(self)
        data["total_params"] = self.total_params
        data["total_layers"] = len(self.rows)
        return json.dumps(data, indent=2)

    def to_table(self) -> str:
        header = ("layer", "type", "bottoms -> tops", "top shapes", "params", "count")
        lines = [header]
        for row in self.rows:
            lines.append((row.name, row.type, f"{','.join(row.bottoms)} -> {','.join(row.tops)}",
                          _shapes_text(row.top_shapes), _shapes_text(row.param_shapes),
                          "-" if row.param_count is None else f"{row.param_count:,}"))
        widths = [min(max(len(line[i]) for line in lines), 60) for i in range(len(header))]
        out = [f"{self.net_name or '(unnamed net)'}  [{self.format}]  {' + '.join(self.files)}"]
        for i, line in enumerate(lines):
            out.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(line)).rstrip())
            if i == 0:
                out.append("  ".join("-" * w for w in widths))
        out.append(f"total: {len(self.rows)} layers, {self.total_params:,} parameters")
        if self.shape_problem:
            out.append(f"shape inference: {self.shape_problem}")
        for mismatch in self.weight_shape_mismatches:
            out.append(f"weights do not fit the prototxt: {mismatch}")
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
        inferred, problem = _infer(net)
        rows = []
        mismatches = []
        for layer in net.layer:
            step = inferred.get(layer.name)
            tops = tuple(shape for _, shape in step.tops) if step is not None else None
            if model is not None:
                blobs = tuple(weights.get(layer.name) or ())
                row = _row(layer.name, layer.type, tuple(layer.bottom), tuple(layer.top), blobs, tops)
                if step is not None and blobs and not _fits(layer.type, blobs, tuple(step.params)):
                    mismatches.append(f"layer '{layer.name}' stores {_shapes_text(row.param_shapes)}, "
                                      f"Caffe allocates {_shapes_text(tuple(step.params))}")
            elif step is not None:
                row = LayerRow(layer.name, layer.type, tuple(layer.bottom), tuple(layer.top), tuple(step.params),
                               sum(int(np.prod(shape, dtype=np.int64)) for shape in step.params), tops)
            else:
                row = _row(layer.name, layer.type, tuple(layer.bottom), tuple(layer.top), None)
            rows.append(row)
        names = {layer.name for layer in net.layer}
        extra = tuple(name for name in weights if name not in names)
        kind = "prototxt" + (f" + {model.format} caffemodel" if model else "")
        return InspectReport(files=tuple(map(str, paths)), net_name=net.name, format=kind, rows=tuple(rows),
                             weight_layers_not_in_net=extra, shape_problem=problem,
                             weight_shape_mismatches=tuple(mismatches))
    assert model is not None
    rows = [_row(layer.name, layer.type, layer.bottoms, layer.tops, layer.blobs) for layer in model.layers]
    return InspectReport(files=tuple(map(str, paths)), net_name=model.name, format=f"{model.format} caffemodel",
                         rows=tuple(rows))


def _row(name: str, layer_type: str, bottoms: tuple[str, ...], tops: tuple[str, ...],
         blobs: tuple[np.ndarray, ...] | None, top_shapes: tuple[tuple[int, ...], ...] | None = None) -> LayerRow:
    if blobs is None:
        return LayerRow(name, layer_type, bottoms, tops, None, None, top_shapes)
    shapes = tuple(tuple(int(d) for d in blob.shape) for blob in blobs)
    return LayerRow(name, layer_type, bottoms, tops, shapes, sum(int(blob.size) for blob in blobs), top_shapes)


def _fits(layer_type: str, blobs: tuple[np.ndarray, ...], expected: tuple[tuple[int, ...], ...]) -> bool:
    """Whether the stored blobs are what the runtime reads for the layer: Caffe's shapes, or a fork's own
    layout that its type reads as Caffe's (OpenCV's five LSTM blobs: `LayerKind.stored`)."""
    import torch

    from purecaffe.errors import PurecaffeError as RuntimeProblem
    from purecaffe.runtime.layers.base import LayerProblem
    from purecaffe.runtime.registry import lookup

    if tuple(tuple(int(d) for d in blob.shape) for blob in blobs) == expected:
        return True
    try:
        kind = lookup(layer_type)
        if kind.stored is None:
            return False
        read = kind.stored([torch.as_tensor(np.asarray(blob, dtype=np.float32)) for blob in blobs], expected)
    except (LayerProblem, RuntimeProblem):
        return False
    return tuple(tuple(int(d) for d in blob.shape) for blob in read) == expected


def _infer(net: Message) -> tuple[dict[str, Any], str | None]:
    """Shape-inference steps by layer name, and the reason when inference stopped (e.g. a Concat mismatch)."""
    from purecaffe.runtime import infer_shapes

    try:
        inference = infer_shapes(net)
    except PurecaffeError as error:
        return {}, error.one_line()
    return {step.name: step for step in inference.steps}, None


def _shapes_text(shapes: tuple[tuple[int, ...], ...] | None) -> str:
    if shapes is None:
        return "-"
    return " ".join("x".join(map(str, shape)) or "scalar" for shape in shapes)
