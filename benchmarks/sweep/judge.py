"""Comparing a consumer's final outputs with PyTorch's, and naming what went wrong.

Bounds (the issues' own):
* float32 consumers (real Caffe, OpenCV, the runtime): max|got - torch| <= 1e-4 x max|torch| + 1e-6
  (float32 rounding and summation order; a wrong axis, pad or rounding mode errs by whole values);
* RKNN's fp16 simulator: cosine >= 0.9999 and max|got - torch| <= 5e-2 x max|torch|.

Classes: OK; SILENT-MISMATCH (ran, wrong numbers, or fewer outputs than the net has: the worst
class); WRONG-ORDER (every tensor is right but some sit at another position); FP16-DRIFT (RKNN
misses the fp16 bound while PyTorch's own fp16 run of the model is at least half as far from fp32:
the fp16 judge, not the file, is at fault, as in issue 17); FP32-DRIFT (a float32 consumer misses the
float32 bound, but against PyTorch's float64 run of the same model it errs at most 10x as much as
PyTorch's own float32 run does: rounding amplified by a deep random net, not a wrong layer, which
errs by whole values).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

FLOAT32 = "float32"
FP16 = "fp16"
RTOL, ATOL = 1e-4, 1e-6
MIN_COSINE, FP16_RTOL = 0.9999, 5e-2


@dataclass(frozen=True)
class Comparison:
    position: int
    shape: tuple[int, ...]
    got_shape: tuple[int, ...]
    max_abs: float
    relative: float  # max_abs / max|torch|
    cosine: float
    passed: bool
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    denominator = np.linalg.norm(a64) * np.linalg.norm(b64)
    if denominator == 0:
        return 1.0 if np.array_equal(a64, b64) else 0.0
    return float(np.dot(a64, b64) / denominator)


def compare(position: int, expected: np.ndarray, got: np.ndarray, rule: str) -> Comparison:
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    note = ""
    if got.shape != expected.shape:
        if got.size != expected.size:
            return Comparison(position, expected.shape, got.shape, float("inf"), float("inf"), 0.0, False,
                              "different size")
        note = f"shape {got.shape} reshaped to {expected.shape}"
        got = got.reshape(expected.shape)
    if not np.isfinite(got).all():
        return Comparison(position, expected.shape, got.shape, float("inf"), float("inf"), 0.0, False,
                          (note + "; " if note else "") + "non-finite values")
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    max_abs = float(np.abs(got - expected).max()) if expected.size else 0.0
    relative = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    cosine = _cosine(expected, got)
    if rule == FLOAT32:
        passed = max_abs <= RTOL * scale + ATOL
    else:
        passed = cosine >= MIN_COSINE and max_abs <= FP16_RTOL * scale
    return Comparison(position, tuple(expected.shape), tuple(got.shape), max_abs, relative, cosine, passed, note)


@dataclass(frozen=True)
class Verdict:
    cls: str
    reason: str
    comparisons: tuple[Comparison, ...]


def judge(expected: Sequence[np.ndarray], got: Sequence[np.ndarray], rule: str) -> Verdict:
    """Position i of `got` against position i of `expected`; a swap is told apart from wrong numbers."""
    if len(got) != len(expected):
        return Verdict("SILENT-MISMATCH", f"the consumer returned {len(got)} outputs, the net has {len(expected)}",
                       ())
    comparisons = tuple(compare(i, e, g, rule) for i, (e, g) in enumerate(zip(expected, got)))
    failed = [c for c in comparisons if not c.passed]
    if not failed:
        return Verdict("OK", "", comparisons)
    placement = _permutation(expected, got, rule)
    if placement is not None:
        moved = ", ".join(f"position {i} holds output {j} {tuple(expected[j].shape)}"
                          for i, j in enumerate(placement) if i != j)
        return Verdict("WRONG-ORDER", moved, comparisons)
    worst = min(failed, key=lambda c: c.cosine)
    what = worst.note or f"cosine {worst.cosine:.6f}, max err {worst.relative:.2e} of max|torch|"
    return Verdict("SILENT-MISMATCH", f"{len(failed)}/{len(comparisons)} outputs wrong; worst #{worst.position} "
                   f"{worst.shape}: {what}", comparisons)


def _permutation(expected: Sequence[np.ndarray], got: Sequence[np.ndarray], rule: str) -> list[int] | None:
    """For each position, the expected output it holds, when every one is right somewhere else."""
    placement: list[int] = []
    free = set(range(len(expected)))
    for value in got:
        match = next((j for j in sorted(free) if np.asarray(expected[j]).size == np.asarray(value).size
                      and compare(0, expected[j], value, rule).passed), None)
        if match is None:
            return None
        placement.append(match)
        free.discard(match)
    return placement


DRIFT_FACTOR = 10.0


def fp32_drift(expected: Sequence[np.ndarray], got: Sequence[np.ndarray], exact: Sequence[np.ndarray],
               comparisons: Sequence[Comparison]) -> tuple[bool, list[dict[str, float]]]:
    """Whether every failing output is float32 rounding: the consumer's error against PyTorch's float64
    run (`exact`) is at most DRIFT_FACTOR x PyTorch's own float32 error against it."""
    details, drift = [], True
    for comparison, ours, theirs, truth in zip(comparisons, got, expected, exact):
        if comparison.note:  # a size difference or non-finite values are not rounding
            drift = drift and comparison.passed
            continue
        truth = np.asarray(truth, dtype=np.float64)
        scale = float(np.abs(truth).max()) or 1.0
        consumer = float(np.abs(np.asarray(ours, dtype=np.float64).reshape(truth.shape) - truth).max()) / scale
        torch32 = float(np.abs(np.asarray(theirs, dtype=np.float64) - truth).max()) / scale
        details.append({"position": comparison.position, "consumer_vs_fp64": consumer, "torch32_vs_fp64": torch32})
        if not comparison.passed and consumer > DRIFT_FACTOR * max(torch32, 1e-7):
            drift = False
    return drift, details


def fp16_is_the_cause(rknn: Sequence[Comparison], torch_fp16: Sequence[Comparison]) -> bool:
    """Every output RKNN misses, PyTorch's own fp16 misses by at least half as much (1 - cosine or max err)."""
    if len(torch_fp16) != len(rknn):
        return False
    for ours, theirs in zip(rknn, torch_fp16):
        if ours.passed:
            continue
        if ours.note:  # a size difference or non-finite values are not rounding
            return False
        if (1 - theirs.cosine) < 0.5 * (1 - ours.cosine) and theirs.relative < 0.5 * ours.relative:
            return False
    return True
