"""RKNN-Toolkit2's own reading faults, legalized (its Caffe -> ONNX step, rknn-toolkit2 2.5.0).

* An absent `stride` is read as 0, not caffe.proto's 1 (measured: a stride-1 Deconvolution, DCGAN's
  first ConvTranspose2d, fails to build with onnxruntime's "stride > 0 was false ... got: 0"), so
  Convolution and Deconvolution always carry stride and pad explicitly.
* A Scale of a blob with more than 4 axes fails in load_caffe with "Number of values does not match
  tensor's size. Expected 4, but it is 5." (measured: timm's ResNeSt split attention,
  x (N, radix, C, H, W) * attn (N, radix, C, 1, 1); a 5-D Reshape, Slice or Eltwise loads and runs
  right), so such a Scale runs on a 4-D view of its bottom: the axes before, inside and after the
  scaled ones merged, the same products.
"""
from __future__ import annotations

import dataclasses
import math
import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, builders, relayer
from purecaffe.runtime.layers.base import canonical_axis
from purecaffe.targets.target import Applied, Target


def explicit_conv_geometry(layer: CaffeLayer, target: Target) -> Applied | None:
    """Convolution/Deconvolution with stride or pad left at caffe.proto's default -> written as 1 / 0
    (the same layer: the runtime and Caffe read both spellings alike)."""
    if layer.type not in ("Convolution", "Deconvolution") or (layer.params["stride"] and layer.params["pad"]):
        return None
    return Applied((relayer(layer, stride=tuple(layer.params["stride"]) or (1,), pad=tuple(layer.params["pad"]) or (0,)),))


def scale_in_four_axes(layer: CaffeLayer, target: Target) -> Applied | None:
    """Scale of a bottom with more than 4 axes -> Reshape to 4 axes, the Scale, Reshape back.

    With the factor over axes [a, b) of shape S: a >= 1 gives (prod S[:a], prod S[a:b], rest) with
    the factor flat over axis 1; a = 0 (a second bottom that holds the batch) gives
    (S[0], prod S[1:b], rest) with the factor as (S[0], prod S[1:b]) at axis 0, the spelling RKNN
    takes for a 4-D broadcast product.  "rest" is (S[b], prod S[b+1:]), or 1s where S ends.
    Reshapes move no value; every output is the same one product (and bias): identical.  Their dims
    are written out, never 0 ("copy"): RKNN's view of a blob of other than 4 axes can lack the batch
    (measured: a (1, 2, 4) factor is {2, 4} there, and `dims: 0 dims: 8` asks for {2, 8}).
    """
    if layer.type != "Scale" or len(layer.bottoms[0].shape) <= 4:
        return None
    shape = tuple(layer.bottoms[0].shape)
    two = len(layer.bottoms) == 2
    factor = tuple(layer.bottoms[1].shape) if two else tuple(layer.param_shapes[0])
    start = canonical_axis(int(layer.params["axis"]), len(shape))
    end = start + len(factor)
    if start == 0 and not two:
        return None  # a learned factor over the batch: left for the checks to refuse
    rest = shape[end:]
    tail = (rest[0], math.prod(rest[1:])) if rest else (1, 1)
    if start == 0:
        shape4, factor4, axis = (shape[0], math.prod(shape[1:end]), *tail), (shape[0], math.prod(shape[1:end])), 0
    else:
        shape4, factor4, axis = (math.prod(shape[:start]), math.prod(factor), *tail), (math.prod(factor),), 1

    def part(name: str) -> str:
        return f"{layer.name}/{name}"

    made = [builders.reshape(part("x4d"), layer.bottoms[0], part("x4d"), dims=shape4)]
    bottoms: list[Blob] = [made[0].top]
    if two:
        made.append(builders.reshape(part("factor4d"), layer.bottoms[1], part("factor4d"), dims=factor4))
        bottoms.append(made[-1].top)
    scaled = builders.scale(part("4d"), bottoms, part("4d"), axis=axis, num_axes=1,
                            bias_term=bool(layer.params["bias_term"]))
    weights = [np.asarray(w, dtype=np.float32).reshape(factor4) for w in layer.weights]
    made.append(dataclasses.replace(scaled, weights=tuple(weights)))
    made.append(builders.reshape(layer.name, made[-1].top, layer.top.name, dims=shape))
    return Applied(tuple(dataclasses.replace(m, origin=layer.origin) for m in made))


RULES = (explicit_conv_geometry, scale_in_four_axes)

__all__ = ["RULES", "explicit_conv_geometry", "scale_in_four_axes"]
