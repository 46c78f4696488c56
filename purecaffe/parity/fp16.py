"""fp16 judged against fp16: an fp16 consumer's blobs against the runtime's fp16 storage of the same files.

    reference = fp16_reference(prototxt, caffemodel, inputs, sidecar)   # torch name -> value, and the cost
    bounds = reference.bounds(FP16_REFERENCE)                          # per torch name: rtol, atol, min cosine

The reference F is `purecaffe.runtime.run(..., fp16_storage=True)`: inputs, parameters and every
top rounded to fp16 as stored, fp32 arithmetic, what RKNN's NPU does.  Its distance to PyTorch's
float32 value T at each blob is the fp16 cost there: how far fp16 storage alone moves that tensor.
A consumer's value R passes at a blob when

    1 - cos(R, F) <= k (1 - cos(F, T)) + cosine floor   and   max|R - F| <= (k rel(F, T) + rel floor) max|F|

(the `Fp16Reference` bound of the target's judge, `purecaffe.targets.fp16_judge`).  The consumer
rounds at other points than the runtime (RKNN folds BatchNorm and Scale into the convolution and
rounds the folded weights), so its rounding errors are independent of the reference's and add up:
R is about as far from F as F and R each are from T together, which k covers.  A smooth drift
grows with the cost and passes; a misread layer errs by far more than fp16 storage costs at
that point and fails, named at its layer.  A fault of the files themselves (which the reference
would share) is found by running them in float32 too, held to the float32 bound (`file_faults`).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from purecaffe.parity.compare import compare_arrays
from purecaffe.targets.judges import FLOAT32
from purecaffe.targets.fp16_judge import Fp16Reference

PathLike = str | os.PathLike[str]


def distance(got: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(1 - cosine, max|got - ref| / max|ref|), in float64; (0, 0) for two all-zero tensors."""
    a, b = np.asarray(got, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
    finite = np.isfinite(a) & np.isfinite(b)
    if not finite.all():
        return float("inf"), float("inf")
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    scale = float(np.abs(b).max()) if b.size else 0.0
    cosine = float(a @ b / norms) if norms > 0 else (1.0 if diff == 0 else 0.0)
    return 1.0 - cosine, (diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf")))


@dataclass(frozen=True)
class Fp16Values:
    """The fp16 reference's value of every mapped torch tensor, and its cost (distance to PyTorch float32)."""

    values: Mapping[str, np.ndarray]           # torch name -> F
    cost: Mapping[str, tuple[float, float]]    # torch name -> (1 - cos(F, T), max-rel(F, T))
    file_faults: Mapping[str, str] = field(default_factory=dict)  # torch name -> how the file itself is off (float32)

    def bounds(self, judge: Fp16Reference) -> dict[str, tuple[float, float, float]]:
        """torch name -> (rtol, atol, min cosine) of each blob under `judge`."""
        return {name: judge.bound(*cost) for name, cost in self.cost.items()}

    def output_cost(self, sidecar: Mapping[str, object]) -> tuple[tuple[str, float, float], ...]:
        """(output blob, 1 - cos, max-rel) of the fp16 reference against PyTorch float32, per net output."""
        outputs = {entry["torch"]: entry["blob"] for entry in sidecar.get("outputs", [])}  # type: ignore[union-attr]
        return tuple((blob, *self.cost[name]) for name, blob in outputs.items() if name in self.cost)


def fp16_reference(prototxt: PathLike, caffemodel: PathLike, inputs: Mapping[str, np.ndarray],
                   sidecar: Mapping[str, object], expected: Mapping[str, np.ndarray]) -> Fp16Values:
    """Run the files in fp16 storage; map each sidecar entry's blob (right after its layer) to its torch name.

    The files are also run in float32 and held to the float32 bound against PyTorch (`file_faults`):
    the fp16 reference computes what the files say, so it is a reference only where they are right,
    and only there is its distance to PyTorch the fp16 cost.
    """
    from purecaffe.runtime import run

    after = {step.name: dict(step.tops) for step in run(str(prototxt), str(caffemodel), inputs, fp16_storage=True).steps}
    after32 = {step.name: dict(step.tops) for step in run(str(prototxt), str(caffemodel), inputs).steps}
    values: dict[str, np.ndarray] = {}
    cost: dict[str, tuple[float, float]] = {}
    faults: dict[str, str] = {}
    for entry in sidecar["tensors"]:  # type: ignore[index]
        name, tops = entry["torch"], after.get(entry.get("layer"), {})
        if name in values or entry["blob"] not in tops or name not in expected:
            continue
        *_, rel32, _, _, right, note = compare_arrays(after32[entry["layer"]][entry["blob"]], expected[name],
                                                      rtol=FLOAT32.rtol, atol=FLOAT32.atol)
        if not right:
            off = "" if rel32 is None else f" is {rel32:.2e} x max|torch| away from PyTorch"
            faults[name] = f"the files themselves are off here: the runtime in float32{off}{'; ' + note if note else ''}"
        cost_here = distance(tops[entry["blob"]], expected[name])
        if not all(np.isfinite(cost_here)):
            continue  # fp16 storage overflows here: that blob keeps the fixed fp16 bound against PyTorch
        values[name], cost[name] = tops[entry["blob"]], cost_here
    return Fp16Values(values, cost, faults)


__all__ = ["Fp16Values", "distance", "fp16_reference"]
