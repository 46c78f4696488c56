"""The one place where PyTorch tensors become Caffe parameter blobs.

Every blob that reaches a caffemodel passes through `caffe_blob` (float32,
C-contiguous, finite).  The functions below give each Caffe layer's blobs in
the layout documented once, in `purecaffe.io.blob_layouts` (Convolution,
Deconvolution, InnerProduct, BatchNorm's three blobs, Scale, Bias, PReLU,
Parameter, ...); lowerings call them instead of building lists by hand.  The
shapes Caffe allocates come from the runtime (`canonical.make_layer`), and
`LoweringContext.emit` checks each blob against them.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from purecaffe.errors import UnsupportedError
from purecaffe.io.blob_layouts import caffe_lstm_gates


def caffe_blob(value: Any, *, what: str = "parameter") -> np.ndarray:
    """`value` (torch tensor, numpy array, number) as a read-only float32 C-contiguous array.

    No copy is made when the value already is float32 and C-contiguous (a VGG16's
    528 MB of weights are not duplicated): the blob then shares memory with the
    model's parameter, so a model changed between `convert` and `save` changes
    the saved weights too.  A non-finite value is refused: Caffe would load it,
    and every output would silently be NaN.
    """
    if hasattr(value, "detach"):  # torch.Tensor, without importing torch here
        value = value.detach().cpu()
        if str(value.dtype) in ("torch.bfloat16", "torch.float16"):
            value = value.float()
        value = value.numpy()
    array = np.asarray(value, dtype=np.float32, order="C")
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    flat = array.reshape(-1)
    for start in range(0, flat.size, _CHUNK):  # chunked: no full-size temporary for a 400 MB blob
        if not np.isfinite(flat[start:start + _CHUNK]).all():
            raise UnsupportedError(f"{what} contains NaN or infinity")
    return array


_CHUNK = 1 << 20


def convolution_blobs(weight: Any, bias: Any | None) -> list[np.ndarray]:
    """Convolution: PyTorch Conv2d's (out, in/group, kh, kw) is Caffe's layout as is."""
    blobs = [caffe_blob(weight, what="convolution weight")]
    if bias is not None:
        blobs.append(caffe_blob(bias, what="convolution bias").reshape(-1))
    return blobs


def deconvolution_blobs(weight: Any, bias: Any | None) -> list[np.ndarray]:
    """Deconvolution: PyTorch ConvTranspose2d's (in, out/group, kh, kw) is Caffe's layout as is."""
    blobs = [caffe_blob(weight, what="deconvolution weight")]
    if bias is not None:
        blobs.append(caffe_blob(bias, what="deconvolution bias").reshape(-1))
    return blobs


def inner_product_blobs(weight: Any, bias: Any | None) -> list[np.ndarray]:
    """InnerProduct (transpose: false): weight (out, in) like nn.Linear, bias (out,)."""
    blobs = [caffe_blob(weight, what="inner product weight")]
    if blobs[0].ndim != 2:
        raise ValueError(f"inner product weight must be 2-D, got {blobs[0].shape}")
    if bias is not None:
        blobs.append(caffe_blob(bias, what="inner product bias").reshape(-1))
    return blobs


def embed_blobs(weight: Any) -> list[np.ndarray]:
    """Embed (bias_term: false): weight (input_dim, num_output), nn.Embedding's (num_embeddings, dim) as is."""
    blob = caffe_blob(weight, what="embedding weight")
    if blob.ndim != 2:
        raise ValueError(f"embedding weight must be 2-D, got {blob.shape}")
    return [blob]


def batch_norm_blobs(mean: Any, var: Any) -> list[np.ndarray]:
    """BatchNorm (use_global_stats): [mean, variance, factor=1]; eps goes in the layer parameter."""
    return [caffe_blob(mean, what="running mean").reshape(-1),
            caffe_blob(var, what="running variance").reshape(-1),
            np.ones((1,), dtype=np.float32)]


def scale_blobs(gamma: Any, beta: Any | None, shape: Sequence[int] | None = None) -> list[np.ndarray]:
    """Scale: [gamma, beta]; `shape` the axes it covers (default: 1-D)."""
    gamma_blob = caffe_blob(gamma, what="scale")
    target = tuple(shape) if shape is not None else (gamma_blob.size,)
    blobs = [gamma_blob.reshape(target)]
    if beta is not None:
        blobs.append(caffe_blob(beta, what="shift").reshape(target))
    return blobs


def bias_blobs(beta: Any, shape: Sequence[int] | None = None) -> list[np.ndarray]:
    blob = caffe_blob(beta, what="bias")
    return [blob.reshape(tuple(shape) if shape is not None else (blob.size,))]


def prelu_blobs(weight: Any, *, channel_shared: bool = False) -> list[np.ndarray]:
    """PReLU: one slope per channel (C,), or a 0-D blob when channel_shared."""
    blob = caffe_blob(weight, what="PReLU slope")
    return [blob.reshape(()) if channel_shared else blob.reshape(-1)]


def lstm_blobs(weight_ih: Any, weight_hh: Any, bias_ih: Any | None, bias_hh: Any | None) -> list[np.ndarray]:
    """Caffe LSTM [W_xc (4H, I), b_c (4H,), W_hc (4H, H)], gates i, f, o, g, from PyTorch's i, f, g, o
    weights; Caffe has one bias, PyTorch two, so they are summed (in float32, as PyTorch adds them)."""
    w_ih, w_hh = _array(weight_ih), _array(weight_hh)
    bias = np.zeros(4 * w_hh.shape[1], dtype=np.float32)
    for b in (bias_ih, bias_hh):
        if b is not None:
            bias = bias + _array(b)
    return [caffe_blob(caffe_lstm_gates(w_ih), what="LSTM W_xc"),
            caffe_blob(caffe_lstm_gates(bias), what="LSTM b_c"),
            caffe_blob(caffe_lstm_gates(w_hh), what="LSTM W_hc")]


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def parameter_blobs(value: Any) -> list[np.ndarray]:
    """Parameter layer: the constant itself, its shape is the layer's `shape`."""
    return [caffe_blob(value, what="constant")]
