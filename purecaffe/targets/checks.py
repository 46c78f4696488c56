"""What a target cannot take: the check `convert` runs after legalization and `lint` runs on a prototxt.

`findings(layers, target)` lists every layer type and parameter the target would
reject or read differently, each with the rule broken and where the rule comes from.
A converted net with any finding is refused (nothing is written); `purecaffe lint`
prints them with the prototxt line.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from purecaffe.canonical import CaffeLayer, Origin
from purecaffe.targets.limits import LAYER_SET, RKNN_MEASURED
from purecaffe.targets.rules import declined
from purecaffe.targets.target import Target


@dataclass(frozen=True)
class Finding:
    """One thing the target cannot take."""

    layer: str
    layer_type: str
    rule: str
    message: str
    source: str
    origin: Origin | None = None

    def describe(self) -> str:
        where = f" (from {self.origin.describe()})" if self.origin is not None and self.origin.op else ""
        return f"layer '{self.layer}' ({self.layer_type}){where}: {self.message} [{self.rule}; {self.source}]"


def findings(layers: Sequence[CaffeLayer], target: Target) -> list[Finding]:
    found: list[Finding] = []
    for layer in layers:
        found.extend(_layer_findings(layer, target))
    return found


def unread_tops(layers: Sequence[CaffeLayer], outputs: Sequence[str], target: Target) -> list[Finding]:
    """Tops nobody reads, on a target without Silence: they would become extra net outputs (RKNN 2.5,
    measured: a Slice with unread parts then computes the wrong part)."""
    if target.has("Silence"):
        return []
    read = {b.name for layer in layers for b in layer.bottoms} | set(outputs)
    return [_finding(layer, "unread-top", f"top '{top.name}' is read by no layer and {target.name} has no "
                     f"Silence to end it (it would become an extra output, which {target.name} mishandles)",
                     RKNN_MEASURED)
            for layer in layers if layer.type != "Input" for top in layer.tops if top.name not in read]


def net_findings(layers: Sequence[CaffeLayer], target: Target) -> list[Finding]:
    """The layers at fault under the target's `net_limits` (faults across layers, which `legalize_net` fixes)."""
    by_name = {layer.name: layer for layer in layers}
    return [_finding(by_name[name], limit.rule, limit.reason.format(target=target.name, type=by_name[name].type),
                     limit.source)
            for limit in target.net_limits for name in limit.faulty(layers)]


def _finding(layer: CaffeLayer, rule: str, message: str, source: str) -> Finding:
    return Finding(layer.name, layer.type, rule, message, source, layer.origin)


def _layer_findings(layer: CaffeLayer, target: Target) -> Iterator[Finding]:
    """`target.allows(layer)`, explained: the missing layer type, else each broken limit; with the reason a
    rule declined to rewrite it, where one did."""
    if target.allows(layer):
        return
    refusal = declined(layer, target)
    why = "" if refusal is None else f"; its rewrite is declined: {refusal.reason}"
    if layer.type != "Input" and not target.has(layer.type):
        yield _finding(layer, "layer-type", f"{target.name} has no {layer.type} layer{why}",
                       f"{LAYER_SET}: {target.name}")
        return
    for limit in target.broken(layer):
        yield _finding(layer, limit.rule, limit.describe(layer, target.name) + why, limit.source)


__all__ = ["Finding", "findings", "net_findings", "unread_tops"]
