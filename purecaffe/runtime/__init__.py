"""The in-process runtime: Caffe's shape inference and forward pass, in numpy/torch.

    infer_shapes(net, input_shapes=None) -> ShapeInference
    run(prototxt, caffemodel, inputs) -> RunResult

Caffe's semantics (TEST phase, float32), not PyTorch's: output sizes, padding, rounding and
divisors are computed explicitly per layer type (see `purecaffe.runtime.layers` and the
table in `purecaffe.runtime.registry`).
"""
from __future__ import annotations

from purecaffe.runtime.interpreter import Interpreter, LayerStep, RunResult, run
from purecaffe.runtime.registry import supported_types
from purecaffe.runtime.shapes import ShapeInference, ShapeStep, infer_shapes

__all__ = ["Interpreter", "LayerStep", "RunResult", "ShapeInference", "ShapeStep", "infer_shapes", "run",
           "supported_types"]
