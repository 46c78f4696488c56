"""Shapes of data and loss layers, which a deploy net normally does not contain.

* DummyData: tops shaped by `dummy_data_param` (shape inference only).
* Loss layers (SoftmaxWithLoss, EuclideanLoss, ...): a scalar top `()` (Caffe shapes a loss
  as a 0-axis blob); Accuracy: `()`, plus per-class accuracies `(C,)` as a second top.
  No forward: they need labels and belong to training nets.
* Data-reading layers (Data, ImageData, HDF5Data, ...) get their top shapes from the
  `input_shapes` given to `infer_shapes` (their sizes live in files, not in the prototxt).
"""
from __future__ import annotations

from collections.abc import Sequence

from purecaffe.runtime.layers.base import LayerProblem, LayerShapes, Shape, canonical_axis

LOSS_TYPES = ("SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss", "InfogainLoss",
              "MultinomialLogisticLoss", "ContrastiveLoss")
DATA_TYPES = ("Data", "ImageData", "HDF5Data", "MemoryData", "WindowData", "AnnotatedData", "VideoData")


def dummy_data_shapes(bottoms: Sequence[Shape], *, shapes: tuple[Shape, ...], n_tops: int) -> LayerShapes:
    if len(shapes) not in (1, n_tops):
        raise LayerProblem(f"{len(shapes)} shapes for {n_tops} tops (need one, or one per top)")
    return LayerShapes(tops=tuple(shapes[0] if len(shapes) == 1 else shapes[i] for i in range(n_tops)))


def loss_shapes(bottoms: Sequence[Shape], *, n_tops: int) -> LayerShapes:
    return LayerShapes(tops=((),) * n_tops)


def accuracy_shapes(bottoms: Sequence[Shape], *, n_tops: int, axis: int = 1) -> LayerShapes:
    if not bottoms:
        raise LayerProblem("Accuracy takes predictions and labels")
    classes = bottoms[0][canonical_axis(axis, len(bottoms[0]))]
    return LayerShapes(tops=((), (classes,))[:n_tops])
