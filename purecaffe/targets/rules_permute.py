"""Permute on targets without it (bvlc, caffe1; nnie beyond (0, 2, 3, 1)): copies, or one-hot Convolutions.

Two exact rewrites, tried in this order:

* `permute_as_slices`: per moved axis, Slice it into size-1 parts, Reshape each, Concat them at the
  axis's new place.  Copies only, so exact for every value (inf, NaN and -0 included); one Slice top
  (and one Reshape layer) per element of each moved axis, so it is taken up to `PREFER_SLICES` tops,
  and up to `MAX_PERMUTE_SLICES` where the Convolutions cannot be had.
* `permute_as_convolutions`, beyond that (a transformer's (N, C, H*W) -> (N, H*W, C) moves 1024 to 4096
  elements; its attention's head split 32 to 256).  Each single-axis move [P][Q][f][R] -> [P][f][Q][R] (P, Q, R blocks of axes, f the moved
  axis) is a Reshape to (N*P, 1, Q, f*R) and a Convolution with a (1, f) kernel, dilation (1, R), f
  outputs, no bias and weights w[k, 0, 0, j] = (j == k): output (N*P, f, Q, R) with
  out[p, k, q, r] = x[p, 0, q, k*R + r], the move.  Where the target refuses that Reshape (it folds P
  into the batch: NNIE), the same move is a grouped Convolution on (N, P, Q, f*R): group P,
  P*f outputs, weights (P*f, 1, 1, f) with w[g*f + k, 0, 0, j] = (j == k).
  Large axes are first split into factors of at most `MAX_FACTOR` (a 4096 axis as 64 x 64: two moves
  of 64 x 64 weights instead of one of 4096 x 4096), size-1 axes dropped and axes that stay neighbours
  merged, so the cost is a sum of f^2 over small f.

Why the convolutions are exact: Caffe computes a Convolution as im2col + one GEMM per group
(`caffe_cpu_gemm`); each output is a dot product of one window with one weight row, a sum in any order of
1 x x[k] and 0 x x[j] terms.  For finite x every 0 x x[j] is an exact zero and x[k] + (+-0) = x[k], in any
order and with or without FMA, so each output is its input (a -0 input may come out +0).  An inf or NaN
input differs: 0 x inf = NaN, which then reaches every output of its window (here: all f outputs of the
move that read it).  Denormals pass unchanged unless the process flushes them (Caffe does not set FTZ/DAZ).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from purecaffe.canonical import Blob, CaffeLayer, builders
from purecaffe.targets.target import Applied, Declined, Outcome, Rule, Target

# A Permute rewritten as Slice + Reshape + Concat costs one Slice top per element of each moved
# axis; past this many the prototxt and Caffe's per-top overhead are unreasonable: the one-hot
# Convolutions are used instead.
MAX_PERMUTE_SLICES = 512
# The one-hot Convolutions' weights (float32), summed over their moves; past this many (64 MB) refused.
MAX_PERMUTE_WEIGHTS = 1 << 24
# Up to this many Slice tops the Slice rewrite is taken even where the Convolutions could be: it copies,
# so it is exact for every value, and it is small.  Past it the Convolutions are (much) fewer layers: one
# Reshape + one Convolution per move against one Reshape per Slice top (measured on smp Segformer mit_b0 for
# bvlc: 9774 layers, 18.8 s to convert, with Slices up to 512 tops; 1266 layers, 4.6 s, with this bound).
PREFER_SLICES = 16
# A moved axis larger than this is split into factors of at most this size (where its size allows).
MAX_FACTOR = 64


def _part(layer: CaffeLayer, part: str) -> str:
    return f"{layer.name}/{part}"


def _moves(order: Sequence[int]) -> list[tuple[int, int]]:
    """Single-axis moves (from position, to position) that turn the identity into `order`."""
    current = list(range(len(order)))
    moves = []
    for position, axis in enumerate(order):
        at = current.index(axis)
        if at != position:
            moves.append((at, position))
            current.insert(position, current.pop(at))
    return moves


def _order(layer: CaffeLayer) -> tuple[int, ...]:
    return tuple(int(o) for o in layer.params["order"])


def permute_slice_cost(layer: CaffeLayer) -> int:
    """How many Slice tops `permute_as_slices` needs for this Permute."""
    shape = list(layer.bottoms[0].shape)
    cost = 0
    for at, to in _moves(_order(layer)):
        cost += shape[at]
        shape.insert(to, shape.pop(at))
    return cost


def permute_as_slices(layer: CaffeLayer, target: Target) -> Outcome:
    """Permute -> per moved axis: Slice it into size-1 parts, Reshape each (moving only that size-1
    axis, so no value moves in memory), Concat along the axis's new position.  Copies only: exact."""
    if layer.type != "Permute" or target.allows(layer):
        return None
    cost = permute_slice_cost(layer)
    if cost > MAX_PERMUTE_SLICES:
        return Declined(f"its exact rewrite (Slice + Reshape + Concat) would need {cost} Slice tops, more than "
                        f"{MAX_PERMUTE_SLICES}: cut the net before it or pick a target with Permute", cost)
    x = layer.bottoms[0]
    moves = _moves(_order(layer))
    made: list[CaffeLayer] = []
    current = x
    for k, (at, to) in enumerate(moves):
        last = k == len(moves) - 1
        stem = layer.name if last else _part(layer, f"move{k}")
        size = current.shape[at]
        parts = [f"{stem}/part{i}" for i in range(size)]
        cut = builders.slice_layer(_part(layer, f"move{k}/slice"), current, parts, axis=at)
        made.append(cut)
        moved_shape = list(current.shape)
        moved_shape.insert(to, moved_shape.pop(at))
        part_shape = list(moved_shape)
        part_shape[to] = 1
        reshaped = []
        for part in cut.tops:
            made.append(builders.reshape_to(f"{part.name}/moved", part, f"{part.name}/moved", part_shape))
            reshaped.append(made[-1].top)
        made.append(builders.concat(stem, reshaped, layer.top.name if last else stem, axis=to))
        current = made[-1].top
    return Applied(tuple(dataclasses.replace(m, origin=layer.origin) for m in made))


def split_size(size: int, cap: int = MAX_FACTOR) -> list[int]:
    """`size` as the fewest factors of at most `cap` (the most even such split: least sum of squares);
    a size with a prime factor above `cap` as its prime factors (the least sum of squares there is)."""
    if size <= cap:
        return [size]
    primes: list[int] = []
    rest, p = size, 2
    while p * p <= rest:
        while rest % p == 0:
            primes.append(p)
            rest //= p
        p += 1
    if rest > 1:
        primes.append(rest)
    if max(primes) > cap:
        return primes

    def best(n: int, parts: int) -> list[int] | None:
        if parts == 1:
            return [n] if n <= cap else None
        found: list[int] | None = None
        for d in range(2, min(n, cap) + 1):
            if n % d:
                continue
            tail = best(n // d, parts - 1)
            if tail is not None and (found is None or d * d + sum(t * t for t in tail) < sum(f * f for f in found)):
                found = [d, *tail]
        return found

    for parts in range(2, len(primes) + 1):
        found = best(size, parts)
        if found is not None:
            return found
    return primes  # not reached: the primes themselves are a split within cap


def refined(shape: Sequence[int], order: Sequence[int]) -> tuple[list[int], list[int]]:
    """The same permutation on fewer, smaller axes: size-1 axes dropped, axes that stay neighbours (in the
    same order) merged, then every axis split into factors (`split_size`).  Returns (shape, order)."""
    kept = [a for a in range(len(shape)) if shape[a] != 1]
    runs: list[list[int]] = []  # runs of source axes that stay consecutive, in the output's order
    for axis in (a for a in order if shape[a] != 1):
        if runs and kept.index(axis) == kept.index(runs[-1][-1]) + 1:
            runs[-1].append(axis)
        else:
            runs.append([axis])
    source_runs = sorted(runs, key=lambda run: run[0])
    pieces: dict[int, list[int]] = {}  # source run -> its refined axes (in the refined source order)
    sizes: list[int] = []
    for run_index, run in enumerate(source_runs):
        factors = split_size(math.prod(shape[a] for a in run))
        pieces[run_index] = list(range(len(sizes), len(sizes) + len(factors)))
        sizes.extend(factors)
    refined_order = [axis for run in runs for axis in pieces[source_runs.index(run)]]
    return sizes, refined_order


def _blocks(shape: Sequence[int], at: int, to: int) -> tuple[int, int, int, int]:
    """(P, Q, f, R) of the move of axis `at` to `to` (< at) in `shape`: [P][Q][f][R] -> [P][f][Q][R]."""
    return math.prod(shape[:to]), math.prod(shape[to:at]), shape[at], math.prod(shape[at + 1:])


def _plan(layer: CaffeLayer) -> tuple[int, list[int], list[tuple[int, int]]]:
    """(batch kept apart, refined per-sample shape, moves).  A Permute that keeps axis 0 moves each sample
    on its own (the batch stays the batch); one that moves axis 0 is treated as one sample."""
    shape, order = list(layer.bottoms[0].shape), _order(layer)
    batch = shape[0] if order[0] == 0 else 1
    if order[0] == 0:
        shape, order = shape[1:], tuple(o - 1 for o in order[1:])
    sizes, refined_order = refined(shape, order)
    return batch, sizes, _moves(refined_order)


def permute_weight_cost(layer: CaffeLayer, *, grouped: bool = False) -> int:
    """How many float32 weights `permute_as_convolutions` writes for this Permute (folded or grouped form)."""
    _, shape, moves = _plan(layer)
    cost = 0
    for at, to in moves:
        p, _, f, _ = _blocks(shape, at, to)
        cost += (p if grouped else 1) * f * f
        shape.insert(to, shape.pop(at))
    return cost


def _one_hot(rows: int, f: int) -> np.ndarray:
    """(rows x f, 1, 1, f) weights: output k of each block of f picks tap k."""
    weight = np.zeros((rows * f, 1, 1, f), dtype=np.float32)
    weight[np.arange(rows * f), 0, 0, np.tile(np.arange(f), rows)] = 1.0
    return weight


def _convolution_layers(layer: CaffeLayer, *, grouped: bool) -> list[CaffeLayer]:
    batch, shape, moves = _plan(layer)
    made: list[CaffeLayer] = []
    current: Blob = layer.bottoms[0]
    for k, (at, to) in enumerate(moves):
        p, q, f, r = _blocks(shape, at, to)
        rows = (batch, p, q, f * r) if grouped else (batch * p, 1, q, f * r)
        made.append(builders.reshape_to(_part(layer, f"move{k}/rows"), current, _part(layer, f"move{k}/rows"), rows))
        conv = builders.convolution(_part(layer, f"move{k}"), made[-1].top, _part(layer, f"move{k}"),
                                    num_output=p * f if grouped else f, kernel=(1, f), dilation=(1, r),
                                    group=p if grouped else 1, bias_term=False)
        made.append(conv.with_weights([_one_hot(p if grouped else 1, f)]))
        current = conv.top
        shape.insert(to, shape.pop(at))
    made.append(builders.reshape_to(layer.name, current, layer.top.name, layer.top.shape))
    return made


def permute_as_convolutions(layer: CaffeLayer, target: Target) -> Outcome:
    """Permute -> Reshape + one-hot Convolution per move (module docstring), where the Slice rewrite would
    need more than `PREFER_SLICES` tops; the folded form, else the grouped one where the target refuses a
    layer of the folded one; where neither can be had, the Slices up to `MAX_PERMUTE_SLICES` tops.
    Exact for finite inputs (module docstring)."""
    if layer.type != "Permute" or target.allows(layer) or not target.has("Convolution"):
        return None
    slices = permute_slice_cost(layer)
    if slices <= PREFER_SLICES:
        return None  # `permute_as_slices`' case
    refusals: list[str] = []
    for grouped in (False, True):
        weights = permute_weight_cost(layer, grouped=grouped)
        form = "grouped" if grouped else "folded"
        if weights > MAX_PERMUTE_WEIGHTS:
            refusals.append(f"{form} one-hot Convolutions: {weights} weights ({weights * 4 / 2 ** 20:.1f} MB), "
                            f"more than {MAX_PERMUTE_WEIGHTS} ({MAX_PERMUTE_WEIGHTS * 4 // 2 ** 20} MB)")
            continue
        made = _convolution_layers(layer, grouped=grouped)
        refused = [built for built in made if not target.allows(built)]
        if not refused:
            return Applied(tuple(dataclasses.replace(m, origin=layer.origin) for m in made))
        why = "; ".join(limit.describe(refused[0], target.name) for limit in target.broken(refused[0]))
        refusals.append(f"{form} one-hot Convolutions: {target.name} refuses their {refused[0].type} "
                        f"{refused[0].name} ({why or 'not in its layer set'})")
    if slices <= MAX_PERMUTE_SLICES:
        return None  # the Slices, then
    return Declined(f"its exact rewrites would need {slices} Slice tops (more than {MAX_PERMUTE_SLICES}) or "
                    + "; or ".join(refusals) + ": cut the net before it or pick a target with Permute", slices)


# The convolutions' rule first: it leaves (None) the small Permutes, and those it cannot rewrite within
# MAX_PERMUTE_SLICES, to the Slices; its refusal names both rewrites' costs.
RULES: tuple[Rule, ...] = (permute_as_convolutions, permute_as_slices)

__all__ = ["MAX_FACTOR", "MAX_PERMUTE_SLICES", "MAX_PERMUTE_WEIGHTS", "PREFER_SLICES", "RULES", "permute_as_convolutions",
           "permute_as_slices", "permute_slice_cost", "permute_weight_cost", "refined", "split_size"]
