"""The net outputs as each consumer's users read them: the verdict on what a device hands back.

Per-layer snapshots (`backends`) name the first layer that diverges, but they are not what a user
gets.  A user of real Caffe takes `net.forward()` (a dict over `net.outputs`) or `net.blobs[name]`;
of OpenCV, `net.forward(names)` with its default fusion (names are *layer* names there), or
`net.forward(net.getUnconnectedOutLayersNames())`; of RKNN-Toolkit2, `inference()`'s list, by
position.  Each such call is an `OutputsRead`: what it gave at each place, compared with PyTorch's
outputs in the model's order (the sidecar's `outputs`) beside the per-layer rows of the report.  A
file whose layers are all right but whose outputs come back in another order, under another name,
or not at all, fails on these rows (a swap is named: "holds output 2 'lm'").
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from purecaffe.parity.compare import BlobComparison, compare_arrays

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class OutputsRead:
    """One user call's outputs, by place: `values[i]` is what the user takes for net output i."""

    call: str                                   # "rknn.inference()"
    values: tuple[np.ndarray | None, ...]
    names: tuple[str, ...] = ()                 # what the call says each place is, when it says
    error: str = ""                             # the call itself failed (then `values` are None)


def caffe_read(blobs: Mapping[str, np.ndarray], net_outputs: Sequence[str], outputs: Sequence[str]) -> OutputsRead:
    """`net.forward()[name]` for each output: a blob that is not among `net.outputs` is not in that dict."""
    values = tuple(blobs.get(name) if name in net_outputs else None for name in outputs)
    return OutputsRead("caffe net.forward()[name]", values, tuple(net_outputs))


def named_read(call: str, produced: Mapping[str, np.ndarray], outputs: Sequence[str]) -> OutputsRead:
    """Outputs looked up by blob name in what the consumer handed back (tpu-mlir's and MNN's runs return
    their outputs by name): an output it did not hand back is missing."""
    return OutputsRead(call, tuple(produced.get(name) for name in outputs), tuple(produced))


def positional_read(call: str, produced: Sequence[np.ndarray], names: Sequence[str] = ()) -> OutputsRead:
    return OutputsRead(call, tuple(produced), tuple(names))


def opencv_reads(cv2: Any, prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray],
                 outputs: Sequence[str]) -> tuple[OutputsRead, ...]:
    """`forward(output names)` and `forward(getUnconnectedOutLayersNames())`, default fusion, as users call them."""
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
    for name, value in inputs.items():
        net.setInput(np.ascontiguousarray(value, dtype=np.float32), name)
    reads = []
    for call, names in (("opencv forward(output names)", list(outputs)),
                        ("opencv forward(getUnconnectedOutLayersNames())", None)):
        try:
            asked = list(net.getUnconnectedOutLayersNames()) if names is None else names
            values = tuple(np.asarray(v) for v in net.forward(asked))
        except cv2.error as error:
            text = " ".join(str(error).split())
            reads.append(OutputsRead(call, (None,) * len(outputs), error=f"OpenCV {cv2.__version__}: {text}"))
            continue
        reads.append(OutputsRead(call, values, tuple(asked)))
    return tuple(reads)


def compare_reads(reads: Sequence[OutputsRead], net: Any, sidecar: Mapping[str, Any],
                  expected: Mapping[str, np.ndarray], *, rtol: float, atol: float, min_cosine: float | None,
                  start: int, bounds: Mapping[str, tuple[float, float, float | None]] | None = None
                  ) -> list[BlobComparison]:
    """One row per read and net output, at the output's last writer layer, numbered from `start`;
    `bounds`: (rtol, atol, min cosine) by torch name where the reference has bounds of its own (fp16)."""
    outputs = [(entry["blob"], entry["torch"]) for entry in sidecar.get("outputs", []) if entry["torch"] in expected]
    writer = {top: (layer.name, layer.type) for layer in net.layer for top in layer.top}
    rows: list[BlobComparison] = []
    for read in reads:
        for place, (blob, torch_name) in enumerate(outputs):
            value = read.values[place] if place < len(read.values) else None
            want = expected[torch_name]
            own_rtol, own_atol, own_cosine = (bounds or {}).get(torch_name) or (rtol, atol, min_cosine)
            shape, max_abs, max_rel, cosine, scale, passed, note = compare_arrays(
                value, want, rtol=own_rtol, atol=own_atol, min_cosine=own_cosine)
            if not passed:
                if not note and max_rel is not None and cosine is not None:
                    note = f"max|err| {max_rel:.2e} x max|torch|, cosine {cosine:.4f}"
                note = _why(read, place, blob, value, outputs, expected, note, rtol=rtol, atol=atol,
                            min_cosine=min_cosine)
            layer, layer_type = writer.get(blob, (blob, "?"))
            rows.append(BlobComparison(
                index=start + len(rows), layer=layer, layer_type=layer_type, blob=blob, torch_name=torch_name,
                module="", op=f"net output {place} as {read.call} gives it", torch_shape=tuple(want.shape),
                caffe_shape=shape, max_abs_err=max_abs, max_rel_err=max_rel, cosine=cosine, scale=scale,
                passed=passed, note=note))
    return rows


def _why(read: OutputsRead, place: int, blob: str, value: np.ndarray | None, outputs: Sequence[tuple[str, str]],
         expected: Mapping[str, np.ndarray], note: str, *, rtol: float, atol: float, min_cosine: float | None) -> str:
    """What the user got at `place` instead of output `blob`."""
    where = f"{read.call} place {place} (output '{blob}')"
    if read.error:
        return f"{where}: the call failed: {read.error}"
    if value is None:
        if place >= len(read.values):
            return f"{where}: the call returned {len(read.values)} outputs for the net's {len(outputs)}"
        listed = f" (it lists {', '.join(read.names)})" if read.names else ""
        return f"{where}: not among the outputs the call gives{listed}"
    named = f" named '{read.names[place]}'" if place < len(read.names) and read.names[place] != blob else ""
    for other, (other_blob, other_torch) in enumerate(outputs):
        if other != place and compare_arrays(value, expected[other_torch], rtol=rtol, atol=atol,
                                             min_cosine=min_cosine)[5]:
            return f"{where}{named}: holds output {other} '{other_blob}'"
    return f"{where}{named}: {note}" if note else f"{where}{named}"


__all__ = ["OutputsRead", "caffe_read", "compare_reads", "named_read", "opencv_reads", "positional_read"]
