"""The LSTM layer in the form each consumer reads.

The canonical LSTM reads the sequence x (T, N, I) alone: one sequence per sample, from a zero
state (`purecaffe.runtime.layers.recurrent`), with Caffe's blobs W_xc, b_c, W_hc.

* Real Caffe (bvlc, caffe1, nnie) needs the `cont` bottom (RecurrentLayer: at least two bottoms):
  `lstm_with_cont` adds it as a Parameter, 0 at t = 0 and 1 after.  Caffe's step multiplies
  h and c by cont, so cont 0 at t = 0 is the zero start and 1 changes nothing: identical.
* RKNN-Toolkit2 2.5 reads the form as it is (measured on its fp16 simulator: T 40, I 512, H 256,
  batch 1, 7e-4 of max|torch|); with a cont bottom its build fails ("AttributeError: 'bool' object has
  no attribute 'all'").  Its reverse directions stay Slice into T steps + Concat backwards: copies,
  measured exact to fp16 storage at T 40.  OpenCV's five-blob layout it refuses ("cannot reshape array").
* OpenCV 4.x (`readNetFromCaffe`, modules/dnn/src/layers/recurrent_layers.cpp) takes one input
  (or x, h0, c0), never cont (it asserts `inputs.size() == 1 || inputs.size() == 3`), and five blobs
  W_hc, W_xc, b_c, h0 (N, H), c0 (N, H) (it asserts five; Caffe's three in Caffe's order fail its
  shape checks): `lstm_in_opencv_blobs` writes them, the states zero.  Its gates are Caffe's
  i, f, o, g and its step is Caffe's: measured 6e-8 off PyTorch on T 7, I 5, H 4.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from purecaffe.canonical import CaffeLayer, builders
from purecaffe.targets.target import Applied, Limit, Target

CAFFE_RECURRENT = "Caffe's recurrent_layer.hpp (RecurrentLayer: MinBottomBlobs 2, x and cont)"
OPENCV_LSTM_SOURCE = ("OpenCV 4.x modules/dnn/src/layers/recurrent_layers.cpp (LSTMLayerImpl::getMemoryShapes); "
                      "measured with OpenCV 4.14")
RKNN_LSTM_SOURCE = "measured with RKNN-Toolkit2 2.5.0's load_caffe and its simulator"
OPENCV_LSTM_BLOBS = 5


def _has_cont(layer: CaffeLayer) -> bool:
    return len(layer.bottoms) >= 2


def _sequence_only(layer: CaffeLayer) -> bool:
    return len(layer.bottoms) == 1


def _opencv_form(layer: CaffeLayer) -> bool:
    """One bottom and OpenCV's five blobs (a hand-written prototxt, without weights, is judged by its bottoms)."""
    return len(layer.bottoms) == 1 and (not layer.weights or len(layer.weights) == OPENCV_LSTM_BLOBS)


CAFFE_LSTM_CONT = Limit(
    frozenset({"LSTM"}), "lstm-cont", _has_cont,
    "{target}'s LSTM needs the cont bottom (T, N) after x (real Caffe aborts on one bottom)", CAFFE_RECURRENT)
RKNN_LSTM = Limit(
    frozenset({"LSTM"}), "lstm-no-cont", _sequence_only,
    "{target} builds an LSTM of x alone (measured: with a cont bottom the build fails, \"'bool' object has no "
    "attribute 'all'\")", RKNN_LSTM_SOURCE)
OPENCV_LSTM = Limit(
    frozenset({"LSTM"}), "lstm-opencv-form", _opencv_form,
    "{target}'s LSTM takes x alone (it asserts 1 or 3 inputs: no cont) and five blobs W_hc, W_xc, b_c, h0, c0",
    OPENCV_LSTM_SOURCE)


def lstm_with_cont(layer: CaffeLayer, target: Target) -> Applied | None:
    """LSTM of x alone -> a Parameter cont (T, N) (0 at t = 0, 1 after) and the LSTM of (x, cont)."""
    if layer.type != "LSTM" or target.allows(layer) or len(layer.bottoms) != 1 or not target.has("Parameter"):
        return None
    x = layer.bottoms[0]
    steps, batch = x.shape[0], x.shape[1]
    value = np.ones((steps, batch), dtype=np.float32)
    value[0] = 0.0
    name = f"{layer.name}/cont"
    cont = dataclasses.replace(builders.parameter(name, name, (steps, batch)), weights=(value,), origin=layer.origin)
    made = builders.lstm(layer.name, [x, cont.top], layer.top.name, num_output=int(layer.params["num_output"]))
    return Applied((cont, dataclasses.replace(made, weights=layer.weights, origin=layer.origin)))


def lstm_in_opencv_blobs(layer: CaffeLayer, target: Target) -> Applied | None:
    """LSTM of x alone with Caffe's W_xc, b_c, W_hc -> the same layer with OpenCV's W_hc, W_xc, b_c, h0, c0
    (zero states of (N, H): what OpenCV starts from when no state input is given)."""
    if layer.type != "LSTM" or target.allows(layer) or len(layer.bottoms) != 1 or len(layer.weights) != 3:
        return None
    w_x, bias, w_h = (np.asarray(w, dtype=np.float32) for w in layer.weights)
    state = np.zeros((layer.bottoms[0].shape[1], int(layer.params["num_output"])), dtype=np.float32)
    return Applied((dataclasses.replace(layer, weights=(w_h, w_x, bias, state, state.copy())),))


__all__ = ["CAFFE_LSTM_CONT", "OPENCV_LSTM", "RKNN_LSTM", "lstm_in_opencv_blobs", "lstm_with_cont"]
