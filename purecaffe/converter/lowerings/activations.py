"""Element-wise activations: ReLU family, Clip, ELU, Sigmoid/TanH, SiLU, hard-*, Mish, Softplus
(GELU: `gelu.py`).

Each is exact in stock Caffe, directly or as a composition of stock layers
whose float32 arithmetic matches PyTorch's to rounding.
"""
from __future__ import annotations

import math

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node, Ref
from purecaffe.converter.lowerings._support import require_float
from purecaffe.converter.registry import lowering
from purecaffe.converter.weights import prelu_blobs
from purecaffe.runtime.layers.base import FLT_MAX


@lowering("aten.relu", aliases=("aten.relu_",))
def lower_relu(ctx: LoweringContext, node: Node) -> None:
    """The worked example: one argument, one layer, the result bound to the node."""
    self = node.arg("self")
    x = ctx.blob(self)
    ctx.emit(builders.relu(ctx.name(node), x, ctx.name(node)), result=node)


@lowering("aten.leaky_relu", aliases=("aten.leaky_relu_",))
def lower_leaky_relu(ctx: LoweringContext, node: Node) -> None:
    self, negative_slope = node.unpack("self", "negative_slope")
    x = ctx.blob(self)
    ctx.emit(builders.relu(ctx.name(node), x, ctx.name(node), negative_slope=float(negative_slope)),
             result=node)


def _clip(ctx: LoweringContext, node: Node, x: Blob, low: float, high: float) -> None:
    """min(max(x, low), high): ReLU6 for (0, 6), else Clip; targets without them legalize."""
    if (low, high) == (0.0, 6.0):
        ctx.emit(builders.relu6(ctx.name(node), x, ctx.name(node)), result=node)
        return
    ctx.emit(builders.clip(ctx.name(node), x, ctx.name(node), min=low, max=high), result=node)


@lowering("aten.hardtanh", aliases=("aten.hardtanh_",))
def lower_hardtanh(ctx: LoweringContext, node: Node) -> None:
    self, min_val, max_val = node.unpack("self", "min_val", "max_val")
    _clip(ctx, node, ctx.blob(self), float(min_val), float(max_val))


@lowering("aten.relu6", aliases=("aten.relu6_",))
def lower_relu6(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    _clip(ctx, node, ctx.blob(self), 0.0, 6.0)


@lowering("aten.clamp", aliases=("aten.clamp_",))
def lower_clamp(ctx: LoweringContext, node: Node) -> None:
    self, low, high = node.unpack("self", "min", "max")
    if isinstance(low, Ref) or isinstance(high, Ref):
        raise ctx.unsupported("clamp with tensor bounds (Caffe's Clip takes numbers)")
    x = ctx.blob(self)
    if low is not None and high is not None:
        _clip(ctx, node, x, float(low), float(high))
    elif low is not None and float(low) == 0.0:
        ctx.emit(builders.relu(ctx.name(node), x, ctx.name(node)), result=node)
    else:
        lo = float(low) if low is not None else -FLT_MAX
        hi = float(high) if high is not None else FLT_MAX
        _clip(ctx, node, x, lo, hi)


@lowering("aten.clamp_min", aliases=("aten.clamp_min_",))
def lower_clamp_min(ctx: LoweringContext, node: Node) -> None:
    """clamp_min(x, m) (F.normalize's max(norm, eps)): ReLU for 0, else Clip(m, FLT_MAX)."""
    self, low = node.unpack("self", "min")
    if isinstance(low, Ref):
        raise ctx.unsupported("clamp_min with a tensor bound (Caffe's Clip takes numbers)")
    x = ctx.blob(self)
    if float(low) == 0.0:
        ctx.emit(builders.relu(ctx.name(node), x, ctx.name(node)), result=node)
        return
    _clip(ctx, node, x, float(low), FLT_MAX)


@lowering("aten.clamp_max", aliases=("aten.clamp_max_",))
def lower_clamp_max(ctx: LoweringContext, node: Node) -> None:
    self, high = node.unpack("self", "max")
    if isinstance(high, Ref):
        raise ctx.unsupported("clamp_max with a tensor bound (Caffe's Clip takes numbers)")
    _clip(ctx, node, ctx.blob(self), -FLT_MAX, float(high))


@lowering("aten._prelu_kernel", aliases=("aten.prelu",))
def lower_prelu(ctx: LoweringContext, node: Node) -> None:
    self, weight = node.unpack("self", "weight")
    x = ctx.blob(self)
    slopes = ctx.constant(weight).reshape(-1)
    channels = x.shape[1] if len(x.shape) > 1 else 1
    if slopes.size not in (1, channels):
        raise ctx.unsupported(f"PReLU with {slopes.size} slopes for {channels} channels")
    shared = slopes.size == 1 and channels != 1
    ctx.emit(builders.prelu(ctx.name(node), x, ctx.name(node), channel_shared=shared),
             prelu_blobs(slopes, channel_shared=shared), result=node)


@lowering("aten.elu", aliases=("aten.elu_",))
def lower_elu(ctx: LoweringContext, node: Node) -> None:
    self, alpha, scale, input_scale = node.unpack("self", "alpha", "scale", "input_scale")
    if float(scale) != 1.0 or float(input_scale) != 1.0:
        raise ctx.unsupported(f"ELU with scale={scale}, input_scale={input_scale} (SELU/CELU-style); "
                              f"Caffe's ELU has only alpha")
    ctx.emit(builders.elu(ctx.name(node), ctx.blob(self), ctx.name(node), alpha=float(alpha)),
             result=node)


@lowering("aten.sigmoid", aliases=("aten.sigmoid_",))
def lower_sigmoid(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    ctx.emit(builders.sigmoid(ctx.name(node), ctx.blob(self), ctx.name(node)), result=node)


@lowering("aten.tanh", aliases=("aten.tanh_",))
def lower_tanh(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    ctx.emit(builders.tanh(ctx.name(node), ctx.blob(self), ctx.name(node)), result=node)


@lowering("aten.exp", aliases=("aten.exp_",))
def lower_exp(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    require_float(ctx, node, "exp")
    ctx.emit(builders.exp(ctx.name(node), ctx.blob(self), ctx.name(node)), result=node)


@lowering("aten.abs", aliases=("aten.abs_",))
def lower_abs(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    ctx.emit(builders.absval(ctx.name(node), ctx.blob(self), ctx.name(node)), result=node)


@lowering("aten.silu", aliases=("aten.silu_",))
def lower_silu(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    ctx.emit(builders.swish(ctx.name(node), ctx.blob(self), ctx.name(node)), result=node)


def _hard_gate(ctx: LoweringContext, node: Node, x: Blob, name: str, top: str) -> Blob:
    """clip(x / 6 + 1/2, 0, 1) == relu6(x + 3) / 6, the gate of hardsigmoid and hardswish."""
    affine = ctx.emit(builders.power(ctx.name(node, "affine"), x, ctx.name(node, "affine"),
                                     scale=1.0 / 6.0, shift=0.5))[0]
    return ctx.emit(builders.clip(name, affine, top, min=0.0, max=1.0),
                    result=node if name == ctx.name(node) else None)[0]


@lowering("aten.hardsigmoid", aliases=("aten.hardsigmoid_",))
def lower_hardsigmoid(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    _hard_gate(ctx, node, ctx.blob(self), ctx.name(node), ctx.name(node))


@lowering("aten.hardswish", aliases=("aten.hardswish_",))
def lower_hardswish(ctx: LoweringContext, node: Node) -> None:
    self = node.arg("self")
    ctx.emit(builders.hardswish(ctx.name(node), ctx.blob(self), ctx.name(node)), result=node)


@lowering("aten.mish", aliases=("aten.mish_",))
def lower_mish(ctx: LoweringContext, node: Node) -> None:
    """x * tanh(softplus(x)) = Eltwise PROD(x, TanH(BNLL(x)))."""
    self = node.arg("self")
    x = ctx.blob(self)
    sp = ctx.emit(builders.bnll(ctx.name(node, "softplus"), x, ctx.name(node, "softplus")))[0]
    th = ctx.emit(builders.tanh(ctx.name(node, "tanh"), sp, ctx.name(node, "tanh")))[0]
    ctx.emit(builders.eltwise(ctx.name(node), [x, th], ctx.name(node), operation="PROD"), result=node)


# Above beta * x > threshold PyTorch's softplus returns x; BNLL keeps computing
# log(1 + exp(x)).  They differ by log1p(exp(-threshold)) / beta there, relative
# to x: below float32 rounding (~6e-8) only for thresholds of about 14 or more.
SOFTPLUS_MIN_THRESHOLD = 14.0


@lowering("aten.softplus")
def lower_softplus(ctx: LoweringContext, node: Node) -> None:
    """softplus(x) = log(1 + exp(beta x)) / beta: BNLL, with Power scalings for beta != 1."""
    self, beta, threshold = node.unpack("self", "beta", "threshold")
    beta, threshold = float(beta), float(threshold)
    if threshold < SOFTPLUS_MIN_THRESHOLD:
        raise ctx.unsupported(f"softplus threshold {threshold} < {SOFTPLUS_MIN_THRESHOLD}: PyTorch switches to "
                              f"the identity where log(1 + exp(x)) still differs by "
                              f"{math.log1p(math.exp(-threshold)):.2g}; Caffe's BNLL has no threshold")
    if beta <= 0:
        raise ctx.unsupported(f"softplus with beta {beta} <= 0")
    x = ctx.blob(self)
    if beta == 1.0:
        ctx.emit(builders.bnll(ctx.name(node), x, ctx.name(node)), result=node)
        return
    scaled = ctx.emit(builders.power(ctx.name(node, "scale"), x, ctx.name(node, "scale"),
                                     scale=beta))[0]
    soft = ctx.emit(builders.bnll(ctx.name(node, "bnll"), scaled, ctx.name(node, "bnll")))[0]
    ctx.emit(builders.power(ctx.name(node), soft, ctx.name(node), scale=1.0 / beta), result=node)
