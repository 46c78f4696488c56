"""What real Caffe reported for one net: `CaffeRun`, read back from the runner's bundle.

The runner (`caffe_runner.py`) writes `result.npz` + `result.json` into the
bundle when Caffe accepted the net.  When Caffe refused it, the process died on
a glog CHECK and the reason is in its stderr; `caffe_error_text` pulls Caffe's
own words out of that.  A refusal is data (`CaffeRun.error`), not an exception.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from purecaffe.errors import FormatError, PurecaffeError

PathLike = str | os.PathLike[str]

RESULT_JSON = "result.json"
RESULT_NPZ = "result.npz"
FORMAT = 1

Shape = tuple[int, ...]

_GLOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ ([^\]]+)\] ?(.*)$")
_PROTOBUF_LINE = re.compile(r"^\[libprotobuf (ERROR|FATAL|WARNING) [^\]]*\] ?(.*)$")


def _empty() -> Mapping:
    return MappingProxyType({})


@dataclass(frozen=True, eq=False)
class LayerSnapshot:
    """One layer as Caffe ran it, with each top's value right after this layer's forward.

    In-place layers (ReLU/BatchNorm/Scale rewriting `conv1`) each get their own
    snapshot of the shared blob.  `outputs` is empty for tops whose intermediate
    value was not kept (run with `snapshots=False`).
    """

    index: int
    name: str
    type: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    outputs: Mapping[str, np.ndarray] = field(repr=False)
    param_shapes: tuple[Shape, ...]

    @property
    def in_place(self) -> tuple[str, ...]:
        return tuple(top for top in self.tops if top in self.bottoms)


@dataclass(frozen=True, eq=False)
class CaffeRun:
    """Real Caffe's forward pass of one net: final blobs, per-layer snapshots, shapes, or its refusal."""

    backend: str
    error: str | None
    blobs: Mapping[str, np.ndarray] = field(default_factory=_empty, repr=False)
    """Every blob (Caffe's blob order, auto-inserted `*_split_N` included) after the whole forward pass."""
    layers: tuple[LayerSnapshot, ...] = field(default=(), repr=False)
    blob_shapes: Mapping[str, Shape] = field(default_factory=_empty)
    param_shapes: Mapping[str, tuple[Shape, ...]] = field(default_factory=_empty)
    """Layer name -> shapes of its parameter blobs as Caffe allocated them (layers with parameters)."""
    params: Mapping[str, tuple[np.ndarray, ...]] = field(default_factory=_empty, repr=False)
    """Parameter values as Caffe loaded them (only when run with `params=True`)."""
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    log: str = field(default="", repr=False)
    """Caffe's stderr (warnings and up; the whole text when it refused the net)."""
    seconds: float = 0.0
    info: Mapping[str, object] = field(default_factory=_empty, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def layer(self, name: str) -> LayerSnapshot:
        """The first layer called `name`."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r} in the net Caffe ran")

    def after(self, layer: str, top: str | None = None) -> np.ndarray:
        """Value of `top` (default: the layer's first top) right after `layer` ran."""
        snapshot = self.layer(layer)
        name = top if top is not None else snapshot.tops[0]
        if name not in snapshot.outputs:
            raise KeyError(f"no snapshot of top {name!r} after layer {layer!r} (run with snapshots=True)")
        return snapshot.outputs[name]

    def snapshots(self) -> Iterator[tuple[LayerSnapshot, str, np.ndarray]]:
        """(layer, top name, value after that layer) for every captured top, in forward order."""
        for layer in self.layers:
            for top in layer.tops:
                if top in layer.outputs:
                    yield layer, top, layer.outputs[top]

    def save(self, path: PathLike) -> None:
        """Write this run as one .npz (the runner's key scheme plus `__result__` JSON); see `load_caffe_run`."""
        arrays: dict[str, np.ndarray] = {}
        for name, value in self.blobs.items():
            arrays[f"blob:{name}"] = value
        for layer in self.layers:
            for top, value in layer.outputs.items():
                if value is not self.blobs.get(top):
                    arrays[f"after:{layer.index}:{layer.name}:{top}"] = value
        for name, shape in self.blob_shapes.items():
            arrays[f"shape:{name}"] = np.asarray(shape, dtype=np.int64)
        for layer_name, shapes in self.param_shapes.items():
            for i, shape in enumerate(shapes):
                arrays[f"paramshape:{layer_name}:{i}"] = np.asarray(shape, dtype=np.int64)
        for layer_name, values in self.params.items():
            for i, value in enumerate(values):
                arrays[f"param:{layer_name}:{i}"] = value
        arrays["__result__"] = np.asarray(json.dumps(self._describe()))
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool

    def _describe(self) -> dict:
        def key_of(layer: LayerSnapshot, top: str) -> str | None:
            if top not in layer.outputs:
                return None
            if layer.outputs[top] is self.blobs.get(top):
                return f"blob:{top}"
            return f"after:{layer.index}:{layer.name}:{top}"

        return {
            "format": FORMAT, "backend": self.backend, "error": self.error, "log": self.log,
            "seconds": self.seconds, "inputs": list(self.inputs), "outputs": list(self.outputs),
            "blobs": {name: {"key": f"blob:{name}", "shape": list(self.blob_shapes.get(name, ()))}
                      for name in self.blobs},
            "layers": [{"index": layer.index, "name": layer.name, "type": layer.type,
                        "bottoms": list(layer.bottoms), "tops": list(layer.tops),
                        "snapshots": {top: key_of(layer, top) for top in layer.tops if key_of(layer, top)},
                        "params": [{"shape": list(shape), "key": None} for shape in layer.param_shapes]}
                       for layer in self.layers],
        }


def caffe_error_text(stderr: str, returncode: int) -> str:
    """Caffe's own reason for refusing a net, from the runner's stderr.

    Keeps glog ERROR/FATAL lines (`Check failed: ... Unknown layer type: X`) and
    protobuf's parse errors; failing those, a Python exception's last line;
    failing that, the last lines of stderr.
    """
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    picked: list[str] = []
    for line in lines:
        glog = _GLOG_LINE.match(line)
        if glog and glog.group(1) in "EF":
            picked.append(f"{glog.group(3)} [{glog.group(2)}]")
            continue
        proto = _PROTOBUF_LINE.match(line)
        if proto and proto.group(1) != "WARNING":
            picked.append(proto.group(2))
    if not picked and any(line.startswith("Traceback") for line in lines):
        picked = [lines[-1]]
    if not picked:
        picked = lines[-10:] or ["(no output)"]
    how = "aborted" if returncode in (-6, 134) else f"exit status {returncode}"
    return "\n".join(picked) + f"\n(real Caffe {how})"


def read_bundle_result(bundle: Path, *, backend: str, returncode: int, stderr: str,
                       seconds: float) -> CaffeRun:
    """A `CaffeRun` from a bundle the runner has run on (or died on)."""
    json_path = bundle / RESULT_JSON
    if not json_path.is_file():
        return CaffeRun(backend=backend, error=caffe_error_text(stderr, returncode), log=stderr,
                        seconds=seconds)
    result = json.loads(json_path.read_text(encoding="utf-8"))
    arrays: dict[str, np.ndarray] = {}
    if (bundle / RESULT_NPZ).is_file():
        with np.load(bundle / RESULT_NPZ, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    return _run_from_result(result, arrays, backend=backend, log=stderr, seconds=seconds)


def load_caffe_run(path: PathLike) -> CaffeRun:
    """Read a `CaffeRun` written by `CaffeRun.save`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        result = json.loads(str(arrays.pop("__result__")))
    except (OSError, ValueError, KeyError) as error:
        raise FormatError(f"not a saved CaffeRun ({error})", path=Path(path)) from error
    return _run_from_result(result, arrays, backend=result.get("backend", ""), log=result.get("log", ""),
                            seconds=float(result.get("seconds", 0.0)))


def _shaped(value: np.ndarray, shape: Shape | None) -> np.ndarray:
    """A 0-d blob (a whole-tensor reduction) as its shape says: pycaffe reads it back as (1,)."""
    if shape is not None and tuple(value.shape) != tuple(shape) and value.size == 1 and shape == ():
        return value.reshape(())
    return value


def _run_from_result(result: dict, arrays: Mapping[str, np.ndarray], *, backend: str, log: str,
                     seconds: float) -> CaffeRun:
    if result.get("format") != FORMAT:
        raise PurecaffeError(f"real-Caffe result format {result.get('format')!r}, expected {FORMAT} "
                             "(rebuild the caffe-verify image or update purecaffe)")
    if result.get("status", "ok") != "ok" or result.get("error"):
        return CaffeRun(backend=backend, error=str(result.get("error")), log=log, seconds=seconds,
                        inputs=tuple(result.get("inputs", ())), outputs=tuple(result.get("outputs", ())))
    blob_shapes = {name: tuple(int(d) for d in entry["shape"]) for name, entry in result["blobs"].items()}
    blobs = {name: _shaped(arrays[entry["key"]], blob_shapes[name]) for name, entry in result["blobs"].items()}
    layers: list[LayerSnapshot] = []
    param_shapes: dict[str, tuple[Shape, ...]] = {}
    params: dict[str, tuple[np.ndarray, ...]] = {}
    for record in result["layers"]:
        shapes = tuple(tuple(int(d) for d in entry["shape"]) for entry in record.get("params", ()))
        outputs = {top: _shaped(arrays[key], blob_shapes.get(top)) for top, key in record["snapshots"].items()}
        layers.append(LayerSnapshot(index=int(record["index"]), name=record["name"], type=record["type"],
                                    bottoms=tuple(record["bottoms"]), tops=tuple(record["tops"]),
                                    outputs=MappingProxyType(outputs), param_shapes=shapes))
        if shapes:
            param_shapes.setdefault(record["name"], shapes)
        keys = [entry.get("key") for entry in record.get("params", ())]
        if keys and all(keys):
            params.setdefault(record["name"], tuple(arrays[key] for key in keys))
    return CaffeRun(backend=backend, error=None, blobs=MappingProxyType(blobs), layers=tuple(layers),
                    blob_shapes=MappingProxyType(blob_shapes), param_shapes=MappingProxyType(param_shapes),
                    params=MappingProxyType(params), inputs=tuple(result.get("inputs", ())),
                    outputs=tuple(result.get("outputs", ())), log=log, seconds=seconds,
                    info=MappingProxyType({k: result[k] for k in ("caffe", "numpy", "python", "timing")
                                           if k in result}))
