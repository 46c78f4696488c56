"""The fp16 judge's bound, as data: an fp16 consumer against the runtime's fp16 storage (`purecaffe.parity.fp16`).

A judge that computes in fp16 storage names its bound (`judges.JUDGES["rknn"].fp16_reference`).
Per blob, with the fp16 cost there (the fp16 reference's distance to PyTorch float32: 1 - cosine
and max-rel), the consumer may be `k` times that cost away from the reference, plus a floor.
"""
from __future__ import annotations

from dataclasses import dataclass

ATOL = 1e-6  # all-zero tensors, as every judge


@dataclass(frozen=True)
class Fp16Reference:
    """Judge against the runtime in fp16 storage: within `k` x the fp16 cost at each blob, plus floors."""

    k: float
    cosine_floor: float   # 1 - cosine allowed where fp16 storage costs nothing (a blob right after the input)
    rel_floor: float      # max-rel allowed there
    reason: str

    def bound(self, cost_cosine: float, cost_rel: float) -> tuple[float, float, float]:
        """(rtol, atol, min cosine) for a blob where the fp16 reference is (cost_cosine, cost_rel) from float32."""
        return (self.k * cost_rel + self.rel_floor, ATOL, 1.0 - (self.k * cost_cosine + self.cosine_floor))

    def describe(self) -> str:
        return (f"the runtime in fp16 storage, within {self.k:g} x the fp16 cost at each blob "
                f"+ {self.cosine_floor:g} in 1 - cosine and + {self.rel_floor:g} in max|err|/max|ref|")


RKNN_FP16 = Fp16Reference(
    k=3.0, cosine_floor=1e-5, rel_floor=5e-3,
    reason="RKNN rounds at other points than the runtime's fp16 storage (it folds BatchNorm and Scale into "
           "the convolution and rounds the folded weights), so its errors add to the reference's: measured "
           "with BatchNorm statistics from data, RKNN is at most 1.6 x the fp16 cost from the reference in "
           "1 - cosine and 1.6 x in max-rel over every dumped blob of ResNet-50, MobileNetV2 and Inception-v3 "
           "(benchmarks/fp16_reference.py); independent errors give 2 x at worst; 3 x leaves room.  The floors "
           "are one fp16 rounding's worth (5e-4 relative, 1e-5 in 1 - cosine), times ten.  A misread layer errs "
           "by 1e-2 to 0.3 in 1 - cosine where the cost is 1e-7 to 3e-3")

__all__ = ["Fp16Reference", "RKNN_FP16"]
