"""Arithmetic: add, sub, rsub, mul, div between tensors, constants and scalars; neg, reciprocal, pow.

Which stock layer, and how exact it is (float32, against PyTorch's CPU kernels):

==============================  ==========================================  =====================
torch                           Caffe                                       rounding
==============================  ==========================================  =====================
x + s, x - s, s - x, x * s      Power (shift / scale)                       exact (one op)
x / s                           Power (scale = 1/s)                         x * fl(1/s): <= 1 ulp
a + b, a - b, a * b (same)      Eltwise SUM (coeff 1, -1) / PROD            exact (one op)
a + alpha * b                   Eltwise SUM coeff (1, alpha)                <= 1 ulp (fma or not)
big * small (broadcast)         Scale with small as second bottom           exact
big + small, big - small        Bias with small (negated by Power) second   exact
x (op) constant tensor          Scale with the constant as its blob(s)      exact (mul/add/sub)
a / b                           Power(b, power -1), then PROD / Scale       a * fl(1/b): <= 1.5 ulp
==============================  ==========================================  =====================

Division is never exact in stock Caffe: no layer divides two blobs, so `a / b` becomes
`a * (1 / b)`, two roundings instead of one (relative error <= 2**-23 per element); the tests
compare it at 1e-6 relative to each element, far inside the 1e-4 x max|tensor| parity bound.

A broadcast is expressible when the smaller operand, after dropping its leading and trailing
size-1 axes, equals a contiguous run of the output's axes (SE's (N, C, 1, 1) against (N, C, H, W)
is axes 0..1); it is reshaped to that run and fed as the second bottom.  When both operands
broadcast (`(N, C, 1, W) + (N, C, H, 1)`) or the smaller has a size-1 axis inside the run,
the op is refused: Caffe's Eltwise needs identical shapes.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node, Ref
from purecaffe.converter.lowerings._support import (
    expand_to,
    float_constant,
    require_float,
    reshape_to,
    scalar_value,
    tensor_blob,
)
from purecaffe.converter.registry import lowering
from purecaffe.converter.weights import scale_blobs

Shape = tuple[int, ...]


@lowering("aten.add", aliases=("aten.add_",))
def lower_add(ctx: LoweringContext, node: Node) -> None:
    self, other, alpha = node.unpack("self", "other", "alpha")
    _binary(ctx, node, "add", self, other, float(alpha))


@lowering("aten.sub", aliases=("aten.sub_",))
def lower_sub(ctx: LoweringContext, node: Node) -> None:
    self, other, alpha = node.unpack("self", "other", "alpha")
    _binary(ctx, node, "sub", self, other, float(alpha))


@lowering("aten.rsub")
def lower_rsub(ctx: LoweringContext, node: Node) -> None:
    """rsub(self, other, alpha) = other - alpha * self."""
    self, other, alpha = node.unpack("self", "other", "alpha")
    _binary(ctx, node, "rsub", self, other, float(alpha))


@lowering("aten.mul", aliases=("aten.mul_",))
def lower_mul(ctx: LoweringContext, node: Node) -> None:
    self, other = node.unpack("self", "other")
    _binary(ctx, node, "mul", self, other, 1.0)


@lowering("aten.div", aliases=("aten.div_",))
def lower_div(ctx: LoweringContext, node: Node) -> None:
    self, other = node.unpack("self", "other")
    rounding_mode = node.args.get("rounding_mode")
    if rounding_mode is not None:
        raise ctx.unsupported(f"division with rounding_mode={rounding_mode!r}: Caffe has no floor or "
                              f"truncation layer")
    _binary(ctx, node, "div", self, other, 1.0)


@lowering("aten.neg", aliases=("aten.neg_",))
def lower_neg(ctx: LoweringContext, node: Node) -> None:
    """-x = Power(scale -1), exact."""
    self = node.arg("self")
    require_float(ctx, node, "arithmetic")
    ctx.emit(builders.power(ctx.name(node), ctx.blob(self), ctx.name(node), scale=-1.0), result=node)


@lowering("aten.reciprocal", aliases=("aten.reciprocal_",))
def lower_reciprocal(ctx: LoweringContext, node: Node) -> None:
    """1/x = Power(power -1): std::pow(x, -1), within 1 ulp of PyTorch's 1/x."""
    self = node.arg("self")
    require_float(ctx, node, "arithmetic")
    ctx.emit(builders.power(ctx.name(node), ctx.blob(self), ctx.name(node), power=-1.0), result=node)


@lowering("aten.pow.Tensor_Scalar", aliases=("aten.pow_.Scalar",))
def lower_pow(ctx: LoweringContext, node: Node) -> None:
    """x ** p = Power(power p).  p = 1, 2 are exact; other powers are std::pow (within 1 ulp)."""
    self, exponent = node.unpack("self", "exponent")
    require_float(ctx, node, "arithmetic")
    ctx.emit(builders.power(ctx.name(node), ctx.blob(self), ctx.name(node), power=float(exponent)),
             result=node)


@lowering("aten.square", aliases=("aten.square_",))
def lower_square(ctx: LoweringContext, node: Node) -> None:
    """x ** 2 = Power(power 2), exact like x * x."""
    require_float(ctx, node, "arithmetic")
    ctx.emit(builders.power(ctx.name(node), ctx.blob(node.arg("self")), ctx.name(node), power=2.0), result=node)


@lowering("aten.sqrt", aliases=("aten.sqrt_",))
def lower_sqrt(ctx: LoweringContext, node: Node) -> None:
    """sqrt(x) = Power(power 0.5): std::pow(x, 0.5), within 1 ulp of the correctly rounded sqrt."""
    self = node.arg("self")
    require_float(ctx, node, "arithmetic")
    ctx.emit(builders.power(ctx.name(node), ctx.blob(self), ctx.name(node), power=0.5), result=node)


@lowering("aten.rsqrt", aliases=("aten.rsqrt_",))
def lower_rsqrt(ctx: LoweringContext, node: Node) -> None:
    """1/sqrt(x) = Power(power -0.5), within 1 ulp."""
    self = node.arg("self")
    require_float(ctx, node, "arithmetic")
    ctx.emit(builders.power(ctx.name(node), ctx.blob(self), ctx.name(node), power=-0.5), result=node)


# --------------------------------------------------------------------------- the general case

def _binary(ctx: LoweringContext, node: Node, kind: str, a: Any, b: Any, alpha: float) -> None:
    """`kind` is add (a + alpha b), sub (a - alpha b), rsub (b - alpha a), mul or div."""
    require_float(ctx, node, "arithmetic")
    out = tuple(node.shape)
    sa, sb = scalar_value(ctx, a), scalar_value(ctx, b)
    # A one-element constant is a scalar only when broadcasting it does not grow the other side.
    if sa is not None and isinstance(b, Ref) and tuple(ctx.shape(b)) != out:
        sa = None
    if sb is not None and isinstance(a, Ref) and tuple(ctx.shape(a)) != out:
        sb = None
    if sa is not None and sb is not None:
        raise ctx.unsupported("both operands are constants (should have been folded)")
    if sb is not None:
        _tensor_scalar(ctx, node, kind, ctx.blob(a), sb, alpha, tensor_first=True)
    elif sa is not None:
        _tensor_scalar(ctx, node, kind, ctx.blob(b), sa, alpha, tensor_first=False)
    elif ctx.is_constant(b) and not ctx.is_constant(a) and tuple(ctx.shape(a)) == out:
        _tensor_constant(ctx, node, kind, ctx.blob(a), ctx.constant(b), alpha, tensor_first=True)
    elif ctx.is_constant(a) and not ctx.is_constant(b) and tuple(ctx.shape(b)) == out:
        _tensor_constant(ctx, node, kind, ctx.blob(b), ctx.constant(a), alpha, tensor_first=False)
    else:
        _tensor_tensor(ctx, node, kind, tensor_blob(ctx, node, a, "self"), tensor_blob(ctx, node, b, "other"),
                       alpha)


def _power(ctx: LoweringContext, node: Node, x: Blob, **params: float) -> None:
    ctx.emit(builders.power(ctx.name(node), x, ctx.name(node), **params), result=node)


def _tensor_scalar(ctx: LoweringContext, node: Node, kind: str, x: Blob, s: float, alpha: float, *,
                   tensor_first: bool) -> None:
    """One Power layer: (shift + scale * x) ^ power, exact for everything but division."""
    if kind == "add":  # x + alpha s  |  s + alpha x
        _power(ctx, node, x, shift=alpha * s) if tensor_first else _power(ctx, node, x, scale=alpha, shift=s)
    elif kind == "sub":  # x - alpha s  |  s - alpha x
        _power(ctx, node, x, shift=-alpha * s) if tensor_first else _power(ctx, node, x, scale=-alpha, shift=s)
    elif kind == "rsub":  # rsub(x, s) = s - alpha x  |  rsub(s, x) = x - alpha s
        _power(ctx, node, x, scale=-alpha, shift=s) if tensor_first else _power(ctx, node, x, shift=-alpha * s)
    elif kind == "mul":
        _power(ctx, node, x, scale=s)
    elif tensor_first:  # x / s
        if s == 0.0:
            raise ctx.unsupported("division by a constant zero")
        _power(ctx, node, x, scale=float(np.float32(1.0) / np.float32(s)))
    elif s == 1.0:  # 1 / x
        _power(ctx, node, x, power=-1.0)
    else:  # s / x = s * (1 / x)
        inverse = _reciprocal(ctx, node, x, "reciprocal")
        _power(ctx, node, inverse, scale=s)


def _reciprocal(ctx: LoweringContext, node: Node, x: Blob, part: str) -> Blob:
    name = ctx.name(node, part)
    return ctx.emit(builders.power(name, x, name, power=-1.0))[0]


def _negated(ctx: LoweringContext, node: Node, x: Blob, factor: float, part: str) -> Blob:
    if factor == 1.0:
        return x
    name = ctx.name(node, part)
    return ctx.emit(builders.power(name, x, name, scale=factor))[0]


def _tensor_constant(ctx: LoweringContext, node: Node, kind: str, x: Blob, constant: np.ndarray, alpha: float,
                     *, tensor_first: bool) -> None:
    """x (op) c, c broadcasting into x: one Scale layer holding c (as gamma, or beta with gamma 1)."""
    c = float_constant(ctx, constant, "constant operand")
    out = x.shape
    axis, covered = _covering(ctx, c.shape, out)
    # The constant spread over axes axis.. of x (its broadcast axes inside the run materialised).
    c = np.ascontiguousarray(np.broadcast_to(c.reshape(_padded(c.shape, len(out))), out)[
        (0,) * axis + (slice(None),) * len(covered) + (0,) * (len(out) - axis - len(covered))])
    ones = np.ones(covered, dtype=np.float32)
    f32 = np.float32
    if kind == "mul":
        gamma, beta = c, None
    elif kind == "add":
        gamma, beta = (ones, f32(alpha) * c) if tensor_first else (f32(alpha) * ones, c)
    elif kind == "sub":  # x - alpha c  |  c - alpha x
        gamma, beta = (ones, -(f32(alpha) * c)) if tensor_first else (-f32(alpha) * ones, c)
    elif kind == "rsub":  # c - alpha x  |  x - alpha c
        gamma, beta = (-f32(alpha) * ones, c) if tensor_first else (ones, -(f32(alpha) * c))
    elif tensor_first:  # x / c
        if np.any(c == 0):
            raise ctx.unsupported("division by a constant tensor holding zeros")
        gamma, beta = f32(1.0) / c, None
    else:  # c / x
        x = _reciprocal(ctx, node, x, "reciprocal")
        gamma, beta = c, None
    layer = builders.scale(ctx.name(node), [x], ctx.name(node), axis=axis, num_axes=len(covered),
                           bias_term=beta is not None)
    ctx.emit(layer, scale_blobs(gamma, beta, covered), result=node)


def _padded(shape: Shape, rank: int) -> Shape:
    return (1,) * (rank - len(shape)) + tuple(shape)


def _covering(ctx: LoweringContext, small: Shape, out: Shape) -> tuple[int, Shape]:
    """(axis, out[axis:end]) for the run of axes a broadcast operand of shape `small` spans."""
    full = _padded(small, len(out))
    if len(full) != len(out) or any(s != o and s != 1 for s, o in zip(full, out)):
        raise ctx.unsupported(f"operand {list(small)} does not broadcast to the result {list(out)}")
    spanned = [i for i, s in enumerate(full) if s != 1]
    if not spanned:
        return 0, ()
    axis, end = spanned[0], spanned[-1] + 1
    return axis, tuple(out[axis:end])


def _broadcast_run(ctx: LoweringContext, small: Shape, out: Shape) -> tuple[int, Shape] | None:
    """Like `_covering`, but None when the operand has a broadcast (size-1) axis inside its run.

    Leading axes where both sides have size 1 (a batch of 1) join the run, so SE's (1, C, 1, 1)
    becomes (1, C) at axis 0 through a Flatten, which still fits any later batch size.
    """
    axis, covered = _covering(ctx, small, out)
    full = _padded(small, len(out))
    if tuple(full[axis:axis + len(covered)]) != covered:
        return None
    if covered and all(full[i] == out[i] for i in range(axis)):
        axis, covered = 0, tuple(out[:axis + len(covered)])
    return axis, covered


def _tensor_tensor(ctx: LoweringContext, node: Node, kind: str, a: Blob, b: Blob, alpha: float) -> None:
    out = tuple(node.shape)
    if a.shape == out and b.shape == out:
        _same_shape(ctx, node, kind, a, b, alpha)
        return
    if a.shape == out:
        big, small, big_first = a, b, True
    elif b.shape == out:
        big, small, big_first = b, a, False
    else:
        raise ctx.unsupported(f"both operands broadcast ({list(a.shape)} and {list(b.shape)} to {list(out)}): "
                              f"Caffe's Eltwise needs identical shapes and Scale/Bias broadcast only a second "
                              f"bottom into the first")
    run = _broadcast_run(ctx, small.shape, out)
    if run is None:
        # A size-1 axis inside the run: copy the small operand out to the full shape first.
        expanded = expand_to(ctx, node, small, out, "expand")
        pair = (big, expanded) if big_first else (expanded, big)
        _same_shape(ctx, node, kind, *pair, alpha)
        return
    axis, covered = run
    small = reshape_to(ctx, node, small, covered, "broadcast")

    def affine(layer_type: str, x: Blob, factor: Blob) -> None:
        build = builders.scale if layer_type == "Scale" else builders.bias
        ctx.emit(build(ctx.name(node), [x, factor], ctx.name(node), axis=axis), result=node)

    if kind == "mul":
        affine("Scale", big, small)
    elif kind == "add":  # big + alpha small  |  small + alpha big
        if big_first:
            affine("Bias", big, _negated(ctx, node, small, alpha, "alpha"))
        else:
            affine("Bias", _negated(ctx, node, big, alpha, "alpha"), small)
    elif kind in ("sub", "rsub"):
        # sub: a - alpha b; rsub: b - alpha a.  `minuend_is_big` says which side is subtracted from.
        minuend_is_big = big_first if kind == "sub" else not big_first
        if minuend_is_big:
            affine("Bias", big, _negated(ctx, node, small, -alpha, "negate"))
        else:
            affine("Bias", _negated(ctx, node, big, -alpha, "negate"), small)
    elif big_first:  # big / small
        affine("Scale", big, _reciprocal(ctx, node, small, "reciprocal"))
    else:  # small / big
        affine("Scale", _reciprocal(ctx, node, big, "reciprocal"), small)


def _same_shape(ctx: LoweringContext, node: Node, kind: str, a: Blob, b: Blob, alpha: float) -> None:
    name, top = ctx.name(node), ctx.name(node)
    if kind == "add":
        coeff = () if alpha == 1.0 else (1.0, alpha)
        ctx.emit(builders.eltwise(name, [a, b], top, operation="SUM", coeff=coeff), result=node)
    elif kind == "sub":
        ctx.emit(builders.eltwise(name, [a, b], top, operation="SUM", coeff=(1.0, -alpha)), result=node)
    elif kind == "rsub":
        ctx.emit(builders.eltwise(name, [b, a], top, operation="SUM", coeff=(1.0, -alpha)), result=node)
    elif kind == "mul":
        ctx.emit(builders.eltwise(name, [a, b], top, operation="PROD"), result=node)
    else:
        inverse = _reciprocal(ctx, node, b, "reciprocal")
        ctx.emit(builders.eltwise(name, [a, inverse], top, operation="PROD"), result=node)
