"""GELU, both forms, from stock Caffe 1.0 layers (AbsVal, Power, Exp, Eltwise, ReLU, TanH).

Targets without AbsVal or Exp (rknn; sophgo and mnn have no Exp) get |x| as max(x, -x) and this
construction's e^y (y <= 0) as sigmoid(y) / sigmoid(-y) (`purecaffe.targets.rules_powers`).

approximate='tanh'
    0.5 x (1 + tanh(c (x + 0.044715 x^3))), c = sqrt(2/pi): Power, Eltwise, TanH, as PyTorch writes it.

approximate='none' (the exact, erf GELU)
    Caffe has no erf, so the construction is a rational-exponential approximation of erfc that is
    accurate to float32 rounding.  With a = |x| and z = a / sqrt(2)::

        GELU(x) = x Phi(x) = relu(x) - 0.5 a erfc(z)            (x Phi(-|x|) is the tail on both sides)
        erfc(z) = t exp(-z^2 + w Q(w)),  t = 1 / (1 + p z),  w = p z t = 1 - t

    with p = 0.45 and Q of degree 8 fitted (minimax, Lawson iterations, float64) to
    log(erfc(z) e^(z^2) / t): the fit's relative error in erfc is 1.43e-8 for 0 <= z <= 10.5
    (beyond, exp(-z^2) is below float32's smallest number).  Written as the tail, the result has
    no cancellation: on x < 0 it is a product of accurate factors (PyTorch's 0.5 x (1 + erf(x/sqrt 2))
    loses every digit there), on x > 0 relu(x) minus at most half of it.  The polynomial is in w,
    not t, so its value vanishes at z = 0 and its float32 (Horner) rounding stays small where
    erfc ~ 1.

    Layers: AbsVal a; Power a p/sqrt 2; Power (1 + .)^-1 -> t; Eltwise PROD -> w; Horner in w
    (Power with scale/shift, then Eltwise PROD and Power shift per degree); Power x^2; Eltwise SUM
    -x^2/2 + w Q(w); Exp; Eltwise PROD a t exp(..); ReLU x; Eltwise SUM relu(x) - 0.5 a t exp(..).

    Measured (`scripts/measure_gelu_error.py`: the converted prototxt in the runtime, float64 erfc as
    the truth) on every float32 of the binades where the error peaks, |x| in [2^-12, 2^-10],
    [2^-5, 2^-3] and [2, 4] (100 million values), and on every 61st float32 bit pattern in [-16, 16]
    (36 million): the worst absolute error is 2.38e-7 (half an ulp of a result near 4, at x = 5.35);
    relative to the scale of x it is at most 1.88 ulps of x (at x = 0.0615; PyTorch's own CPU GELU,
    judged the same way, is off by up to 5.46 ulps of x, near 3.48); for x > 0 at most 2.73 ulps of
    the result.  For x < 0 the relative error grows like (x^2 / 2) 2^-24 from the float32 rounding
    of x^2 that exp(-x^2/2) amplifies: 13.6 ulps of the result on [-4, 0), where the values are
    below 2e-4 in magnitude and PyTorch's own are off by 6.9e4 ulps (its 1 + erf cancels).
    `tests/converter/lowerings/test_gelu.py` re-measures these bounds (`MEASURED_*`) on a sweep in
    the runtime and a dense grid in real Caffe.  Infinite inputs give NaN (inf * 0 in a t); every
    finite input gives a finite result.
"""
from __future__ import annotations

import math

from purecaffe.canonical import Blob, builders
from purecaffe.converter.context import LoweringContext
from purecaffe.converter.graph import Node
from purecaffe.converter.lowerings._support import require_float
from purecaffe.converter.registry import lowering

# erfc(z) = t exp(-z^2 + w Q(w)), t = 1 / (1 + ERFC_P z), w = 1 - t; Q's coefficients, lowest first.
ERFC_P = 0.45
ERFC_Q = (
    -1.5075090212223319,
    -0.21301265922929763,
    0.28599029798115594,
    0.22068230100682076,
    -0.09207875159787188,
    0.12490093625019025,
    -0.5988056336112598,
    0.5867888110979912,
    -0.17792815897059633,
)
# Relative error of the fitted erfc (float64, dense grid 0 <= z <= 10.5).
FIT_RELATIVE_ERROR = 1.43e-8
# Worst errors measured over float32 (see the docstring; test_gelu.py re-measures and checks them).
MEASURED_ULPS_OF_X = 1.88
MEASURED_ULPS_POSITIVE = 2.73
MEASURED_ULPS_NEGATIVE = 13.6


@lowering("aten.gelu", aliases=("aten.gelu_",))
def lower_gelu(ctx: LoweringContext, node: Node) -> None:
    self, approximate = node.unpack("self", "approximate")
    require_float(ctx, node, "GELU")
    x = ctx.blob(self)
    if approximate == "tanh":
        _gelu_tanh(ctx, node, x)
    elif approximate == "none":
        _gelu_erf(ctx, node, x)
    else:
        raise ctx.unsupported(f"GELU with approximate={approximate!r}")


def _gelu_tanh(ctx: LoweringContext, node: Node, x: Blob) -> None:
    c = math.sqrt(2.0 / math.pi)
    cube = ctx.emit(builders.power(ctx.name(node, "cube"), x, ctx.name(node, "cube"), power=3.0))[0]
    inner = ctx.emit(builders.eltwise(ctx.name(node, "inner"), [cube, x], ctx.name(node, "inner"),
                                      operation="SUM", coeff=(c * 0.044715, c)))[0]
    th = ctx.emit(builders.tanh(ctx.name(node, "tanh"), inner, ctx.name(node, "tanh")))[0]
    gate = ctx.emit(builders.power(ctx.name(node, "gate"), th, ctx.name(node, "gate"),
                                   scale=0.5, shift=0.5))[0]
    ctx.emit(builders.eltwise(ctx.name(node), [x, gate], ctx.name(node), operation="PROD"), result=node)


def _gelu_erf(ctx: LoweringContext, node: Node, x: Blob) -> None:
    def part(what: str) -> str:
        return ctx.name(node, what)

    def power(what: str, bottom: Blob, **params: float) -> Blob:
        return ctx.emit(builders.power(part(what), bottom, part(what), **params))[0]

    def eltwise(what: str, bottoms: list[Blob], **params: object) -> Blob:
        return ctx.emit(builders.eltwise(part(what), bottoms, part(what), **params))[0]  # type: ignore[arg-type]

    a = ctx.emit(builders.absval(part("abs"), x, part("abs")))[0]
    pz = power("pz", a, scale=ERFC_P / math.sqrt(2.0))
    t = power("t", pz, power=-1.0, shift=1.0)
    w = eltwise("w", [pz, t], operation="PROD")
    q = ERFC_Q
    acc = power("q", w, scale=q[-1], shift=q[-2])
    for k in range(len(q) - 3, -1, -1):
        acc = eltwise(f"q{k}_mul", [acc, w], operation="PROD")
        acc = power(f"q{k}", acc, shift=q[k])
    poly = eltwise("wq", [acc, w], operation="PROD")
    square = power("square", x, power=2.0)
    exponent = eltwise("exponent", [square, poly], operation="SUM", coeff=(-0.5, 1.0))
    tail = ctx.emit(builders.exp(part("exp"), exponent, part("exp")))[0]
    correction = eltwise("tail", [a, t, tail], operation="PROD")
    positive = ctx.emit(builders.relu(part("relu"), x, part("relu")))[0]
    ctx.emit(builders.eltwise(ctx.name(node), [positive, correction], ctx.name(node), operation="SUM",
                              coeff=(1.0, -0.5)), result=node)
