"""Local response normalisation across channels (`nn.LocalResponseNorm`) -> LRN, or Pooling + Power.

PyTorch (`F.local_response_norm`, fused into one node by `patterns.fuse_local_response_norm`):

    y_c = x_c / (k + alpha / size * sum(x_j ** 2 for j in [c - size // 2, c + (size - 1) // 2])) ** beta

with zeros outside [0, C).  Caffe's LRN (ACROSS_CHANNELS) computes x_c * (k + alpha / local_size *
sum over [c - (local_size - 1) / 2, c + (local_size - 1) / 2]) ** -beta with the same zeros and
allows only an odd local_size.  So:

* an odd `size` is one LRN with PyTorch's size, alpha, beta and k;
* an even `size` whose window reaches every channel from every channel (size // 2 >= C - 1 and
  (size - 1) // 2 >= C - 1; SOSNet's LocalResponseNorm(256) on 128 channels, an L2 norm) sums
  all channels like an LRN of local_size 2C - 1, given alpha * (2C - 1) / size for the same
  alpha / local_size;
* any other even `size` (a window with one channel more before than after) is built from
  stock layers: Eltwise PROD (x * x) -> Reshape (N, 1, C, H*W) -> Pooling AVE (size x 1, pad
  size // 2 along C: PyTorch's windows, each divided by size) -> Crop of its one surplus last
  window against the squares' blob (a Crop, not a Slice: no unused top) ->
  Reshape (N, C, H, W) -> Power (shift k, scale alpha, power -beta) -> Eltwise PROD with x.

Both differ from PyTorch's x / d ** beta only in float32 rounding (x * d ** -beta; Caffe's LRN
sums the window as a running sum, adding the square entering it and subtracting the one leaving).
"""
from __future__ import annotations

from purecaffe.canonical import builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import require_float, reshape_to
from purecaffe.converter.registry import lowering


@lowering("aten.local_response_norm")
def lower_local_response_norm(ctx: LoweringContext, node: Node) -> None:
    x_ref, size, alpha, beta, k = node.unpack("input", "size", "alpha", "beta", "k")
    x = ctx.blob(x_ref)
    require_float(ctx, node, "local response normalisation")
    if len(x.shape) != 4:
        raise ctx.unsupported(f"local response normalisation of a {len(x.shape)}-D tensor; only (N, C, H, W)")
    n, channels, h, w = x.shape
    size, before, after = int(size), int(size) // 2, (int(size) - 1) // 2
    local, scaled_alpha = size, float(alpha)
    if size % 2 == 0 and min(before, after) >= channels - 1:
        local = 2 * channels - 1
        scaled_alpha = float(alpha) * local / size
    if local % 2 == 1:
        ctx.emit(builders.lrn(ctx.name(node), x, ctx.name(node), local_size=local, alpha=scaled_alpha,
                              beta=float(beta), k=float(k)), result=node)
        return
    name = ctx.name(node, "square")
    square = ctx.emit(builders.eltwise(name, [x, x], name, operation="PROD"))[0]
    view = reshape_to(ctx, node, square, (n, 1, channels, h * w), "as2d")
    name = ctx.name(node, "pool")
    pooled = ctx.emit(builders.pooling(name, view, name, method="AVE", kernel=(size, 1), stride=1, pad=(before, 0)))[0]
    if pooled.shape != view.shape:  # the one surplus window: cropped off against the squares' own blob
        name = ctx.name(node, "crop")
        pooled = ctx.emit(builders.crop(name, [pooled, view], name, axis=2, offset=(0,)))[0]
    mean = reshape_to(ctx, node, pooled, x.shape, "mean")
    name = ctx.name(node, "factor")
    factor = ctx.emit(builders.power(name, mean, name, power=-float(beta), scale=float(alpha), shift=float(k)))[0]
    ctx.emit(builders.eltwise(ctx.name(node), [x, factor], ctx.name(node), operation="PROD"), result=node)
