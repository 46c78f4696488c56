"""Comparing a consumer's final outputs with PyTorch's, and naming what went wrong.

Bounds: each target's judge's tolerance, from the target catalog (`purecaffe.targets.judges`):
float32 consumers (real Caffe, OpenCV, the runtime) max|got - torch| <= 1e-4 x max|torch| + 1e-6;
RKNN's fp16 simulator cosine >= 0.9999 and max|got - torch| <= 5e-2 x max|torch| + 1e-6; MNN's CPU
runtime (float32, Winograd convolutions) max|got - torch| <= 1e-3 x max|torch| + 1e-6, and where its
default run misses that, its judge's diagnostic run (Winograd off) at float32's 1e-4 decides between
FP32-DRIFT and SILENT-MISMATCH (`cell._diagnose`).

Classes: OK; SILENT-MISMATCH (ran, wrong numbers, or fewer outputs than the net has: the worst
class); WRONG-ORDER (every tensor is right but some sit at another position); FP16-DRIFT (RKNN
misses the fp16 bound while PyTorch's own fp16 run of the model is at least half as far from fp32
in both cosine and max error:
the fp16 judge, not the file, is at fault, as in issue 17); FP32-DRIFT (a float32 consumer misses the
float32 bound, but against PyTorch's float64 run of the same model it errs at most 10x as much as
PyTorch's own float32 run does: rounding amplified by a deep random net, not a wrong layer, which
errs by whole values); UNSTABLE-REFERENCE (a float32 consumer misses the bound by no more than
PyTorch's own output moves when each input value moves by at most one float32 ulp: the model's
answer is not defined to the bound on this input.  Measured on pytorchcv ENet, BN statistics from
images: its 3x3/2 max pooling windows hold exact ties in PyTorch (an image region of equal pixels),
real Caffe's convolutions round one of the tied values one ulp up, its argmax takes the other row,
and max_unpool2d writes that value one row away: 1.4e-2 of max|torch|; PyTorch itself moves
0.18-0.25 under one-ulp input noise.  Not OK: such a model cannot be judged at this bound).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from purecaffe.targets import Tolerance


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


def compare(position: int, expected: np.ndarray, got: np.ndarray, rule: Tolerance) -> Comparison:
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
    passed = max_abs <= rule.rtol * scale + rule.atol and (rule.min_cosine is None or cosine >= rule.min_cosine)
    return Comparison(position, tuple(expected.shape), tuple(got.shape), max_abs, relative, cosine, passed, note)


@dataclass(frozen=True)
class Verdict:
    cls: str
    reason: str
    comparisons: tuple[Comparison, ...]
    placement: tuple[int, ...] | None = None
    """When the consumer's tensors sit at other positions: the output each position holds (the
    comparisons are then made in that placement); None when every position holds its own."""


def judge(expected: Sequence[np.ndarray], got: Sequence[np.ndarray], rule: Tolerance) -> Verdict:
    """Position i of `got` against position i of `expected`; a swap is told apart from wrong numbers.

    Each position is matched to the expected output of the same size it resembles most (cosine);
    when that placement is not the identity and every output is right in it, the class is
    WRONG-ORDER; when some are still wrong there, SILENT-MISMATCH naming both faults.
    """
    if len(got) != len(expected):
        return Verdict("SILENT-MISMATCH", f"the consumer returned {len(got)} outputs, the net has {len(expected)}"
                       + (" (an output lost)" if len(got) < len(expected) else ""), ())
    comparisons = tuple(compare(i, e, g, rule) for i, (e, g) in enumerate(zip(expected, got)))
    if all(c.passed for c in comparisons):
        return Verdict("OK", "", comparisons)
    placement = _placement(expected, got, rule)
    moved = ""
    if placement is not None and list(placement) != list(range(len(got))):
        comparisons = tuple(compare(i, expected[j], got[i], rule) for i, j in enumerate(placement))
        moved = ", ".join(f"position {i} holds output {j} {tuple(np.shape(expected[j]))}"
                          for i, j in enumerate(placement) if i != j)
        if all(c.passed for c in comparisons):
            return Verdict("WRONG-ORDER", moved, comparisons, tuple(placement))
    else:
        placement = None
    failed = [c for c in comparisons if not c.passed]
    worst = min(failed, key=lambda c: c.cosine)
    what = worst.note or f"cosine {worst.cosine:.6f}, max err {worst.relative:.2e} of max|torch|"
    reason = f"{len(failed)}/{len(comparisons)} outputs wrong; worst #{worst.position} {worst.shape}: {what}"
    if moved:
        reason = f"out of order ({moved}) and, in that order, {reason}"
    return Verdict("SILENT-MISMATCH", reason, comparisons, None if placement is None else tuple(placement))


def _placement(expected: Sequence[np.ndarray], got: Sequence[np.ndarray], rule: Tolerance) -> list[int] | None:
    """For each position, the unclaimed expected output of its size that it matches best (None: no such
    one-to-one placement).  Positions that pass where they are keep their own output."""
    count = len(expected)
    placement: list[int | None] = [None] * count
    free = set(range(count))
    for i in range(count):  # first, every position right where it is keeps its place
        if np.size(got[i]) == np.size(expected[i]) and compare(i, expected[i], got[i], rule).passed:
            placement[i] = i
            free.discard(i)
    for i in range(count):
        if placement[i] is not None:
            continue
        sizes = [j for j in sorted(free) if np.size(expected[j]) == np.size(got[i])]
        if not sizes:
            return None
        best = max(sizes, key=lambda j: compare(i, expected[j], got[i], rule).cosine)
        placement[i] = best
        free.discard(best)
    return [int(j) for j in placement]  # type: ignore[arg-type]


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


ULP_NOISE_SEEDS = 3


def within_instability(comparisons: Sequence[Comparison], noisy: Sequence[Sequence[Comparison]]) -> bool:
    """Every failing output errs no more (max error) and points no further off (cosine) than PyTorch's own
    output does, at worst over its runs on inputs moved by one ulp (`noisy`: one list of comparisons against
    the unmoved run per seed).  A size difference or non-finite values are never that."""
    if not noisy or any(len(run) != len(comparisons) for run in noisy):
        return False
    for comparison in comparisons:
        if comparison.passed:
            continue
        if comparison.note:
            return False
        moved = [run[comparison.position] for run in noisy]
        if comparison.relative > max(m.relative for m in moved) or comparison.cosine < min(m.cosine for m in moved):
            return False
    return True


def fp16_is_the_cause(rknn: Sequence[Comparison], torch_fp16: Sequence[Comparison]) -> bool:
    """Every output RKNN misses, PyTorch's own fp16 misses by at least half as much, in both 1 - cosine and
    max error (a tensor right in direction but off in scale is not fp16 rounding)."""
    if len(torch_fp16) != len(rknn):
        return False
    for ours, theirs in zip(rknn, torch_fp16):
        if ours.passed:
            continue
        if ours.note == theirs.note == "non-finite values":  # both overflow: fp16's range (MobileOne, drawn stats)
            continue
        if ours.note:  # a size difference, or non-finite values where PyTorch's fp16 is finite, is not rounding
            return False
        if (1 - theirs.cosine) < 0.5 * (1 - ours.cosine) or theirs.relative < 0.5 * ours.relative:
            return False
    return True
