"""Comparing one Caffe blob with the PyTorch tensor it stands for."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The tolerances themselves (float32, fp16, bf16, MNN's float32) and why each is what it is are
# target facts: `purecaffe.targets.judges`.

# fp16's largest finite value: a torch value beyond it is inf in an fp16 build (timm's MobileOne-S0 with
# drawn BatchNorm statistics reaches 1e5 at stages.1.6, where RKNN's simulator first gives inf: measured).
FP16_MAX = 65504.0


@dataclass(frozen=True)
class BlobComparison:
    """One Caffe blob (as it was right after `layer`) against its PyTorch tensor."""

    index: int
    layer: str
    layer_type: str
    blob: str
    torch_name: str
    module: str
    op: str
    torch_shape: tuple[int, ...]
    caffe_shape: tuple[int, ...] | None
    max_abs_err: float | None
    max_rel_err: float | None  # max |caffe - torch| / max |torch|
    cosine: float | None
    scale: float  # max |torch|
    passed: bool
    note: str = ""


def compare_arrays(caffe: np.ndarray | None, expected: np.ndarray, *, rtol: float, atol: float,
                   min_cosine: float | None = None
                   ) -> tuple[tuple[int, ...] | None, float | None, float | None, float | None, float, bool, str]:
    """(caffe shape, max abs err, max rel err, cosine, scale, passed, note) for one pair.

    `expected` is the torch value.  With `min_cosine`, a blob must also point the same
    way as torch's (cosine similarity >= min_cosine): the test for fp16 backends.
    """
    ref = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    if caffe is None:
        return None, None, None, None, scale, False, "the backend did not produce this blob"
    got = np.asarray(caffe, dtype=np.float64)
    if got.shape != ref.shape:
        if got.size == ref.size:
            note = f"shape {tuple(got.shape)} != torch {tuple(ref.shape)} (same element count)"
        else:
            note = f"shape {tuple(got.shape)} != torch {tuple(ref.shape)}"
        return tuple(got.shape), None, None, None, scale, False, note
    finite = np.isfinite(ref)
    if not np.array_equal(np.isfinite(got), finite):
        note = "non-finite values where torch has finite ones (or the reverse)"
        if min_cosine is not None and np.isfinite(scale) and scale > FP16_MAX:
            note += (f": torch reaches {scale:.3g}, past fp16's largest value {FP16_MAX:g}, so an fp16 build "
                     f"overflows here (range, not a layer read differently)")
        return tuple(got.shape), float("inf"), float("inf"), None, scale, False, note
    if not finite.all():  # torch itself has inf/nan there: they must agree exactly
        if not np.array_equal(got[~finite], ref[~finite], equal_nan=True):
            return tuple(got.shape), float("inf"), float("inf"), None, scale, False, "inf/nan values differ"
        got, ref = np.where(finite, got, 0.0), np.where(finite, ref, 0.0)
        scale = float(np.max(np.abs(ref)))
    diff = np.abs(got - ref)
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    norms = float(np.linalg.norm(got)) * float(np.linalg.norm(ref))
    cosine = float(np.dot(got.ravel(), ref.ravel()) / norms) if norms > 0 else (1.0 if max_abs == 0 else 0.0)
    passed = max_abs <= rtol * scale + atol
    note = ""
    if min_cosine is not None and cosine < min_cosine and max_abs > atol:
        passed, note = False, f"cosine {cosine:.6f} < {min_cosine:g}"
    return tuple(got.shape), max_abs, max_rel, cosine, scale, passed, note
