"""One model through every asked target: build, prepare, convert, consume, judge; one JSON record per cell.

Cell classes: OK, REFUSED (purecaffe's UnsupportedError: the ops and reasons), CONSUMER-REJECTED
(the consumer refused the file), SILENT-MISMATCH, WRONG-ORDER, FP16-DRIFT, FP32-DRIFT (see `judge`; for a
judge with a diagnostic mode, MNN's Winograd off, also a default run outside its bound whose diagnostic
run is within float32's: `_diagnose`), CRASH (any
other exception: a purecaffe bug, or this script's), BUILD-FAILED (the other project's model could not
be built or run in PyTorch here: not purecaffe's fault), TIMEOUT (set by the driver).
"""
from __future__ import annotations

import contextlib
import copy
import logging
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

import purecaffe
import purecaffe.converter
from purecaffe.errors import UnsupportedError
from purecaffe.targets import TARGETS, Diagnostic, Tolerance
from purecaffe.targets.judges import FP16
from sweep import judge as judging
from sweep.arch import Arch
from sweep.consumers import Consumed, consume
from sweep.prepare import prepare, test_inputs

log = logging.getLogger(__name__)

def _tail(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames)
                  if "purecaffe" in f.filename or "sweep" in f.filename), "")
    text = " ".join(str(error).split())[:500]
    return f"{type(error).__name__}: {text}" + (f" (at {where})" if where else "")


def _leaves(value: object) -> list[torch.Tensor]:
    return [leaf for leaf in torch.utils._pytree.tree_leaves(value) if isinstance(leaf, torch.Tensor)]


def _forward(model: nn.Module, inputs: Sequence[torch.Tensor], outputs: Sequence[str] | None) -> list[np.ndarray]:
    """The model's own outputs (or, with a cut, the cut modules' outputs through forward hooks)."""
    captured: dict[str, torch.Tensor] = {}
    handles = []
    if outputs is not None:
        for path in outputs:
            def hook(_module: nn.Module, _args: object, result: object, path: str = path) -> None:
                captured[path] = result
            handles.append(model.get_submodule(path).register_forward_hook(hook))
    try:
        with torch.no_grad():
            result = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    values = [captured[p] for p in outputs] if outputs is not None else _leaves(result)
    return [v.detach().to(torch.float64 if v.dtype == torch.float64 else torch.float32).numpy().copy()
            for v in values]


def _torch_fp16(model: nn.Module, inputs: Sequence[torch.Tensor], outputs: Sequence[str] | None,
                expected: Sequence[np.ndarray]) -> list[judging.Comparison] | str:
    """PyTorch's own fp16 run against its fp32 run (the fp16 cost of the model itself)."""
    try:
        half = copy.deepcopy(model).half()
        values = _forward(half, [x.half() for x in inputs], outputs)
    except Exception as error:  # CPU fp16 kernels are not complete
        return f"PyTorch fp16 run failed: {_tail(error)}"
    if len(values) != len(expected):
        return "PyTorch fp16 run gave another number of outputs"
    return [judging.compare(i, e, v, FP16) for i, (e, v) in enumerate(zip(expected, values))]


@contextlib.contextmanager
def shared_capture() -> Iterator[None]:
    """torch.export once per model, not once per target: `convert`'s capture step memoized per (model, inputs).

    The captured Graph is immutable (frozen dataclasses and tuples) and every later stage of
    `convert` (cut, passes, lowering, the target stage) still runs per target; an export costs
    5-15 s on this shared machine, a third of a cell.
    """
    original = purecaffe.converter.capture
    captures: dict[tuple[int, ...], object] = {}

    def memoized(model: nn.Module, inputs: Sequence[object], kwargs: object = None, *, sources: bool = True) -> object:
        if kwargs:
            return original(model, inputs, kwargs, sources=sources)
        key = (id(model), sources, *(id(x) for x in inputs))
        if key not in captures:
            captures[key] = original(model, inputs, sources=sources)
        return captures[key]

    purecaffe.converter.capture = memoized
    try:
        yield
    finally:
        purecaffe.converter.capture = original


def _torch_fp64(model: nn.Module, inputs: Sequence[torch.Tensor], outputs: Sequence[str] | None) -> list[np.ndarray] | str:
    """PyTorch's float64 run of the model: the reference that tells float32 rounding from a wrong layer."""
    try:
        return _forward(copy.deepcopy(model).double(), [x.double() for x in inputs], outputs)
    except Exception as error:
        return f"PyTorch float64 run failed: {_tail(error)}"


def _torch_ulp_noise(model: nn.Module, inputs: Sequence[torch.Tensor], outputs: Sequence[str] | None,
                     expected: Sequence[np.ndarray], rule: Tolerance) -> list[list[judging.Comparison]] | str:
    """PyTorch's own runs with every float input value moved by at most one ulp (x (1 + u 2^-23), u uniform in
    [-1, 1], one seed per run), each compared with its unmoved run: how far the model itself moves."""
    runs = []
    for seed in range(judging.ULP_NOISE_SEEDS):
        generator = torch.Generator().manual_seed(seed)
        moved = [(x.double() * (1 + (torch.rand(x.shape, generator=generator, dtype=torch.float64) * 2 - 1)
                                * 2.0 ** -23)).to(x.dtype) if x.is_floating_point() else x for x in inputs]
        try:
            values = _forward(model, moved, outputs)
        except Exception as error:
            return f"PyTorch run on moved inputs failed: {_tail(error)}"
        if len(values) != len(expected):
            return "PyTorch run on moved inputs gave another number of outputs"
        runs.append([judging.compare(i, e, v, rule) for i, (e, v) in enumerate(zip(expected, values))])
    return runs


def _refusal(error: Exception) -> dict[str, object]:
    problems = getattr(error, "problems", None)
    if problems:
        ops = [{"op": p.op, "module": p.module_path, "module_type": p.module_type, "reason": p.reason}
               for p in problems]
        return {"reason": "; ".join(sorted({f"{p.op}: {p.reason}" for p in problems}))[:800], "ops": ops}
    return {"reason": " ".join(str(error).split())[:800], "ops": []}


def run_cells(arch: Arch, targets: Sequence[str], emit: Callable[[dict[str, object]], None], *,
              caffe_backend: str, rknn_venv: str | None) -> None:
    """Every target of one architecture; `emit` gets each finished cell's record."""
    base = {"model": arch.name, "library": arch.library, "kind": arch.kind, "shapes": [list(s) for s in arch.shapes],
            "cut": list(arch.outputs) if arch.outputs else None}
    started = time.monotonic()
    try:
        torch.manual_seed(0)
        model, notes = prepare(arch.build(), arch.shapes, data=arch.data, stats_from_data=arch.stats_from_data,
                               fuse=arch.reparameterize)
        inputs = test_inputs(arch.shapes, arch.data)
        eager = _forward(model, inputs, arch.outputs)
    except Exception as error:
        for target in targets:
            emit({**base, "target": target, "class": "BUILD-FAILED", "reason": _tail(error), "stage": "build",
                  "seconds": round(time.monotonic() - started, 2)})
        return
    build_seconds = round(time.monotonic() - started, 2)
    references = _References(model, inputs, arch.outputs, eager)
    with shared_capture():
        for target in targets:
            record: dict[str, object] = {**base, "target": target, "build_seconds": build_seconds, **notes}
            cell_started = time.monotonic()
            progress: dict[str, object] = {}
            try:
                record.update(_one_target(model, inputs, eager, arch, target, caffe_backend, rknn_venv, progress))
            except Exception as error:
                record.update({**progress, "class": "CRASH", "reason": _tail(error)})
            references.reclassify(record, target)
            record["seconds"] = round(time.monotonic() - cell_started, 2)
            emit(record)


class _References:
    """PyTorch's own float64 and fp16 runs of the model, made once and only for cells that need them."""

    def __init__(self, model: nn.Module, inputs: Sequence[torch.Tensor], outputs: Sequence[str] | None,
                 eager: list[np.ndarray]) -> None:
        self.model, self.inputs, self.outputs, self.eager = model, inputs, outputs, eager
        self._fp64: list[np.ndarray] | str | None = None
        self._fp16: list[judging.Comparison] | str | None = None
        self._noisy: list[list[judging.Comparison]] | str | None = None

    def reclassify(self, record: dict[str, object], target: str) -> None:
        """A SILENT-MISMATCH whose outputs are in place becomes FP32-DRIFT / FP16-DRIFT when PyTorch's own
        float32 / fp16 run is as far off, UNSTABLE-REFERENCE when PyTorch's own output moves as far under
        one-ulp input noise (`judge`); the consumer's arrays are dropped from the record."""
        got = record.pop("_outputs", None)
        expected = record.pop("_expected", None)
        if record.get("class") != "SILENT-MISMATCH" or record.get("placement") is not None \
                or not record.get("comparisons") or got is None:
            return
        ours = [judging.Comparison(**c) for c in record["comparisons"]]  # type: ignore[arg-type, union-attr]
        if TARGETS[target].judge.tolerance is FP16:  # an fp16 judge: is PyTorch's own fp16 as far off?
            if self._fp16 is None:
                self._fp16 = _torch_fp16(self.model, self.inputs, self.outputs, self.eager)
            if isinstance(self._fp16, str):
                record["torch_fp16"] = self._fp16
                return
            record["torch_fp16"] = [c.to_json() for c in self._fp16]
            if judging.fp16_is_the_cause(ours, self._fp16):
                record["class"] = "FP16-DRIFT"
            return
        if self._fp64 is None:
            self._fp64 = _torch_fp64(self.model, self.inputs, self.outputs)
        if isinstance(self._fp64, str) or len(self._fp64) != len(got):  # type: ignore[arg-type]
            record["torch_fp64"] = self._fp64 if isinstance(self._fp64, str) else "another number of outputs"
            return
        drift, details = judging.fp32_drift(expected, got, self._fp64, ours)  # type: ignore[arg-type]
        record["torch_fp64"] = details
        if drift:
            record["class"] = "FP32-DRIFT"
            return
        if self._noisy is None:
            self._noisy = _torch_ulp_noise(self.model, self.inputs, self.outputs, self.eager,
                                           TARGETS[target].judge.tolerance)
        if isinstance(self._noisy, str):
            record["torch_ulp_noise"] = self._noisy
            return
        record["torch_ulp_noise"] = [[{"position": c.position, "relative": c.relative, "cosine": c.cosine}
                                      for c in run] for run in self._noisy]
        if judging.within_instability(ours, self._noisy):
            record["class"] = "UNSTABLE-REFERENCE"


def _one_target(model: nn.Module, inputs: tuple[torch.Tensor, ...], eager: list[np.ndarray], arch: Arch, target: str,
                caffe_backend: str, rknn_venv: str | None, out: dict[str, object]) -> dict[str, object]:
    """The cell's record; `out` holds what is known so far (the stage reached) if something raises."""
    out["stage"] = "convert"
    clock = time.monotonic()
    try:
        net = purecaffe.convert(model, inputs, target=target, name=arch.name,
                                outputs=list(arch.outputs) if arch.outputs else None)
    except UnsupportedError as error:
        return {**out, "class": "REFUSED", **_refusal(error), "convert_seconds": round(time.monotonic() - clock, 2)}
    out["convert_seconds"] = round(time.monotonic() - clock, 2)
    out["output_names"] = list(net.output_names)
    out["layers"] = len(net.net.layer)
    expected = eager
    if len(eager) != len(net.output_names) or any(e.shape != tuple(s) for e, s in
                                                  zip(eager, net.output_shapes.values())):
        values = net.torch_values(inputs)
        expected = [np.asarray(values[name]) for name in net.torch_output_names]
        out["reference"] = "exported program (eager outputs did not line up)"
    feeds = {name: x.numpy() for name, x in zip(net.input_names, inputs)}
    judge = TARGETS[target].judge
    with tempfile.TemporaryDirectory(prefix=f"sweep-{arch.name}-{target}-") as work:
        out["stage"] = "save"
        files = net.save(Path(work) / arch.name)
        out["stage"] = "consume"
        clock = time.monotonic()

        def run(options: dict[str, object] | None = None) -> Consumed:
            return consume(target, Path(files.prototxt), Path(files.caffemodel), feeds, net.output_names,
                           caffe_backend=caffe_backend, rknn_venv=rknn_venv, options=options)

        consumed = run()
        out["consumer_seconds"] = round(time.monotonic() - clock, 2)
        out.update(consumed.notes)
        caffe_order = consumed.notes.get("caffe_outputs")
        if caffe_order is not None:
            out["prototxt_order_matches"] = list(caffe_order) == list(net.output_names)
        if consumed.error is not None:
            return {**out, "class": "CONSUMER-REJECTED", "reason": consumed.error}
        if "dropped" in consumed.notes:
            return {**out, "class": "SILENT-MISMATCH", "reason": str(consumed.notes["dropped"])}
        verdict = judging.judge(expected, consumed.outputs, judge.tolerance)
        record = {**out, "class": verdict.cls, "reason": verdict.reason, "placement": verdict.placement,
                  "_outputs": consumed.outputs, "_expected": expected,
                  "comparisons": [c.to_json() for c in verdict.comparisons]}
        if verdict.cls == "SILENT-MISMATCH" and verdict.placement is None and judge.diagnostic is not None:
            clock = time.monotonic()
            record.update(_diagnose(judge.diagnostic, run(dict(judge.diagnostic.options)), expected, verdict))
            record["diagnostic_seconds"] = round(time.monotonic() - clock, 2)
        return record


def _diagnose(diagnostic: Diagnostic, consumed: Consumed, expected: Sequence[np.ndarray],
              default: judging.Verdict) -> dict[str, object]:
    """The judge's diagnostic run (`Judge.diagnostic`) of a cell whose default run missed its bound.

    Within the diagnostic's tolerance: FP32-DRIFT, the file proven read right (the default run's miss is
    the consumer's arithmetic, kept in the reason).  Outside it: still SILENT-MISMATCH, its outputs and
    comparisons now the diagnostic run's (so `reclassify` asks float64 whether float32 depth explains them)."""
    if consumed.error is not None:
        return {"diagnostic": f"{diagnostic.name}: the consumer refused the file: {consumed.error}"}
    verdict = judging.judge(expected, consumed.outputs, diagnostic.tolerance)
    worst = max((c.relative for c in verdict.comparisons), default=0.0)
    said = f"{diagnostic.name} ({diagnostic.tolerance.name} {diagnostic.tolerance.rtol:g}): " \
        + (f"every output within, worst {worst:.2e} of max|torch|" if verdict.cls == "OK" else verdict.reason)
    result: dict[str, object] = {"diagnostic": said, "default_comparisons": [c.to_json() for c in default.comparisons]}
    if verdict.cls == "OK":
        return {**result, "class": "FP32-DRIFT", "reason": f"default run {default.reason}; {said}",
                "comparisons": [c.to_json() for c in verdict.comparisons]}
    if verdict.cls == "SILENT-MISMATCH" and verdict.placement is None:
        return {**result, "reason": f"default run {default.reason}; {said}", "_outputs": consumed.outputs,
                "comparisons": [c.to_json() for c in verdict.comparisons]}
    return {**result, "reason": f"default run {default.reason}; {said}"}
