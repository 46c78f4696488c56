"""Caffe's parameter-blob layouts, documented once for every part of purecaffe.

The converter (`purecaffe.converter.weights`) and the manual path
(`purecaffe.manual.layouts`) both refer here; neither depends on the other.

| Caffe type | blobs (Caffe shapes) -> PyTorch source |
|---|---|
| Convolution | weight (out, in/g, kh, kw), bias (out) -> Conv2d `weight`, `bias` (same layout) |
| Deconvolution | weight (in, out/g, kh, kw), bias (out) -> ConvTranspose2d `weight`, `bias` (same) |
| InnerProduct | weight (out, in), bias (out) -> Linear `weight`, `bias`; with `transpose: true` the |
| | weight is (in, out) and Linear's weight is transposed |
| BatchNorm | mean (C), variance (C), scale factor (1) -> `running_mean`, `running_var`; factor 1 |
| Scale | scale, bias (bottom dims axis..axis+num_axes) -> BatchNorm/affine `weight`, `bias` |
| Bias | bias -> `bias` |
| PReLU | slope (C), or () with `channel_shared` -> PReLU `weight` ((C,) or (1,)) |
| Embed | weight (input_dim, num_output), bias -> Embedding `weight` (same layout), `bias` |
| LSTM | W_xc (4H, I), b_c (4H), [W_xc_static], W_hc (4H, H), gates i,f,o,g -> `weight_ih_l0`, |
| | `bias_ih_l0 + bias_hh_l0`, `weight_hh_l0`, gates i,f,g,o reordered |
| RNN | W_xh, b_h, [W_xh_static], W_hh, W_ho, b_o -> `weight_ih_l0`, `bias_ih_l0 + bias_hh_l0`, |
| | `weight_hh_l0`; W_ho and b_o (no PyTorch counterpart) by mapping |
| Normalize (SSD) | scale (C), or () with `channel_shared` -> L2Norm `weight` |
| BN (PSPNet fork) | slope, bias, mean, variance (1, C[, 1, 1]) -> `weight`, `bias`, `running_mean`, |
| | `running_var` |
| Parameter | the blob -> the checkpoint key equal to the layer name |

`BLOB_ROLES` is the same table as data: each type's parameter blobs in Caffe's
order (optional blobs, such as a bias with `bias_term: false`, may be absent);
`caffe_lstm_gates` is the one reordering of LSTM gate blocks.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

# PyTorch stacks an LSTM's gate blocks i, f, g, o along axis 0; Caffe's LSTM reads i, f, o, g.
TORCH_TO_CAFFE_LSTM_GATES = (0, 1, 3, 2)

BLOB_ROLES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "Convolution": ("weight", "bias"),
    "Deconvolution": ("weight", "bias"),
    "InnerProduct": ("weight", "bias"),
    "BatchNorm": ("mean", "variance", "factor"),
    "Scale": ("scale", "bias"),
    "Bias": ("bias",),
    "PReLU": ("slope",),
    "Embed": ("weight", "bias"),
    "LSTM": ("W_xc", "b_c", "W_xc_static", "W_hc"),
    "RNN": ("W_xh", "b_h", "W_xh_static", "W_hh", "W_ho", "b_o"),
    "Normalize": ("scale",),
    "BN": ("slope", "bias", "mean", "variance"),
    "Parameter": ("param",),
})


def caffe_lstm_gates(value: np.ndarray) -> np.ndarray:
    """PyTorch's four gate blocks on axis 0 (i, f, g, o) in Caffe's order (i, f, o, g); axis 0 must
    divide by 4 (the caller checks and says so)."""
    gates = np.split(np.asarray(value), 4, axis=0)
    return np.concatenate([gates[i] for i in TORCH_TO_CAFFE_LSTM_GATES], axis=0)
