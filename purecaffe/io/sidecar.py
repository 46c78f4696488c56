"""The sidecar `<out>.purecaffe.json`: which Caffe blob holds which PyTorch tensor.

One entry per torch value that has a Caffe counterpart::

    {"torch": "relu_3", "blob": "layer1.0.conv1", "layer": "layer1.0.relu",
     "module": "layer1.0.relu", "op": "aten.relu.default", "shape": [1, 64, 56, 56]}

`blob` is the Caffe blob and `layer` the layer whose output it is: with
in-place layers (conv -> bn -> scale -> relu all writing `layer1.0.conv1`),
the torch value equals that blob's contents right after `layer` ran, which is
what a layer-by-layer comparison must look at.  `overwritten_by` lists the
layers that write the blob later (in-place), so a comparison against final blob
values knows which entries it can trust.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from purecaffe.errors import FormatError
from purecaffe.io.atomic import atomic_write

@dataclass(frozen=True)
class TensorRecord:
    """A torch value and the Caffe blob that holds it right after `layer` ran."""

    torch_name: str
    blob: str
    layer: str
    module_path: str
    op: str
    shape: tuple[int, ...]


FORMAT = "purecaffe-sidecar"
VERSION = 1


def sidecar_dict(*, name: str, records: Sequence[TensorRecord], net: Message, input_names: Sequence[str],
                 output_names: Sequence[str], output_keys: Sequence[str], target: str,
                 torch_inputs: Sequence[str], torch_outputs: Sequence[str],
                 cut: Mapping[str, Any] | None = None, weights: Mapping[str, Any] | None = None,
                 output_order: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The sidecar's content.  `cut` (a net ended early by `convert(..., outputs=...)`): where it was
    cut and what was removed; its outputs are then PyTorch's values at those modules, which the
    `outputs` entries name (`torch`) like every other tensor.  `weights`: the fingerprint of the
    model's weights (`purecaffe.converter.fingerprint`), which `verify` checks first.  `output_order`:
    how the target's consumer lists the outputs (`{"listed_by": rule, "order": [blobs]}`); `outputs`
    itself is in the model's order, the one the files are written for."""
    writers: dict[str, list[str]] = {}
    for layer in net.layer:
        for top in layer.top:
            writers.setdefault(top, []).append(layer.name)
    tensors = []
    for record in records:
        entry = {"torch": record.torch_name, "blob": record.blob, "layer": record.layer,
                 "module": record.module_path, "op": record.op, "shape": list(record.shape)}
        later = writers.get(record.blob, [])
        if record.layer in later:
            overwritten_by = later[later.index(record.layer) + 1:]
            if overwritten_by:
                entry["overwritten_by"] = overwritten_by
        tensors.append(entry)
    data = {
        "format": FORMAT, "version": VERSION, "name": name, "target": target,
        "inputs": [{"blob": b, "torch": t} for b, t in zip(input_names, torch_inputs)],
        "outputs": [{"blob": b, "torch": t, "key": k} for b, t, k in zip(output_names, torch_outputs, output_keys)],
    }
    if output_order is not None:
        data["output_order"] = dict(output_order)
    if cut is not None:
        data["cut"] = dict(cut)
    if weights is not None:
        data["weights"] = dict(weights)
    data["tensors"] = tensors
    return data


def sidecar_text(data: dict[str, Any]) -> str:
    """JSON with one line per list entry (a 500-layer net stays readable and diffable)."""
    lines = ["{"]
    items = list(data.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, list):
            entries = [f"  {json.dumps(entry)}" for entry in value]
            body = ",\n".join(entries)
            lines.append(f" {json.dumps(key)}: [\n{body}\n ]{comma}" if entries else f" {json.dumps(key)}: []{comma}")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_sidecar(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(sidecar_text(data))


SIDECAR_SUFFIX = ".purecaffe.json"


@dataclass(frozen=True)
class SavedFiles:
    """The three files of a conversion saved under one path prefix."""

    prototxt: Path
    caffemodel: Path
    sidecar: Path


def output_paths(prefix: str | os.PathLike[str]) -> SavedFiles:
    """`out/net` (or `out/net.prototxt`, ...) -> out/net.prototxt, out/net.caffemodel, out/net.purecaffe.json."""
    stem = str(prefix)
    for suffix in (".prototxt", ".caffemodel", SIDECAR_SUFFIX):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return SavedFiles(Path(stem + ".prototxt"), Path(stem + ".caffemodel"), Path(stem + SIDECAR_SUFFIX))


def read_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a sidecar; a missing or foreign file is a one-line FormatError."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormatError("no sidecar: verify needs the .purecaffe.json that `purecaffe convert` writes next to "
                          "the prototxt", path=path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(f"unreadable sidecar: {error}", path=path) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or "tensors" not in data:
        raise FormatError(f"not a purecaffe sidecar (no 'format: {FORMAT}')", path=path)
    # Sidecars written before targets existed name the one dialect there was.
    data.setdefault("target", data.pop("dialect", "bvlc"))
    return data


def records_to_json(records: Sequence[TensorRecord]) -> list[dict[str, Any]]:
    return [asdict(r) for r in records]
