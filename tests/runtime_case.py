"""One-line helpers for the reference-runtime tests: run one layer written as prototxt text.

`run_layer('type: "Pooling" pooling_param { pool: MAX kernel_size: 2 }', x)` builds a net
with one net input per array (named `in0`, `in1`, ...; the layer's bottoms default to them
in order and its top to `out`), runs it through `purecaffe.runtime.run`, so the parameter
unpacking is tested along with the layer function, and returns the tops as numpy arrays.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from purecaffe.io.prototxt import parse_net_text
from purecaffe.runtime import infer_shapes, run


def net_text(layer: str, shapes: Sequence[Sequence[int]], *, tops: int = 1) -> str:
    lines = []
    for i, shape in enumerate(shapes):
        dims = " ".join(f"dim: {int(d)}" for d in shape)
        lines.append(f'input: "in{i}" input_shape {{ {dims} }}')
    bottoms = "" if "bottom:" in layer else " ".join(f'bottom: "in{i}"' for i in range(len(shapes)))
    top_names = "" if "top:" in layer else " ".join(f'top: "out{i if i else ""}"' for i in range(tops))
    lines.append(f'layer {{ name: "L" {bottoms} {top_names} {layer} }}')
    return "\n".join(lines)


def run_layer(layer: str, *arrays: np.ndarray, blobs: Sequence[np.ndarray] = (),
              tops: int = 1) -> list[np.ndarray]:
    """The tops of one layer (prototxt text inside `layer { }`) applied to `arrays`."""
    arrays = tuple(np.asarray(a, dtype=np.float32) for a in arrays)
    net = parse_net_text(net_text(layer, [a.shape for a in arrays], tops=tops))
    weights = {"L": [np.asarray(b, dtype=np.float32) for b in blobs]} if blobs else {}
    result = run(net, weights, {f"in{i}": a for i, a in enumerate(arrays)})
    return [value for _, value in result.step("L").tops]


def layer_shapes(layer: str, *shapes: Sequence[int],
                 tops: int = 1) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """(top shapes, parameter shapes) of one layer given its bottom shapes."""
    net = parse_net_text(net_text(layer, shapes, tops=tops))
    step = infer_shapes(net).step("L")
    return [shape for _, shape in step.tops], list(step.params)


def rng(seed: int = 0) -> np.random.RandomState:
    return np.random.RandomState(seed)
