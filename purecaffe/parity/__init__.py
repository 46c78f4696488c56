"""Layer-by-layer parity: a converted Caffe net against the PyTorch model it came from.

    report = purecaffe.verify(model, (x,), "out/resnet18", backend="runtime")
    report.passed, report.first_divergence, report.to_html()

The converter's sidecar (`<out>.purecaffe.json`) says which Caffe blob, right
after which layer, holds which PyTorch tensor.  `verify` computes PyTorch's
value of every captured tensor (the exported program run by an fx
Interpreter), runs the Caffe files on a backend (`runtime`: in-process,
Caffe semantics; `caffe`: real Caffe 1.0; `opencv`: OpenCV DNN 4.x; `rknn`:
RKNN-Toolkit2's fp16 simulator; ...), and compares each pair: max abs error, max
error relative to the tensor's scale, cosine similarity, shape, within the judge's
tolerance from the target catalog (`purecaffe.targets.judges`).  The fp16 `rknn`
backend is judged against the runtime's fp16 storage of the same files (`parity.fp16`:
within k x the fp16 cost at each blob, `targets.fp16_judge`), with the fp16 cost, that
reference's distance to PyTorch float32, reported apart; it sees only the layers RKNN
kept after its fusions.  The first failing blob in Caffe's layer order names
the layer and the PyTorch module behind it.  On the real consumers the net outputs are
also read as their users read them (`reads`: Caffe's forward() dict, OpenCV's
forward(names) with default fusion and its unconnected outputs, RKNN's inference() list
by place), one row each: the verdict on the outputs.
"""
from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from purecaffe.io.sidecar import output_paths, read_sidecar
from purecaffe.errors import FormatError, PurecaffeError
from purecaffe.parity.backends import BACKENDS, LayerOutputs, run_backend
from purecaffe.parity.compare import BlobComparison, compare_arrays
from purecaffe.parity.fp16 import fp16_reference
from purecaffe.parity.progress import Progress
from purecaffe.parity.reads import compare_reads
from purecaffe.parity.report import ParityReport
from purecaffe.targets import TARGETS
from purecaffe.targets import Diagnostic
from purecaffe.targets.judges import JUDGES, judge_tolerance
from purecaffe.tpumlir.judge import Deploy

if TYPE_CHECKING:
    from purecaffe.int8.routes import Int8Comparison
    from purecaffe.rknn import RknnQuantization
    from purecaffe.tpumlir.int8 import TpuMlirQuantization

PathLike = str | os.PathLike[str]

def default_tolerances(backend: str, deploy: Deploy | None = None) -> tuple[float, float, float | None]:
    """(rtol, atol, min_cosine) a backend is judged by (in `deploy`'s precision): the catalog's
    (`purecaffe.targets.judges`, which says why each is what it is)."""
    tolerance = judge_tolerance(backend, None if deploy is None else deploy.quantize)
    return tolerance.rtol, tolerance.atol, tolerance.min_cosine


def verify(model: Any, inputs: Sequence[Any] | Any, converted: Any, *, backend: str = "runtime",
           rtol: float | None = None, atol: float | None = None, caffe_backend: str = "auto",
           deploy: Deploy | None = None, quantize: RknnQuantization | TpuMlirQuantization | None = None,
           evaluate: Sequence[Mapping[str, np.ndarray]] = (), onnx_baseline: bool = True) -> ParityReport:
    """Compare every mapped Caffe blob of `converted` with PyTorch's `model` on `inputs`.

    `rtol`/`atol` default to the backend's (`default_tolerances`).  `deploy` (backend
    "tpu-mlir"): compile for that processor and precision and compare the compiled model's
    outputs instead of the top-level interpreter's tensors.

    `quantize` (backend "rknn": a `RknnQuantization`; "tpu-mlir": a `TpuMlirQuantization`): build int8,
    calibrated on its samples, and with `onnx_baseline` the same model through the toolchain's own
    ONNX route too (`purecaffe.int8`); `evaluate` samples are
    scored on outputs (top-k for a classifier).  The report's `int8` part then decides `passed`
    and its rows show each blob's cosine to PyTorch without a bound.

    `converted` is a `ConvertedNet` or the path prefix it was saved under
    (`out/resnet18` for out/resnet18.prototxt/.caffemodel/.purecaffe.json); the
    files on disk are what is checked, so a hand-edited prototxt is caught.  A model
    whose weights are not the converted ones (the sidecar's fingerprint) raises
    `WeightsMismatchError` before anything is run.
    """
    import torch

    if backend not in BACKENDS:
        raise PurecaffeError(f"unknown verify backend {backend!r} (choose from {', '.join(BACKENDS)})")
    if quantize is not None:
        from purecaffe.int8.routes import toolchain_of

        toolchain = toolchain_of(quantize).backend
        if backend != toolchain or deploy is not None:
            raise PurecaffeError(f"a {type(quantize).__name__} is built and judged on backend {toolchain}, "
                                 f"not {backend}" + (" with a Deploy" if backend == toolchain else ""))
    default_rtol, default_atol, min_cosine = default_tolerances(backend, deploy)
    # A judge that computes in fp16 storage is held to the runtime's fp16 storage unless a tolerance is given.
    judge = JUDGES.get(backend)
    fp16_judge = judge.fp16_reference if judge is not None and deploy is None and rtol is None and atol is None \
        else None
    given_tolerance = rtol is not None or atol is not None
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    with tempfile.TemporaryDirectory(prefix="purecaffe-verify-") as scratch:
        if isinstance(converted, (str, os.PathLike)):
            saved = output_paths(converted)
            prototxt, caffemodel = saved.prototxt, saved.caffemodel
            for path in (prototxt, caffemodel):
                if not path.is_file():
                    raise FormatError("missing: verify needs the converted prototxt and caffemodel", path=path)
            sidecar = read_sidecar(saved.sidecar)
            progress = Progress(str(converted), layers=_layer_count(prototxt))
            with progress.stage("PyTorch's value of every captured tensor"):
                expected = _torch_values(model, inputs, sidecar, saved.sidecar)
            prefix = Path(converted)
        else:
            prefix = Path(scratch) / "net"
            progress = Progress(converted.name, layers=len(converted.net.layer))
            with progress.stage("saving the converted net"):
                files = converted.save(prefix)
            prototxt, caffemodel = files.prototxt, files.caffemodel
            sidecar = converted.sidecar()
            with progress.stage("PyTorch's value of every captured tensor"):
                expected = converted.torch_values(inputs)
        caffe_inputs = _caffe_inputs(sidecar, inputs)
        if quantize is not None:
            with progress.stage(f"int8 on {backend} (Caffe route" + (" and ONNX route)" if onnx_baseline else ")")):
                return _verify_int8(model, inputs, prefix, quantize, evaluate, onnx_baseline, sidecar, expected,
                                    caffe_inputs, atol=atol, prototxt=prototxt)
        with progress.stage(f"running the net on {backend}" + (f" ({deploy.describe()})" if deploy else "")):
            outputs = run_backend(backend, prototxt, caffemodel, caffe_inputs, caffe_backend=caffe_backend,
                                  deploy=deploy, outputs=[entry["blob"] for entry in sidecar.get("outputs", [])])
        if fp16_judge is not None and not outputs.error:
            with progress.stage("the runtime in fp16 storage and in float32 (the fp16 reference)"):
                reference = fp16_reference(prototxt, caffemodel, caffe_inputs, sidecar, expected)
            with progress.stage("comparing"):
                report = build_report(sidecar, {**expected, **reference.values}, outputs, rtol=rtol, atol=atol,
                                      min_cosine=min_cosine, prototxt=prototxt, bounds=reference.bounds(fp16_judge),
                                      costs=reference.cost)
            rows = tuple(dataclasses.replace(c, passed=False, note=reference.file_faults[c.torch_name])
                         if c.torch_name in reference.file_faults else c for c in report.comparisons)
            return dataclasses.replace(report, comparisons=rows, fp16_reference=fp16_judge.describe(),
                                       fp16_cost=reference.output_cost(sidecar))
        with progress.stage("comparing"):
            report = build_report(sidecar, expected, outputs, rtol=rtol, atol=atol, min_cosine=min_cosine,
                                  prototxt=prototxt)
        diagnostic = judge.diagnostic if judge is not None and given_tolerance is False and deploy is None else None
        if report.passed or outputs.error or diagnostic is None:
            return report
        with progress.stage(f"running the net on {backend} again, {diagnostic.name} (the default run missed "
                            f"{rtol:g})"):
            exact = run_backend(backend, prototxt, caffemodel, caffe_inputs, caffe_backend=caffe_backend,
                                outputs=[entry["blob"] for entry in sidecar.get("outputs", [])],
                                options=diagnostic.options)
            return diagnosed(report, diagnostic, build_report(
                sidecar, expected, exact, rtol=diagnostic.tolerance.rtol, atol=diagnostic.tolerance.atol,
                min_cosine=diagnostic.tolerance.min_cosine, prototxt=prototxt))


def diagnosed(default: ParityReport, diagnostic: Diagnostic, exact: ParityReport) -> ParityReport:
    """The verdict once the judge's diagnostic run (`Judge.diagnostic`) is in, for a default run that missed.

    Every blob within the diagnostic's tolerance: that report, passed, saying how far the default run
    drifted (the consumer's arithmetic, the file read right).  Otherwise the default run's failure,
    saying the diagnostic run diverges too (a misread)."""
    worst = default.worst
    drift = f"{worst.max_rel_err:.2e} of max|torch| at {worst.layer}" if worst and worst.max_rel_err else "?"
    if exact.passed:
        return dataclasses.replace(exact, diagnostic=(
            f"the default run missed {default.rtol:g} x max|torch| (up to {drift}); with {diagnostic.name} every "
            f"blob is within {diagnostic.tolerance.name}'s {diagnostic.tolerance.rtol:g}: the file is read right, "
            f"the default run's miss is its arithmetic"))
    first = exact.first_divergence
    where = f"first at layer '{first.layer}'" if first is not None else exact.backend_error or "?"
    return dataclasses.replace(default, diagnostic=(
        f"with {diagnostic.name} it diverges too ({where}): not the consumer's arithmetic"))


def _layer_count(prototxt: Path) -> int:
    from purecaffe.io.prototxt import read_net

    return len(read_net(prototxt).layer)


def _verify_int8(model: Any, inputs: tuple[Any, ...], prefix: Path, quantize: Any,
                 evaluate: Sequence[Mapping[str, np.ndarray]], onnx_baseline: bool, sidecar: Mapping[str, Any],
                 expected: Mapping[str, np.ndarray], caffe_inputs: Mapping[str, np.ndarray], *, atol: float,
                 prototxt: Path) -> ParityReport:
    """Both int8 routes (`purecaffe.int8.int8_routes`); the Caffe route's per-layer values as the rows."""
    from purecaffe.int8 import int8_routes

    comparison = int8_routes(model, inputs, prefix, quantize, evaluate=evaluate, onnx=onnx_baseline)
    rows = INT8_ROWS[comparison.toolchain.backend]
    outputs = rows(comparison, prototxt, caffe_inputs, [entry["blob"] for entry in sidecar.get("outputs", [])])
    report = build_report(sidecar, expected, outputs, rtol=math.inf, atol=atol, prototxt=prototxt)
    return dataclasses.replace(report, int8=comparison)


def _rknn_int8_rows(comparison: Int8Comparison, prototxt: Path, caffe_inputs: Mapping[str, np.ndarray],
                    outputs: Sequence[str]) -> LayerOutputs:
    """RKNN's int8 dump by Caffe layer, and `inference()`'s list read by place."""
    from purecaffe.parity.backends import rknn_layer_outputs

    return rknn_layer_outputs(comparison.caffe_run, prototxt, caffe_inputs, "int8 simulator", outputs=outputs)


def _tpumlir_int8_rows(comparison: Int8Comparison, prototxt: Path, caffe_inputs: Mapping[str, np.ndarray],
                       outputs: Sequence[str]) -> LayerOutputs:
    """Every tensor of tpu-mlir's int8 tpu-level MLIR by Caffe layer and top, and the outputs read by name."""
    from purecaffe.judgejob import JudgeRun
    from purecaffe.parity.backends import judge_outputs
    from purecaffe.parity.reads import named_read

    run = comparison.caffe_run
    consumer = f"tpu-mlir {run.version} (int8 tpu-level MLIR)"
    judged = JudgeRun(consumer, outputs=run.outputs, layers=run.caffe_layers(prototxt), error=run.error,
                      version=run.version)
    snapshots = judge_outputs(judged, prototxt, caffe_inputs)
    if run.error or not outputs:
        return snapshots
    return dataclasses.replace(snapshots, reads=(named_read("tpu-mlir int8 outputs by name", run.outputs, outputs),))


INT8_ROWS: dict[str, Callable[[Int8Comparison, Path, Mapping[str, np.ndarray], Sequence[str]], LayerOutputs]] = {
    "rknn": _rknn_int8_rows, "tpu-mlir": _tpumlir_int8_rows}
"""How each int8 toolchain's Caffe route becomes the report's rows (each blob's cosine to PyTorch)."""


class WeightsMismatchError(PurecaffeError):
    """`verify` was given a model whose weights are not the ones converted (exit status 2).

    Not a parity failure (exit 1): compared with other weights every blob diverges, which says
    nothing about the files; like a checkpoint that does not match its model, it is the input
    that is wrong, so nothing is compared."""


def _torch_values(model: Any, inputs: tuple[Any, ...], sidecar: Mapping[str, Any], path: Path
                  ) -> dict[str, np.ndarray]:
    """PyTorch's value of every captured tensor, under the names the converter's sidecar uses, once
    the model's weights are known to be the converted ones (the sidecar's fingerprint)."""
    from purecaffe.converter.capture import capture
    from purecaffe.converter.fingerprint import fingerprint_difference, weights_fingerprint
    from purecaffe.converter.torch_values import torch_values

    captured = capture(model, inputs)
    recorded = sidecar.get("weights")
    difference = None if recorded is None else fingerprint_difference(recorded, weights_fingerprint(captured.graph))
    if difference is not None:
        raise WeightsMismatchError(difference, path=path)
    return torch_values(captured.program, inputs)


def _caffe_inputs(sidecar: Mapping[str, Any], inputs: tuple[Any, ...]) -> dict[str, np.ndarray]:
    declared = sidecar.get("inputs", [])
    if len(declared) != len(inputs):
        raise PurecaffeError(f"the converted net has {len(declared)} inputs "
                             f"({', '.join(i['blob'] for i in declared)}) but {len(inputs)} were given")
    arrays = {}
    for entry, value in zip(declared, inputs):
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        arrays[entry["blob"]] = np.ascontiguousarray(array, dtype=np.float32)
    return arrays


def build_report(sidecar: Mapping[str, Any], expected: Mapping[str, np.ndarray], outputs: LayerOutputs, *,
                 rtol: float, atol: float, prototxt: Path, min_cosine: float | None = None,
                 bounds: Mapping[str, tuple[float, float, float]] | None = None,
                 costs: Mapping[str, tuple[float, float]] | None = None) -> ParityReport:
    """Compare each sidecar entry with its reference value (`expected`, by torch name).

    `bounds`: (rtol, atol, min cosine) per torch name where the reference is the fp16 one
    (`purecaffe.parity.fp16`), with `costs`, the fp16 cost there, written in the row's note.

    When the backend refused the net, compare shapes from shape inference; when it
    shows only some layers (`outputs.partial`, RKNN's fusions), compare those.  Then the net
    outputs as the consumer's users read them (`outputs.reads`), one row per read and output.
    """
    from purecaffe.io.prototxt import read_net

    name = str(sidecar.get("name", prototxt.stem))
    net = read_net(prototxt)
    order = {layer.name: i for i, layer in enumerate(net.layer)}
    types = {layer.name: layer.type for layer in net.layer}
    entries = [e for e in sidecar["tensors"] if e.get("layer") in order]
    missing_layers = [e["layer"] for e in sidecar["tensors"] if e.get("layer") not in order]
    if missing_layers:
        raise FormatError(f"the sidecar names layers the prototxt does not have: {', '.join(missing_layers[:5])}",
                          path=prototxt)
    unknown = [e["torch"] for e in entries if e["torch"] not in expected]
    if unknown:
        raise PurecaffeError(f"the sidecar does not belong to this model: it maps torch values "
                             f"{', '.join(unknown[:5])} that the model's capture does not have")
    entries.sort(key=lambda e: order[e["layer"]])
    # Several torch values can live in one blob at one point (a getitem of a multi-output op, a
    # removed identity); one comparison each is enough.
    unique: dict[tuple[str, str], Mapping[str, Any]] = {}
    for entry in entries:
        unique.setdefault((entry["layer"], entry["blob"]), entry)
    entries = list(unique.values())
    if outputs.partial and not outputs.error:
        entries = [e for e in entries if (outputs.after(e["layer"]) or {}).get(e["blob"]) is not None
                   or e["layer"] in outputs.dropped]
    static_shapes = _inferred_shapes(net, sidecar, expected) if outputs.error else {}
    comparisons = []
    for index, entry in enumerate(entries):
        torch_value = expected[entry["torch"]]
        if outputs.error:
            shape, max_abs, max_rel, cosine, passed, note = _shape_only(static_shapes, entry, torch_value)
            scale = float(np.max(np.abs(torch_value))) if torch_value.size else 0.0
        else:
            tops = outputs.after(entry["layer"])
            caffe_value = None if tops is None else tops.get(entry["blob"])
            bound = (bounds or {}).get(entry["torch"])
            blob_rtol, blob_atol, blob_cosine = bound or (rtol, atol, min_cosine)
            shape, max_abs, max_rel, cosine, scale, passed, note = compare_arrays(
                caffe_value, torch_value, rtol=blob_rtol, atol=blob_atol, min_cosine=blob_cosine)
            if bound is not None and costs is not None:
                cost = costs[entry["torch"]]
                if not passed and not note and max_abs is not None:
                    note = f"max|err| {max_abs:.3e} > {blob_rtol:.3g} x {scale:.3e}"
                note = "; ".join(part for part in (note, f"fp16 cost 1-cos {cost[0]:.1e}, rel {cost[1]:.1e}") if part)
            if entry["layer"] in outputs.dropped:
                passed, note = False, f"the backend left this layer out: {outputs.dropped[entry['layer']]}"
        comparisons.append(BlobComparison(
            index=index, layer=entry["layer"], layer_type=types[entry["layer"]], blob=entry["blob"],
            torch_name=entry["torch"], module=entry.get("module", ""), op=entry.get("op", ""),
            torch_shape=tuple(entry.get("shape", ())), caffe_shape=shape, max_abs_err=max_abs, max_rel_err=max_rel,
            cosine=cosine, scale=scale, passed=passed, note=note))
    if not outputs.error:
        for row in compare_reads(outputs.reads, net, sidecar, expected, rtol=rtol, atol=atol,
                                 min_cosine=min_cosine, start=len(comparisons), bounds=bounds):
            if bounds is not None and costs is not None and row.torch_name in costs:
                cost = costs[row.torch_name]
                row = dataclasses.replace(row, note="; ".join(
                    part for part in (row.note, f"fp16 cost 1-cos {cost[0]:.1e}, rel {cost[1]:.1e}") if part))
            comparisons.append(row)
    cut = tuple((sidecar.get("cut") or {}).get("outputs", ()))
    target = str(sidecar.get("target", "bvlc"))
    judge = TARGETS[target].judge.backend if target in TARGETS else None
    backend_kind = outputs.backend.split()[0]
    if judge is None or backend_kind.startswith(judge):
        judge_hint = ""
    elif backend_kind == "runtime":
        judge_hint = f"its real consumer: --backend {judge}"
    else:  # another real consumer than the one the file was written for
        judge_hint = f"its judge is --backend {judge}; {outputs.backend} may read this file differently"
    return ParityReport(name=name, backend=outputs.backend, rtol=rtol, atol=atol, comparisons=tuple(comparisons),
                        backend_error=outputs.error, min_cosine=min_cosine, cut=cut,
                        target=target, judge_hint=judge_hint)


def _inferred_shapes(net: Any, sidecar: Mapping[str, Any], expected: Mapping[str, np.ndarray]
                     ) -> dict[tuple[str, str], tuple[int, ...]] | str:
    """(layer, top) -> shape from Caffe-semantics shape inference, or the inference's own error."""
    from purecaffe.runtime import infer_shapes

    inputs = {entry["blob"]: tuple(expected[entry["torch"]].shape) for entry in sidecar.get("inputs", [])
              if entry["torch"] in expected}
    try:
        inference = infer_shapes(net, inputs)
    except PurecaffeError as error:
        return error.one_line()
    return {(step.name, top): tuple(shape) for step in inference.steps for top, shape in step.tops}


def _shape_only(static_shapes: dict[tuple[str, str], tuple[int, ...]] | str, entry: Mapping[str, Any],
                expected: np.ndarray) -> tuple[tuple[int, ...] | None, None, None, None, bool, str]:
    """What can be said of a blob when the backend refused the net: does its shape match?"""
    if isinstance(static_shapes, str):
        return None, None, None, None, False, f"not run; shape inference failed too: {static_shapes}"
    shape = static_shapes.get((entry["layer"], entry["blob"]))
    if shape is not None and shape != tuple(expected.shape):
        return shape, None, None, None, False, f"shape {shape} != torch {tuple(expected.shape)}"
    return shape, None, None, None, False, "not run: the backend refused the net"


__all__ = ["BACKENDS", "BlobComparison", "ParityReport", "WeightsMismatchError", "build_report", "default_tolerances",
           "diagnosed", "verify"]
