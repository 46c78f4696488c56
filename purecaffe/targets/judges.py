"""The judges: each `verify --backend` and the tolerance its arithmetic is held to, as data.

A target names its judge (`catalog`); `purecaffe.parity` and the tests read the
tolerances from here.  Each bound says why it is what it is.
"""
from __future__ import annotations

from purecaffe.targets.fp16_judge import RKNN_FP16
from purecaffe.targets.target import Diagnostic, Judge, Tolerance

# Floor for tensors that are (almost) all zeros, where a relative bound means nothing.
ATOL = 1e-6

FLOAT32 = Tolerance(
    "float32", 1e-4, ATOL, None,
    "float32 consumers differ from PyTorch only by summation order and rounding (a few ulps per op, "
    "growing with depth); 1e-4 of a tensor's largest magnitude leaves room for that and still catches "
    "any wrong axis, pad or rounding mode, which errs by whole values (>= 1e-2 of the scale)")
FP16 = Tolerance(
    "fp16", 5e-2, ATOL, 0.9999,
    "fp16 arithmetic (10-bit mantissa, ~5e-4 relative per rounding, accumulating over depth): a faithful "
    "net lands at cosine ~0.99999 and max|err| ~1e-3..1e-2 of max|torch|; a wrongly read layer was "
    "measured at cosine 0.67, 0.95 or NaN.  So a blob passes on direction (cosine) and on a loose "
    "magnitude bound, not on 1e-4")
BF16 = Tolerance(
    "bf16", 1e-1, ATOL, 0.999,
    "bf16 arithmetic (8-bit mantissa, ~2e-3 relative per rounding, 8x fp16's): tpu-mlir's BF16 models land "
    "at cosine 0.9998-0.99995 on faithful nets (measured on the corpus and the zoo, cv181x and bm1684x); a "
    "misread layer was measured at 0.984 (AVE pooling's divisor) and 0.86 (cv181x layer groups)")
MNN_FLOAT32 = Tolerance(
    "float32 (MNN)", 1e-3, ATOL, None,
    "MNN's CPU runtime is float32, but by default it runs stride-1 3x3 convolutions as Winograd transforms "
    "whatever the session's precision or memory setting, with tiles that grow with the map (measured on one "
    "3x3 convolution: 3e-6 of max|torch| at 16 channels on 32x32, 1.4e-3 at 64 channels on 64x64, 1.7e-3 "
    "at 96; direct ones give 5e-7..1.3e-6).  Its bound for the user's default run is 1e-3, ten times below "
    "what a misread layer gives (>= 1e-2: a pooling rounding, an Upsample off by a pixel); a run outside it "
    "is settled by MNN_WINOGRAD_OFF (deep nets drift 1.1e-3..6.3e-3: YOLOv8n's heads 1.8e-3)")
MNN_WINOGRAD_OFF = Diagnostic(
    "Winograd off", {"winograd": False}, FLOAT32,
    "MNN's session hint WINOGRAD_MEMORY_LEVEL 0 makes its CPU backend take direct (tiled GEMM) convolutions "
    "(source/backend/cpu/compute/ConvolutionFloatFactory.cpp; precision High and memory Low leave Winograd "
    "on: measured); then MNN is float32 to a few ulps like the other float32 consumers (measured: 1.3e-6 "
    "after the 64-channel convolution above where Winograd gives 1.4e-3; 2.8e-5 on YOLOv8n where it gives "
    "1.8e-3 and PyTorch float32 itself is 1.5e-5 from float64).  So a default run outside 1e-3 is run "
    "again this way and held to float32's 1e-4: within it, the file is read right and the miss is "
    "Winograd's arithmetic; outside it, a misread")

JUDGES: dict[str, Judge] = {j.backend: j for j in (
    Judge("runtime", "purecaffe's in-process runtime (Caffe's semantics, float32)", FLOAT32),
    Judge("caffe", "real Caffe (Debian rootfs or container), float32", FLOAT32),
    Judge("opencv", "OpenCV DNN 4.x readNetFromCaffe, CPU backend, float32", FLOAT32),
    Judge("rknn", "RKNN-Toolkit2 load_caffe + its fp16 simulator", FP16, fp16_reference=RKNN_FP16),
    Judge("tpu-mlir", "Sophgo tpu-mlir: its Caffe front end and float32 interpreter, or a compiled model",
          FLOAT32, {"F32": FLOAT32, "F16": FP16, "BF16": BF16}),
    Judge("mnn", "MNN's Caffe converter and CPU runtime (float32, Winograd convolutions)", MNN_FLOAT32,
          diagnostic=MNN_WINOGRAD_OFF),
)}


def judge_tolerance(backend: str, precision: str | None = None) -> Tolerance:
    """The tolerance `backend` is judged by (in `precision`, for a judge that compiles)."""
    judge = JUDGES.get(backend)
    return FLOAT32 if judge is None else judge.tolerance_for(precision)


__all__ = ["ATOL", "BF16", "FLOAT32", "FP16", "JUDGES", "MNN_FLOAT32", "MNN_WINOGRAD_OFF", "judge_tolerance"]
