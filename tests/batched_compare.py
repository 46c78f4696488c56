"""Many conversions, one real-Caffe run: `compare_cases(cases) -> {case id: CaseResult}`.

Starting real Caffe costs about a second (chroot, Python, import caffe), more than most
single-op nets take to run, so a test module converts all its cases, merges the nets into one
prototxt (every layer and blob name prefixed `c<k>/`, each case keeping its own Input layer and
weights) and runs that once.  Each parametrized test then checks its own case with
`result.check()`, which asserts the same thing as `torch_compare.run_compare_torch`:

    every mapped blob:  max |caffe - torch| <= rtol * max |torch| + atol
    every model output: the same bound against the model's own forward pass

With real Caffe, the runtime (`purecaffe.run`) runs the same merged net too and every
layer's tops are compared between the two (`torch_compare.runtime_against_caffe`).

If Caffe refuses the merged net, every case is run on its own so the failure names its case.
A case whose conversion raised keeps the exception; `check()` re-raises it (or, with
`refused=...`, asserts that the conversion was refused with that text).
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import purecaffe
from purecaffe.io.prototxt import write_net
from purecaffe.targets.judges import FLOAT32
from torch_compare import (BlobError, RuntimeCheck, _resolve_backend, assert_runtime_agrees,
                           blob_error, describe_bad, eager_outputs, make_inputs, runtime_against_caffe)

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Case:
    """One model to convert and compare.  `model` may be a zero-argument factory."""

    id: str
    model: torch.nn.Module | Callable[[], torch.nn.Module]
    inputs: Sequence[Any]
    rtol: float = FLOAT32.rtol
    atol: float = FLOAT32.atol
    expect_layers: tuple[str, ...] = ()
    refused: str | None = None
    """Text the UnsupportedOpsError must contain; the case must then fail to convert."""
    reason: str = ""
    """Why the tolerance differs from the default (documentation for the reader)."""
    seed: int = 0
    convert_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> torch.nn.Module:
        model = self.model if isinstance(self.model, torch.nn.Module) else self.model()
        return model.eval()


@dataclass
class CaseResult:
    case: Case
    net: Any = None
    conversion_error: BaseException | None = None
    caffe_error: str | None = None
    errors: tuple[BlobError, ...] = ()
    output_errors: tuple[BlobError, ...] = ()
    backend: str = ""
    runtime_vs_caffe: RuntimeCheck | None = None
    """With real Caffe: the runtime against Caffe on every layer's tops of this case."""

    @property
    def worst(self) -> BlobError | None:
        return max(self.errors, key=lambda e: e.relative, default=None)

    def check(self) -> None:
        case = self.case
        if case.refused is not None:
            assert self.conversion_error is not None, f"{case.id}: expected a refusal ({case.refused!r}), " \
                                                      f"but it converted"
            assert isinstance(self.conversion_error, purecaffe.UnsupportedError), repr(self.conversion_error)
            assert case.refused in str(self.conversion_error), str(self.conversion_error)
            return
        if self.conversion_error is not None:
            raise self.conversion_error
        types = {layer.type for layer in self.net.net.layer}
        for wanted in case.expect_layers:
            assert wanted in types, f"{case.id}: expected a {wanted} layer, got {sorted(types)}"
        assert self.caffe_error is None, f"{case.id}: Caffe refused the net: {self.caffe_error}"
        assert self.errors, f"{case.id}: nothing was compared"
        assert all(e.passed for e in self.errors), \
            f"{case.id}: blobs differ from PyTorch ({self.backend}): " + describe_bad(self.errors)
        assert all(e.passed for e in self.output_errors), \
            f"{case.id}: model outputs differ ({self.backend}): " + describe_bad(self.output_errors)
        if self.runtime_vs_caffe is not None:
            assert_runtime_agrees(self.runtime_vs_caffe, case.id)


@dataclass
class _Prepared:
    result: CaseResult
    tensors: tuple[torch.Tensor, ...] = ()
    reference: dict[str, np.ndarray] = field(default_factory=dict)
    expected_outputs: list[np.ndarray | None] = field(default_factory=list)


def _prepare(case: Case) -> _Prepared:
    result = CaseResult(case)
    torch.manual_seed(case.seed)
    try:
        model = case.build()
        tensors = make_inputs(list(case.inputs), case.seed)
        result.net = purecaffe.convert(model, tensors, **dict(case.convert_kwargs))
    except Exception as error:  # noqa: BLE001 - kept for the case's own test to report
        result.conversion_error = error
        return _Prepared(result)
    expected = [None if t is None else t.detach().numpy() for t in eager_outputs(model, tensors, result.net)]
    return _Prepared(result, tensors, result.net.torch_values(tensors), expected)


def _merge(prepared: Sequence[_Prepared]) -> tuple[Any, dict[str, list[np.ndarray]], dict[str, np.ndarray]]:
    """One NetParameter holding every case's layers under `c<k>/` names, its weights and feeds."""
    merged = purecaffe.load_schema().NetParameter()
    merged.name = "batched"
    weights: dict[str, list[np.ndarray]] = {}
    feeds: dict[str, np.ndarray] = {}
    for k, item in enumerate(prepared):
        prefix, net = f"c{k}/", item.result.net
        for layer in net.net.layer:
            copy = merged.layer.add()
            copy.CopyFrom(layer)
            copy.name = prefix + layer.name
            copy.bottom[:] = [prefix + b for b in layer.bottom]
            copy.top[:] = [prefix + t for t in layer.top]
        for name, blobs in net.weights.items():
            weights[prefix + name] = blobs
        for name, tensor in zip(net.input_names, item.tensors):
            feeds[prefix + name] = tensor.detach().numpy()
    return merged, weights, feeds


Runner = tuple[str | None, Callable[[str, str], np.ndarray], RuntimeCheck | None]


def _run(prepared: Sequence[_Prepared], kind: str, backend: Any) -> Runner:
    merged, weights, feeds = _merge(prepared)
    with tempfile.TemporaryDirectory(prefix="purecaffe-batched-") as tmp:
        prototxt = Path(tmp) / "batched.prototxt"
        caffemodel: Path | None = Path(tmp) / "batched.caffemodel"
        write_net(merged, prototxt)
        if weights:
            purecaffe.save_weights(caffemodel, weights, net=merged)
        else:
            caffemodel = None  # a weightless net (only reshapes and arithmetic) has no caffemodel
        if kind == "real":
            from purecaffe.realcaffe import run_real_caffe

            run = run_real_caffe(prototxt, caffemodel, feeds, backend=backend)
            if not run.ok:
                return run.error, lambda layer, blob: np.empty(0), None
            return None, lambda layer, blob: run.after(layer, blob), runtime_against_caffe(run, prototxt, caffemodel, feeds)
        try:
            result = purecaffe.run(str(prototxt), None if caffemodel is None else str(caffemodel), feeds)
        except Exception as error:  # noqa: BLE001 - reported per case
            return f"{type(error).__name__}: {error}", lambda layer, blob: np.empty(0), None
        return None, lambda layer, blob: dict(result.step(layer).tops)[blob], None


def _collect(item: _Prepared, k: int, after: Callable[[str, str], np.ndarray], kind: str) -> None:
    result, net, prefix = item.result, item.result.net, f"c{k}/"
    result.backend = kind
    errors, values = [], {}
    for record in net.mapping:
        expected = item.reference[record.torch_name]
        got = after(prefix + record.layer, prefix + record.blob)
        values[record.torch_name] = got
        errors.append(blob_error(record.torch_name, record.blob, record.layer, got, expected, rtol=result.case.rtol,
                                 atol=result.case.atol))
    result.errors = tuple(errors)
    outputs = []
    for blob, torch_name, expected in zip(net.output_names, net.torch_output_names, item.expected_outputs):
        if expected is None:  # a cut output named by a captured value: its mapped blob was compared above
            continue
        outputs.append(blob_error(torch_name, blob, "output", values.get(torch_name), expected,
                                  rtol=result.case.rtol, atol=result.case.atol))
    result.output_errors = tuple(outputs)


def _collect_or_record(item: _Prepared, k: int, runner: Runner, kind: str) -> None:
    _, after, runtime_check = runner
    prefix = f"c{k}/"
    if isinstance(runtime_check, list):
        item.result.runtime_vs_caffe = [c for c in runtime_check if c[0].startswith(prefix)]
    else:
        item.result.runtime_vs_caffe = runtime_check
    try:
        _collect(item, k, after, kind)
    except (AssertionError, KeyError) as error:
        item.result.caffe_error = f"comparison failed: {error}"


def compare_cases(cases: Sequence[Case], *, backend: str | None = None) -> dict[str, CaseResult]:
    """Convert every case, run all converted nets in one Caffe invocation, compare each."""
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids), f"duplicate case ids: {ids}"
    prepared = [_prepare(case) for case in cases]
    runnable = [p for p in prepared if p.result.conversion_error is None]
    if runnable:
        kind, real_backend = _resolve_backend(backend)
        runner = _run(runnable, kind, real_backend)
        if runner[0] is None:
            for k, item in enumerate(runnable):
                _collect_or_record(item, k, runner, kind)
        else:
            log.warning("Caffe refused the batched net (%s); running the %d cases one by one", runner[0],
                        len(runnable))
            for item in runnable:
                runner = _run([item], kind, real_backend)
                if runner[0] is None:
                    _collect_or_record(item, 0, runner, kind)
                else:
                    item.result.caffe_error = runner[0]
    return {p.result.case.id: p.result for p in prepared}
