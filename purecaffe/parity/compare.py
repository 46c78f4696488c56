"""Comparing one Caffe blob with the PyTorch tensor it stands for."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Default tolerance: float32 conversions differ from PyTorch only by summation
# order and rounding (a few ulps per op, growing with depth); 1e-4 of a tensor's
# largest magnitude leaves room for that and still catches any wrong axis, pad
# or rounding mode, which errs by whole values (>= 1e-2 of the scale).
DEFAULT_RTOL = 1e-4
# Floor for tensors that are (almost) all zeros, where 1e-4 x scale means nothing.
DEFAULT_ATOL = 1e-6
# RKNN-Toolkit2's simulator computes in fp16 (10-bit mantissa, ~5e-4 relative per rounding,
# accumulating over depth): a faithful net lands at cosine ~0.99999 and max|err| ~1e-3..1e-2 of
# max|torch|; a wrongly read layer was measured at cosine 0.67, 0.95 or NaN.  So the fp16 judge
# passes a blob on direction (cosine) and on a loose magnitude bound, not on 1e-4.
RKNN_MIN_COSINE = 0.9999
RKNN_MAX_REL = 5e-2
# tpu-mlir's F16 models: the same fp16 arithmetic, the same bounds.  Its BF16 models (8-bit mantissa,
# ~2e-3 relative per rounding, 8x fp16's) land at cosine 0.9998-0.99995 on faithful nets (measured on the
# corpus and the zoo, cv181x and bm1684x); a misread layer was measured at 0.984 (AVE pooling's divisor)
# and 0.86 (cv181x layer groups): so BF16 passes on cosine >= 0.999 and max|err| <= 1e-1 x max|torch|.
BF16_MIN_COSINE = 0.999
BF16_MAX_REL = 1e-1
# MNN's CPU runtime is float32, but it runs stride-1 3x3 convolutions as Winograd transforms whatever the
# session's precision setting (measured: 1.1e-4 to 1.4e-4 of max|torch| after one such convolution of a
# 16-channel net, where direct ones give 2e-7), so its float32 bound is 1e-3, still ten times below
# what a misread layer gives (>= 1e-2: a pooling rounding, an Upsample off by a pixel).
MNN_RTOL = 1e-3


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
        return tuple(got.shape), float("inf"), float("inf"), None, scale, False, \
            "non-finite values where torch has finite ones (or the reverse)"
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
