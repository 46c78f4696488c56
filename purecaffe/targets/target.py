"""What a target is made of: its limits, its rules' answers, its judge and the `Target` itself.

The data (which layers, limits, rules and judge each toolchain has) is in `catalog`;
this module only defines the shapes, so `rules`, `limits` and `checks` can use them
without importing the catalog (which imports them).

Legality has one predicate: `Target.allows(layer)`, the layer set plus the target's
`Limit`s of that layer type.  Rules rewrite what it refuses; `checks` reports what is
still refused after them, with the limit's reason and source.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from purecaffe.canonical import CaffeLayer
from purecaffe.targets.fp16_judge import Fp16Reference

ANY_TYPE = "*"  # a Limit on every layer type (e.g. NNIE's feature map width)


@dataclass(frozen=True)
class Limit:
    """One thing a target's consumer refuses or reads differently in a layer type it has.

    `allows(layer)` is the predicate (True: legal); `reason` a `str.format` template filled
    with `target` (its name), `type`, `params` (the layer's parameters), `bottom` and `top`
    (the first bottom's and top's shapes) and `tops` (every top's shape)."""

    layer_types: frozenset[str]
    rule: str          # the finding's id, e.g. "nnie-permute"
    allows: Callable[[CaffeLayer], bool]
    reason: str
    source: str        # where the fact comes from (a measurement, a vendor's guide)

    def applies_to(self, layer_type: str) -> bool:
        return layer_type in self.layer_types or ANY_TYPE in self.layer_types

    def describe(self, layer: CaffeLayer, target: str) -> str:
        return self.reason.format(target=target, type=layer.type, params=layer.params,
                                  bottom=tuple(layer.bottoms[0].shape) if layer.bottoms else (),
                                  top=tuple(layer.tops[0].shape) if layer.tops else (),
                                  tops=[tuple(t.shape) for t in layer.tops])


@dataclass(frozen=True)
class Applied:
    """A rule's rewrite: the replacement layers (same bottoms, same top names, the origin kept)."""

    layers: tuple[CaffeLayer, ...]


@dataclass(frozen=True)
class Declined:
    """The rule's case, but the rewrite is refused: too costly (`cost`, in the unit the reason
    names) or impossible (`cost` None).  `checks` reports the reason with the refusal."""

    reason: str
    cost: int | None = None


Outcome = Applied | Declined | None  # None: not this rule's case
Rule = Callable[[CaffeLayer, "Target"], Outcome]
# A rewrite that needs the net, not one layer (e.g. a blob to read): the layers in, the layers out, in order.
NetRule = Callable[[Sequence[CaffeLayer], "Target"], list[CaffeLayer]]


@dataclass(frozen=True)
class NetLimit:
    """A fault of the consumer that depends on how layers follow each other (not one layer's parameters).

    `faulty(layers)` names the layers at fault in a whole net; `fix(layers, names)` is the same net with
    those layers made right (exactly, as a rule's rewrite: the same bottoms, tops and torch records);
    `reason` and `source` as a `Limit`'s (its `reason` is filled with `target` and `type` only)."""

    rule: str
    faulty: Callable[[Sequence[CaffeLayer]], tuple[str, ...]]
    fix: Callable[[Sequence[CaffeLayer], Collection[str]], list[CaffeLayer]]
    reason: str
    source: str


def readers_of(layers: Sequence[CaffeLayer]) -> dict[str, list[CaffeLayer]]:
    """Blob name -> the layers that read it, in net order (a layer reading a blob twice counted once)."""
    readers: dict[str, list[CaffeLayer]] = {}
    for layer in layers:
        for name in dict.fromkeys(layer.bottom_names):
            readers.setdefault(name, []).append(layer)
    return readers


def rewrite_named(layers: Sequence[CaffeLayer], names: Collection[str],
                  rewrite: Callable[[CaffeLayer], Sequence[CaffeLayer]]) -> list[CaffeLayer]:
    """`layers` with each named one replaced by `rewrite(layer)`, every made layer keeping its origin (a
    `NetLimit.fix`'s common shape: the last made layer takes the name and top, so the torch records hold)."""
    out: list[CaffeLayer] = []
    for layer in layers:
        if layer.name in names:
            out.extend(replace(made, origin=layer.origin) for made in rewrite(layer))
        else:
            out.append(layer)
    return out


@dataclass(frozen=True)
class Tolerance:
    """How close a judge's numbers must be to PyTorch's: max|err| <= rtol x max|torch| + atol, and,
    with `min_cosine`, cosine similarity >= min_cosine (`purecaffe.parity.compare`)."""

    name: str
    rtol: float
    atol: float
    min_cosine: float | None
    reason: str


@dataclass(frozen=True)
class Diagnostic:
    """A second run of the same consumer in a mode of its own whose arithmetic is plain float32, made
    only when the user's (default) run misses the judge's tolerance.

    Within `tolerance` there, the file is read right and the default run's miss is the consumer's
    arithmetic (drift, reported with its size); outside it, the consumer reads the file differently
    from PyTorch (a misread: the default run's failure stands).  `options`: the keyword arguments
    that select the mode in the judge's runner (e.g. `run_mnn(..., winograd=False)`)."""

    name: str
    options: Mapping[str, object]
    tolerance: Tolerance
    reason: str


@dataclass(frozen=True)
class Judge:
    """A real consumer (or the runtime) as a `verify --backend`, with its arithmetic's tolerance;
    `precisions`: the tolerance of each precision it can be asked to compile for."""

    backend: str
    summary: str
    tolerance: Tolerance
    precisions: Mapping[str, Tolerance] = field(default_factory=dict)
    fp16_reference: Fp16Reference | None = None  # judged against the runtime's fp16 storage (parity.fp16)
    diagnostic: Diagnostic | None = None  # where the default run drifts past `tolerance`: the exact mode

    def tolerance_for(self, precision: str | None = None) -> Tolerance:
        if precision is None:
            return self.tolerance
        return self.precisions.get(precision, self.tolerance)


@dataclass(frozen=True)
class Target:
    """One Caffe consumer: what it reads (layer set, limits, schema), how purecaffe makes a net
    legal for it (rules), how the file is written (serialization policy) and what proves it."""

    name: str
    summary: str
    layers: frozenset[str]
    judge: Judge                          # the real consumer that proves a file for this target
    schema: str | None                    # the toolchain's own caffe.proto (file in the team corpus), if public
    rules: tuple[Rule, ...]
    limits: tuple[Limit, ...] = ()
    net_limits: tuple[NetLimit, ...] = ()  # faults across layers, fixed after `rules` (`rules.legalize_net`)
    # "Message.field" names this target's schema lacks (its parser aborts on them: prototxt is
    # read by field name); checked against `schema` where it is public (tests/targets/test_catalog.py).
    missing_fields: frozenset[str] = frozenset()
    # Serialization policy (not legality):
    declare_inputs: str = "layer"         # "layer": Input layers; "field": net `input:` + `input_shape`
    inplace: bool = True                  # makes safe element-wise layers in-place
    # How the consumer lists net outputs (targets.outputs): "layer", by their last writers' places
    # (RKNN, OpenCV: measured), or "name", sorted by blob name (real Caffe's net.outputs: measured).
    output_order: str = "layer"
    # Rewrites that need the whole net, run once before `rules` (`rules.legalize`).
    net_rules: tuple[NetRule, ...] = ()

    def has(self, layer_type: str) -> bool:
        return layer_type in self.layers

    def broken(self, layer: CaffeLayer) -> tuple[Limit, ...]:
        """The limits `layer` breaks (of a layer type the target has)."""
        return tuple(limit for limit in self.limits if limit.applies_to(layer.type) and not limit.allows(layer))

    def allows(self, layer: CaffeLayer) -> bool:
        """The one legality predicate: the target has the layer type and `layer` breaks none of its limits."""
        return (layer.type == "Input" or self.has(layer.type)) and not self.broken(layer)


__all__ = ["ANY_TYPE", "Applied", "Declined", "Diagnostic", "Judge", "Limit", "NetLimit", "NetRule", "Outcome", "Rule",
           "Target", "Tolerance", "readers_of", "rewrite_named"]
