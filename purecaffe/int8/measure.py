"""What one int8 route is measured by: output cosine, top-k agreement, per-layer cosine."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

TOPK = 5
CLASSIFIER_MIN_CLASSES = 10
"""An output (1, K) or (1, K, 1, 1) with K >= 10 is scored as a classifier's (top-1, top-k)."""


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two arrays as flat vectors (float64); 1.0 for two zero arrays."""
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"cosine of arrays of {x.size} and {y.size} elements")
    norms = float(np.linalg.norm(x) * np.linalg.norm(y))
    if norms == 0.0:
        return 1.0 if not x.any() and not y.any() else 0.0
    return float(np.dot(x, y) / norms)


def is_classifier_output(shape: Sequence[int]) -> bool:
    dims = [d for d in shape[1:] if d != 1]
    return len(shape) >= 2 and shape[0] == 1 and len(dims) == 1 and dims[0] >= CLASSIFIER_MIN_CLASSES


def topk_agreement(got: Sequence[np.ndarray], expected: Sequence[np.ndarray], k: int = TOPK) -> tuple[float, float]:
    """(top-1 agreement, mean overlap of the top-k sets) over samples: how often int8 picks PyTorch's class."""
    top1, overlap = [], []
    for g, e in zip(got, expected):
        g, e = np.asarray(g).ravel(), np.asarray(e).ravel()
        top1.append(float(np.argmax(g) == np.argmax(e)))
        overlap.append(len(set(np.argsort(-g)[:k]) & set(np.argsort(-e)[:k])) / k)
    return float(np.mean(top1)), float(np.mean(overlap))


@dataclass(frozen=True)
class LayerCosine:
    """One layer RKNN kept: its int8 simulation's cosine to the float reference, at position `depth`."""

    depth: int
    layer: str
    cosine: float


@dataclass(frozen=True)
class RouteResult:
    """One route (Caffe or ONNX) through the toolchain's int8 build."""

    route: str
    error: str | None = None
    output_cosine: Mapping[str, float] | None = None     # net output -> cosine to PyTorch (the probe input)
    eval_cosine: Mapping[str, float] | None = None       # net output -> mean cosine over the evaluate samples
    top1: float | None = None                            # classifiers: top-1 agreement over the evaluate samples
    topk: float | None = None                            # ... and top-k overlap
    layers: tuple[LayerCosine, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def min_output_cosine(self) -> float | None:
        """The worst output's cosine (the evaluate samples' mean where run, else the probe input's)."""
        scores = self.eval_cosine or self.output_cosine
        return min(scores.values()) if scores else None

    def worst_layers(self, count: int = 3) -> tuple[LayerCosine, ...]:
        return tuple(sorted(self.layers, key=lambda layer: layer.cosine)[:count])


def route_result(route: str, outputs: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], *,
                 evaluated: Sequence[Mapping[str, np.ndarray]] = (),
                 evaluated_expected: Sequence[Mapping[str, np.ndarray]] = (),
                 simulated: Mapping[str, np.ndarray] | None = None, golden: Mapping[str, np.ndarray] | None = None,
                 order: Sequence[str] = (), seconds: float = 0.0) -> RouteResult:
    """Score a route: `outputs` against PyTorch's `expected` (same keys), the evaluate samples, and each
    layer in `order` found in both `simulated` and `golden` (RKNN's int8 and float32 runs)."""
    output_cosine = {name: cosine(outputs[name], expected[name]) for name in expected}
    eval_cosine = top1 = topk = None
    if evaluated:
        eval_cosine = {name: float(np.mean([cosine(got[name], want[name])
                                            for got, want in zip(evaluated, evaluated_expected)]))
                       for name in expected}
        classifiers = [name for name in expected if is_classifier_output(np.shape(expected[name]))]
        if len(classifiers) == 1:
            name = classifiers[0]
            top1, topk = topk_agreement([got[name] for got in evaluated], [want[name] for want in evaluated_expected])
    layers = []
    for name in order:
        if simulated and golden and name in simulated and name in golden \
                and np.size(simulated[name]) == np.size(golden[name]):
            layers.append(LayerCosine(len(layers), name, cosine(simulated[name], golden[name])))
    return RouteResult(route, output_cosine=output_cosine, eval_cosine=eval_cosine, top1=top1, topk=topk,
                       layers=tuple(layers), seconds=seconds)


__all__ = ["LayerCosine", "RouteResult", "TOPK", "cosine", "is_classifier_output", "route_result", "topk_agreement"]
