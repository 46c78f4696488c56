"""Legalization rules: exact rewrites of a canonical layer a target lacks into layers it has.

A rule is a small function `(layer, target) -> Applied | Declined | None`: None when
the layer is not its case; `Applied(layers)`, the replacement, which keeps the layer's
bottoms and the names of its tops (so nothing downstream changes) and carries its
origin; `Declined(reason, cost)` when it is its case but the rewrite is too costly or
impossible (`checks` then reports that reason, not merely that the type is missing).
A rule's case is a layer its target refuses: `Target.allows`, the one legality
predicate (layer set + limits), which `checks` applies too.  Each rewrite is exact up
to float32 rounding; the reason is in its docstring.  `legalize` applies the target's
rules until no layer changes (a rewrite may produce layers another rule rewrites,
e.g. HardSwish -> Clip -> ReLU/Power).  Whatever a target still cannot take
afterwards is reported by `checks`, naming the torch node.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence

from purecaffe.canonical import Blob, CaffeLayer, builders, constructions
from purecaffe.runtime.layers.base import FLT_MAX, canonical_axis
from purecaffe.targets.limits import POOLING_ALWAYS_CEIL, RKNN_FLATTEN_TO_END
from purecaffe.targets.rules_broadcast import RULES as BROADCAST_RULES
from purecaffe.targets.rules_permute import MAX_PERMUTE_SLICES, RULES as PERMUTE_RULES, permute_slice_cost
from purecaffe.targets.rules_recurrent import lstm_with_cont
from purecaffe.targets.rules_slices import RULES as SLICE_RULES
from purecaffe.targets.target import Applied, Declined, Outcome, Rule, Target

log = logging.getLogger(__name__)


def _part(layer: CaffeLayer, part: str) -> str:
    return f"{layer.name}/{part}"


def _origin(layers: Sequence[CaffeLayer], source: CaffeLayer) -> Applied:
    return Applied(tuple(dataclasses.replace(made, origin=source.origin) for made in layers))


def _relu_sum(layer: CaffeLayer, x: Blob, top: str, *, low: float, high: float) -> list[CaffeLayer]:
    """min(max(x, low), high) from ReLU, Power and Eltwise only.

    * low 0:       relu(x) - relu(x - high)    (exact on [0, 2 high]: Sterbenz)
    * no low:      x - relu(x - high)
    * no high:     x + relu(low - x)
    * otherwise:   low + relu(x - low) - relu(x - high)
    """
    made: list[CaffeLayer] = []

    def add(built: CaffeLayer) -> Blob:
        made.append(built)
        return built.top

    def shifted(name: str, scale: float, shift: float) -> Blob:
        return add(builders.power(_part(layer, name), x, _part(layer, name), scale=scale, shift=shift))

    def relu(name: str, bottom: Blob) -> Blob:
        return add(builders.relu(_part(layer, name), bottom, _part(layer, name)))

    if low <= -FLT_MAX:
        over = relu("over", shifted("minus_high", 1.0, -high))
        add(builders.eltwise(layer.name, [x, over], top, coeff=(1.0, -1.0)))
    elif high >= FLT_MAX:
        under = relu("under", shifted("low_minus", -1.0, low))
        add(builders.eltwise(layer.name, [x, under], top, coeff=(1.0, 1.0)))
    else:
        above = relu("above", x if low == 0.0 else shifted("minus_low", 1.0, -low))
        over = relu("over", shifted("minus_high", 1.0, -high))
        if low == 0.0:
            add(builders.eltwise(layer.name, [above, over], top, coeff=(1.0, -1.0)))
        else:
            diff = add(builders.eltwise(_part(layer, "diff"), [above, over], _part(layer, "diff"), coeff=(1.0, -1.0)))
            add(builders.power(layer.name, diff, top, shift=low))
    return made


def relu6_as_clip(layer: CaffeLayer, target: Target) -> Outcome:
    """ReLU6 -> Clip(0, 6) where the target has Clip but no ReLU6 (identical arithmetic)."""
    if layer.type != "ReLU6" or target.allows(layer) or not target.has("Clip"):
        return None
    return _origin([builders.clip(layer.name, layer.bottoms[0], layer.top.name, min=0.0, max=6.0)], layer)


def relu6_as_relus(layer: CaffeLayer, target: Target) -> Outcome:
    """ReLU6 -> relu(x) - relu(x - 6): exact for x <= 12 (Sterbenz), one rounding beyond."""
    if layer.type != "ReLU6" or target.allows(layer) or target.has("Clip"):
        return None
    return _origin(_relu_sum(layer, layer.bottoms[0], layer.top.name, low=0.0, high=6.0), layer)


def clip_as_relus(layer: CaffeLayer, target: Target) -> Outcome:
    """Clip(low, high) -> ReLU/Power/Eltwise (`_relu_sum`), for targets without Clip."""
    if layer.type != "Clip" or target.allows(layer):
        return None
    low, high = float(layer.params["min"]), float(layer.params["max"])
    if (low, high) == (0.0, 6.0) and target.has("ReLU6"):
        return _origin([builders.relu6(layer.name, layer.bottoms[0], layer.top.name)], layer)
    return _origin(_relu_sum(layer, layer.bottoms[0], layer.top.name, low=low, high=high), layer)


def swish_as_sigmoid(layer: CaffeLayer, target: Target) -> Outcome:
    """Swish(beta) -> x * Sigmoid(beta x): Caffe's Swish computes exactly this."""
    if layer.type != "Swish" or target.allows(layer):
        return None
    x = layer.bottoms[0]
    made: list[CaffeLayer] = []
    gate_in = x
    beta = float(layer.params["beta"])
    if beta != 1.0:
        made.append(builders.power(_part(layer, "beta"), x, _part(layer, "beta"), scale=beta))
        gate_in = made[-1].top
    made.append(builders.sigmoid(_part(layer, "sigmoid"), gate_in, _part(layer, "sigmoid")))
    made.append(builders.eltwise(layer.name, [x, made[-1].top], layer.top.name, operation="PROD"))
    return _origin(made, layer)


def hardswish_as_gate(layer: CaffeLayer, target: Target) -> Outcome:
    """HardSwish -> x * Clip(x / 6 + 1/2, 0, 1): PyTorch's x * relu6(x + 3) / 6 to rounding."""
    if layer.type != "HardSwish" or target.allows(layer):
        return None
    x = layer.bottoms[0]
    affine = builders.power(_part(layer, "affine"), x, _part(layer, "affine"), scale=1.0 / 6.0, shift=0.5)
    gate = builders.clip(_part(layer, "gate"), affine.top, _part(layer, "gate"), min=0.0, max=1.0)
    prod = builders.eltwise(layer.name, [x, gate.top], layer.top.name, operation="PROD")
    return _origin([affine, gate, prod], layer)


def floor_pooling_as_ceil(layer: CaffeLayer, target: Target) -> Outcome:
    """Pooling(FLOOR) -> Pooling(CEIL) + Slice of the extra last row/column, for targets whose
    Pooling has no round mode.  The windows CEIL and FLOOR share are the same windows with the
    same AVE divisors (Caffe clips each to H + pad), so the kept part is identical."""
    if layer.type != "Pooling" or POOLING_ALWAYS_CEIL not in target.broken(layer):
        return None
    floor = layer.top.shape
    params = layer.params

    def ceil_pooling(name: str) -> CaffeLayer:
        return builders.pooling(name, layer.bottoms[0], name if name != layer.name else layer.top.name,
                                method=params["pool"], kernel=params["kernel"], stride=params["stride"],
                                pad=params["pad"], round_mode="CEIL")

    whole = ceil_pooling(layer.name)
    cuts = [axis for axis in (2, 3) if whole.top.shape[axis] != floor[axis]]
    if not cuts:
        return _origin([whole], layer)
    made = [ceil_pooling(_part(layer, "ceil"))]
    current = made[0].top
    for k, axis in enumerate(cuts):
        last = k == len(cuts) - 1
        name = layer.name if last else _part(layer, f"floor{axis}")
        top = layer.top.name if last else name
        cut = builders.slice_keep(name, current, top, axis=axis, start=0, end=floor[axis])
        made.append(cut)
        current = next(t for t in cut.tops if t.name == top)
    return _origin(made, layer)


def interp_as_matrices(layer: CaffeLayer, target: Target) -> Outcome:
    """Interp (align corners) -> InnerProduct along W + (H, 1) Convolution along H with the fixed
    weights of PyTorch's align_corners=True (`constructions.resize_layers`): the same two
    products and one sum per output as Interp."""
    if layer.type != "Interp" or target.allows(layer):
        return None
    x = layer.bottoms[0]
    (h, w), (h_out, w_out) = x.shape[2:], layer.top.shape[2:]
    matrix_h = constructions.linear_resize_matrix(h, h_out, align_corners=True)
    matrix_w = constructions.linear_resize_matrix(w, w_out, align_corners=True)
    cost = constructions.resize_cost(x, matrix_h, matrix_w)
    if cost > constructions.MAX_RESIZE_WEIGHTS:
        return Declined(f"its exact rewrite (InnerProduct + Convolution) would need {cost} weights, more than "
                        f"{constructions.MAX_RESIZE_WEIGHTS}", cost)
    return _origin(constructions.resize_layers(layer.name, x, layer.top.name, matrix_h, matrix_w), layer)


def flatten_as_reshape(layer: CaffeLayer, target: Target) -> Outcome:
    """Flatten -> Reshape to the same shape, for targets without Flatten, or with an end_axis or from an axis
    after 1 for targets that read Flatten as ONNX's 2-D one (a Reshape moves no value: identical)."""
    if layer.type != "Flatten" or target.has("Flatten") and RKNN_FLATTEN_TO_END not in target.broken(layer):
        return None
    return _origin([builders.reshape_to(layer.name, layer.bottoms[0], layer.top.name, layer.top.shape)], layer)


# A Tile rewritten as Concats of copies gives each Concat at most this many bottoms (a tree of Concats past it).
MAX_CONCAT_COPIES = 64


def reduction_as_pooling(layer: CaffeLayer, target: Target) -> Outcome:
    """Reduction SUM/MEAN over the axes from `axis` (>= 1) -> Reshape to (N, M, L, 1), AVE Pooling with an
    (L, 1) window (the mean: Caffe divides by the whole window), Power for SUM (x L) and `coeff`, Reshape
    to the reduced shape.  The same additions as Reduction's, in another order: float32 rounding."""
    # Its case is a Reduction the target refuses: none (opencv), or not of C, H, W of a 4-D blob (rknn;
    # measured there: InstanceNorm/GroupNorm at 64 x 64, a (4096, 1) window, cosine 0.9999998, max error
    # 8e-4 of max|torch|; at 256 x 256, 65536 rows, 0.9999987 and 1e-3).
    if layer.type != "Reduction" or target.allows(layer) or not target.has("Pooling"):
        return None
    operation, axis, coeff = layer.params["operation"], int(layer.params["axis"]), float(layer.params["coeff"])
    x = layer.bottoms[0]
    axis = canonical_axis(axis, len(x.shape)) if x.shape else 0
    if operation not in ("SUM", "MEAN") or axis < 1:
        return Declined(f"only SUM and MEAN from an axis >= 1 become Pooling ({operation} from axis {axis})")
    length = math.prod(x.shape[axis:])
    rows = builders.reshape_to(_part(layer, "rows"), x, _part(layer, "rows"),
                               (x.shape[0], math.prod(x.shape[1:axis]), length, 1))
    mean = builders.pooling(_part(layer, "mean"), rows.top, _part(layer, "mean"), method="AVE",
                            kernel=(length, 1), stride=(1, 1))
    made = [rows, mean]
    factor = coeff * (length if operation == "SUM" else 1)
    if factor != 1.0:
        made.append(builders.power(_part(layer, "scaled"), made[-1].top, _part(layer, "scaled"), scale=factor))
    made.append(builders.reshape_to(layer.name, made[-1].top, layer.top.name, layer.top.shape))
    return _origin(made, layer)


def copies_tree(name: str, x: Blob, top: str, *, axis: int, copies: int, fan: int = MAX_CONCAT_COPIES,
                unit: int = 1) -> list[CaffeLayer]:
    """`copies` copies of x along `axis` as Concats of at most `fan` bottoms each, the last one named `name`
    with top `top`: tile(x, n) = Concat(tile(B, n // fan), x, .., x), B a Concat of `fan` copies of x and
    n % fan copies of x after it (every copy is x, so the blocks' order does not matter).  Copies only:
    identical.  Depth about log_fan(n); `unit` (how many copies of the original bottom x holds) keeps the
    names of each level apart."""
    if copies <= fan:
        return [builders.concat(name, [x] * copies, top, axis=axis)]
    stem = f"{name}/copies{unit * fan}"
    block = builders.concat(stem, [x] * fan, stem, axis=axis)
    blocks, rest = divmod(copies, fan)
    if rest == 0:
        return [block, *copies_tree(name, block.top, top, axis=axis, copies=blocks, fan=fan, unit=unit * fan)]
    inner = f"{stem}x{blocks}"
    made = [block] if blocks == 1 else \
        [block, *copies_tree(inner, block.top, inner, axis=axis, copies=blocks, fan=fan, unit=unit * fan)]
    return [*made, builders.concat(name, [made[-1].top, *[x] * rest], top, axis=axis)]


def tile_as_concat(layer: CaffeLayer, target: Target) -> Outcome:
    """Tile -> Concat of `tiles` copies of the bottom along the axis, a tree of Concats past
    `MAX_CONCAT_COPIES` copies (`copies_tree`; copies only: identical)."""
    if layer.type != "Tile" or target.allows(layer) or not target.has("Concat"):
        return None
    return _origin(copies_tree(layer.name, layer.bottoms[0], layer.top.name, axis=int(layer.params["axis"]),
                               copies=int(layer.params["tiles"])), layer)


def eltwise_coeff_as_power(layer: CaffeLayer, target: Target) -> Outcome:
    """Eltwise SUM of two bottoms with a coefficient other than +1/-1 -> Power(scale c) of that bottom, then
    the SUM with coefficient 1, for targets that read coefficients only as signs (`limits.RKNN_ELTWISE_SIGNS`).
    Caffe computes c x + y in one axpy; this rounds c x first: within half an ulp of it."""
    if layer.type != "Eltwise" or target.allows(layer) or layer.params["operation"] != "SUM" or \
            len(layer.bottoms) > 2:
        return None
    coeff = tuple(float(c) for c in layer.params["coeff"])
    if all(c in (1.0, -1.0) for c in coeff):
        return None
    made: list[CaffeLayer] = []
    bottoms: list[Blob] = []
    signs: list[float] = []
    for i, (bottom, c) in enumerate(zip(layer.bottoms, coeff)):
        if c in (1.0, -1.0):
            bottoms.append(bottom)
            signs.append(c)
            continue
        made.append(builders.power(_part(layer, f"coeff{i}"), bottom, _part(layer, f"coeff{i}"), scale=c))
        bottoms.append(made[-1].top)
        signs.append(1.0)
    made.append(builders.eltwise(layer.name, bottoms, layer.top.name, operation="SUM",
                                 coeff=() if all(c == 1.0 for c in signs) else signs))
    return _origin(made, layer)


def eltwise_as_pairs(layer: CaffeLayer, target: Target) -> Outcome:
    """Eltwise of n > 2 bottoms -> a chain of two-bottom Eltwise layers, for targets that build only those
    (`limits.RKNN_ELTWISE_PAIRS`).  Caffe accumulates the bottoms one after the other (top = c0 x0;
    top += c1 x1; ...): the chain does the same operations in the same order, so it is identical."""
    if layer.type != "Eltwise" or target.allows(layer) or len(layer.bottoms) <= 2:
        return None
    operation = layer.params["operation"]
    coeff = tuple(float(c) for c in layer.params["coeff"]) or (1.0,) * len(layer.bottoms)
    made: list[CaffeLayer] = []
    current = layer.bottoms[0]
    for i in range(1, len(layer.bottoms)):
        last = i == len(layer.bottoms) - 1
        name = layer.name if last else _part(layer, f"pair{i}")
        top = layer.top.name if last else name
        pair = (coeff[0], coeff[1]) if i == 1 else (1.0, coeff[i])
        made.append(builders.eltwise(name, [current, layer.bottoms[i]], top, operation=operation,
                                     coeff=pair if operation == "SUM" and pair != (1.0, 1.0) else ()))
        current = made[-1].top
    return _origin(made, layer)


RULES: tuple[Rule, ...] = (
    eltwise_as_pairs,
    eltwise_coeff_as_power,
    reduction_as_pooling,
    tile_as_concat,
    flatten_as_reshape,
    interp_as_matrices,
    *PERMUTE_RULES,
    relu6_as_clip, relu6_as_relus, clip_as_relus, swish_as_sigmoid, hardswish_as_gate, floor_pooling_as_ceil,
    lstm_with_cont,
) + BROADCAST_RULES + SLICE_RULES


def declined(layer: CaffeLayer, target: Target) -> Declined | None:
    """Why the target's rules leave `layer` as it is although it is their case (None: no rule's case)."""
    for rule in target.rules:
        outcome = rule(layer, target)
        if isinstance(outcome, Declined):
            return outcome
    return None


def legalize(layers: Sequence[CaffeLayer], target: Target) -> list[CaffeLayer]:
    """Apply `target.net_rules` once, then `target.rules` until no layer changes.  Weights stay with layers
    that keep them.  A declined rewrite leaves the layer for `checks` to refuse (with the rule's reason)."""
    current = list(layers)
    for net_rule in target.net_rules:
        current = net_rule(current, target)
    for _round in range(8):  # a rewrite chain is at most HardSwish -> Clip -> ReLU/Power
        changed = False
        out: list[CaffeLayer] = []
        for layer in current:
            for rule in target.rules:
                outcome = rule(layer, target)
                if isinstance(outcome, Declined):
                    log.debug("%s: %s declined %s: %s", target.name, rule.__name__, layer.name, outcome.reason)
                elif outcome is not None:
                    log.debug("%s: %s %s -> %s", target.name, rule.__name__, layer.name,
                              ", ".join(f"{r.type} {r.name}" for r in outcome.layers))
                    out.extend(outcome.layers)
                    changed = True
                    break
            else:
                out.append(layer)
        current = out
        if not changed:
            return current
    raise RuntimeError(f"legalization for {target.name} did not settle")


def legalize_net(layers: Sequence[CaffeLayer], target: Target) -> list[CaffeLayer]:
    """After `legalize`: each of the target's `net_limits` fixes the layers its `faulty` names."""
    current = list(layers)
    for limit in target.net_limits:
        faulty = limit.faulty(current)
        if faulty:
            log.debug("%s: %s fixes %s", target.name, limit.rule, ", ".join(faulty))
            current = limit.fix(current, faulty)
    return current


__all__ = ["MAX_CONCAT_COPIES", "MAX_PERMUTE_SLICES", "RULES", "copies_tree", "declined", "legalize", "legalize_net",
           "permute_slice_cost"]
