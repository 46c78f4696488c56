"""`run_compare_torch`: convert a model, run the Caffe net, compare every mapped blob.

One line per test case, in the spirit of coremltools' `run_compare_torch`::

    from torch_compare import run_compare_torch

    @pytest.mark.parametrize("stride", [1, 2])
    def test_conv(stride, real_caffe_backend):
        run_compare_torch(nn.Conv2d(3, 8, 3, stride=stride), (1, 3, 11, 13))

`inputs` are shapes (random float32 inputs, seeded) or tensors.  Every Caffe
blob that corresponds to a PyTorch tensor (the `ConvertedNet.mapping`, i.e.
the sidecar) is compared with PyTorch's value right after the layer that
produced it:

    max |caffe - torch| <= rtol * max |torch|   (+ atol, default 1e-6, for all-zero tensors)

rtol defaults to 1e-4: float32 results that differ only in summation order
and in how each library rounds its transcendental functions.

Set PURECAFFE_COMPARE_LOG=FILE to append one JSON line per comparison
(test, backend, worst blob and its errors).

Which Caffe runs the net (`backend=`, default `PURECAFFE_COMPARE_BACKEND` or "auto"):
"real" -- real Caffe 1.0 through `tests/caffe_backend.py` (skips locally, fails
under CI=true when unavailable); "runtime" -- the in-process runtime
`purecaffe.run`; "auto" -- real Caffe when available, else the runtime (real
Caffe is required under CI=true).
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import purecaffe
from corpus import in_ci
from purecaffe.parity.compare import compare_arrays  # the product's comparator
from purecaffe.targets.judges import FLOAT32

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlobError:
    torch_name: str
    blob: str
    layer: str
    max_abs_error: float
    max_abs_value: float
    passed: bool = True
    note: str = ""

    @property
    def relative(self) -> float:
        return self.max_abs_error / self.max_abs_value if self.max_abs_value else self.max_abs_error


@dataclass(frozen=True)
class Comparison:
    net: Any  # purecaffe.ConvertedNet
    backend: str
    errors: tuple[BlobError, ...]
    files: Any = None
    caffe_values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def worst(self) -> BlobError | None:
        return max(self.errors, key=lambda e: e.relative, default=None)


def eager_outputs(model: torch.nn.Module, tensors: Sequence[torch.Tensor], net: Any) -> list[torch.Tensor | None]:
    """What the eager model gives for each output of `net`: the model's own outputs, or for a net cut
    at module paths (`convert(..., outputs=...)`), each module call's output caught by a forward hook
    (`path#k`: its k-th call; `path:i`: the i-th tensor it returned).  None for an output named by a
    captured value (no module to hook)."""
    if net.cut is None:
        with torch.no_grad():
            return list(torch.utils._pytree.tree_leaves(model(*tensors)))
    modules = dict(model.named_modules())
    wanted: list[tuple[str, int, int] | None] = []
    for key in net.graph.output_keys:
        spec, _, item = key.partition(":")
        path, _, call = spec.partition("#")
        wanted.append((path, int(call or 0), int(item or 0)) if path in modules else None)
    caught: dict[str, list[list[torch.Tensor]]] = {w[0]: [] for w in wanted if w is not None}
    handles = [modules[path].register_forward_hook(
        lambda _m, _i, out, calls=calls: calls.append(torch.utils._pytree.tree_leaves(out)))
        for path, calls in caught.items()]
    try:
        with torch.no_grad():
            model(*tensors)
    finally:
        for handle in handles:
            handle.remove()
    return [None if w is None else caught[w[0]][w[1]][w[2]] for w in wanted]


def blob_error(torch_name: str, blob: str, layer: str, got: np.ndarray | None, expected: np.ndarray, *,
               rtol: float, atol: float) -> BlobError:
    """One blob judged by the product's own comparator (`purecaffe.parity.compare.compare_arrays`):
    shape, finiteness, and max |caffe - torch| <= rtol * max |torch| + atol."""
    _, max_abs, _, _, scale, passed, note = compare_arrays(got, expected, rtol=rtol, atol=atol)
    return BlobError(torch_name, blob, layer, float("inf") if max_abs is None else max_abs, scale, passed, note)


def describe_bad(errors: Sequence[BlobError]) -> str:
    return "; ".join(f"{e.torch_name} (blob {e.blob} after {e.layer}): max abs error {e.max_abs_error:.3g} vs "
                     f"max |value| {e.max_abs_value:.3g}{' (' + e.note + ')' if e.note else ''}"
                     for e in errors if not e.passed)


def make_inputs(inputs: Sequence[Any], seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Shapes become seeded standard-normal float32 tensors; tensors pass through."""
    generator = torch.Generator().manual_seed(seed)
    result = []
    for item in inputs:
        if isinstance(item, torch.Tensor):
            result.append(item)
        elif isinstance(item, np.ndarray):
            result.append(torch.from_numpy(item.astype(np.float32)))
        else:
            result.append(torch.randn(*item, generator=generator))
    return tuple(result)


def _as_input_list(inputs: Any) -> Sequence[Any]:
    if isinstance(inputs, tuple) and inputs and all(isinstance(d, int) for d in inputs):
        return [inputs]  # a single shape
    if isinstance(inputs, torch.Tensor):
        return [inputs]
    return list(inputs)


# Reference runtime vs real Caffe, per blob after every layer: both compute in float32 and differ
# only in summation order (torch kernels vs Caffe's BLAS GEMM), measured at ~1e-6 of a blob's scale.
# Every converted net of the test suite is checked this way when real Caffe runs it, so the runtime
# is proven against real Caffe on every model the converter's tests make.
RUNTIME_RTOL = 1e-4
RUNTIME_ATOL = 1e-6

# (layer, top, max abs difference, max |caffe value|) per compared blob, or the runtime's refusal.
RuntimeCheck = list[tuple[str, str, float, float]] | str


def runtime_against_caffe(run: Any, prototxt: Path, caffemodel: Path | None,
                          feeds: dict[str, np.ndarray]) -> RuntimeCheck:
    """The runtime on the same files, every layer's tops against real Caffe's snapshots."""
    try:
        result = purecaffe.run(str(prototxt), None if caffemodel is None else str(caffemodel), feeds)
    except Exception as error:  # noqa: BLE001 - reported by assert_runtime_agrees
        return f"{type(error).__name__}: {error}"
    compared = []
    steps = {step.name: dict(step.tops) for step in result.steps}
    for snapshot, top, value in run.snapshots():
        if snapshot.name not in steps:  # a Split layer Caffe inserted itself: a copy, not in the prototxt
            continue
        caffe = np.asarray(value, dtype=np.float64)
        diff = float(np.max(np.abs(steps[snapshot.name][top].astype(np.float64) - caffe))) if caffe.size else 0.0
        compared.append((snapshot.name, top, diff, float(np.max(np.abs(caffe))) if caffe.size else 0.0))
    return compared


def assert_runtime_agrees(check: RuntimeCheck, label: str) -> None:
    if isinstance(check, str):
        raise AssertionError(f"{label}: the runtime refused a net real Caffe ran: {check}")
    assert check, f"{label}: no layer compared between the runtime and real Caffe"
    off = [c for c in check if c[2] > RUNTIME_RTOL * c[3] + RUNTIME_ATOL]
    assert not off, f"{label}: runtime differs from real Caffe: " + "; ".join(
        f"{top} after {layer}: {diff:.3g} vs scale {scale:.3g}" for layer, top, diff, scale in off[:8])


def _resolve_backend(backend: str | None) -> tuple[str, Any]:
    choice = backend or os.environ.get("PURECAFFE_COMPARE_BACKEND", "auto")
    if choice == "runtime":
        return "runtime", None
    from caffe_backend import get_real_caffe_backend

    if choice == "real" or in_ci():
        return "real", get_real_caffe_backend()  # skips locally / fails under CI when unavailable
    try:
        return "real", get_real_caffe_backend()
    except pytest.skip.Exception as reason:
        log.warning("%s; comparing against the runtime instead", reason)
        return "runtime", None


def run_compare_torch(model: torch.nn.Module, inputs: Any, *, rtol: float = FLOAT32.rtol,
                      atol: float = FLOAT32.atol, backend: str | None = None, seed: int = 0,
                      expect_layers: Sequence[str] = (), **convert_kwargs: Any) -> Comparison:
    """Convert `model`, run it in Caffe, assert every mapped blob matches PyTorch; returns the details."""
    torch.manual_seed(seed)
    model = model.eval()
    tensors = make_inputs(_as_input_list(inputs), seed)
    net = purecaffe.convert(model, tensors, **convert_kwargs)
    types = {layer.type for layer in net.net.layer}
    for wanted in expect_layers:
        assert wanted in types, f"expected a {wanted} layer, got {sorted(types)}"
    reference = net.torch_values(tensors)
    feeds = {name: t.detach().numpy() for name, t in zip(net.input_names, tensors)}

    kind, real_backend = _resolve_backend(backend)
    with tempfile.TemporaryDirectory(prefix="purecaffe-compare-") as tmp:
        files = net.save(Path(tmp) / "net")
        if kind == "real":
            from purecaffe.realcaffe import run_real_caffe

            run = run_real_caffe(files.prototxt, files.caffemodel, feeds, backend=real_backend)
            assert run.ok, f"real Caffe refused the net: {run.error}"
            assert_runtime_agrees(runtime_against_caffe(run, files.prototxt, files.caffemodel, feeds), net.name)

            def after(layer: str, blob: str) -> np.ndarray:
                return run.after(layer, blob)
        else:
            result = purecaffe.run(str(files.prototxt), str(files.caffemodel), feeds)

            def after(layer: str, blob: str) -> np.ndarray:
                return dict(result.step(layer).tops)[blob]

        errors: list[BlobError] = []
        caffe_values: dict[str, np.ndarray] = {}
        for record in net.mapping:
            expected = reference[record.torch_name]
            got = after(record.layer, record.blob)
            caffe_values[record.torch_name] = got
            errors.append(blob_error(record.torch_name, record.blob, record.layer, got, expected, rtol=rtol, atol=atol))

    assert all(e.passed for e in errors), "blobs differ from PyTorch: " + describe_bad(errors)

    # The model's own outputs (not just the traced graph) must match too; for a cut net, the
    # outputs of the modules it was cut at, caught by forward hooks.
    flat = eager_outputs(model, tensors, net)
    for blob, torch_name, expected in zip(net.output_names, net.torch_output_names, flat):
        got = caffe_values.get(torch_name)
        if expected is None:  # a cut output named by a captured value, not a module: mapped blobs checked it
            continue
        assert got is not None, f"model output {blob} ({torch_name}) has no mapped Caffe blob: nothing checks it"
        output = blob_error(torch_name, blob, "output", got, expected.detach().numpy(), rtol=rtol, atol=atol)
        assert output.passed, f"model output differs: {describe_bad([output])}"
    comparison = Comparison(net=net, backend=kind, errors=tuple(errors), caffe_values=caffe_values)
    worst = comparison.worst
    if worst is not None:
        log.info("worst blob %s: %.3g relative (%s)", worst.torch_name, worst.relative, kind)
        record_path = os.environ.get("PURECAFFE_COMPARE_LOG")
        if record_path:  # one JSON line per comparison, for reports of the worst errors
            import json

            with open(record_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({
                    "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0], "backend": kind,
                    "blobs": len(errors), "worst_blob": worst.blob, "worst_layer": worst.layer,
                    "max_abs_error": worst.max_abs_error, "max_abs_value": worst.max_abs_value,
                    "relative": worst.relative}) + "\n")
    return comparison
