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
from purecaffe.targets.catalog import Target
from purecaffe.targets.rules import MAX_PERMUTE_SLICES, permute_slice_cost

NOTES = "shared/docs/dialects.md"
NNIE_SOURCE = "HiSVP NNIE guide as quoted by users (dialects.md section 3)"
# NNIE: "Power exponent in {-3, -2, -1, -1/2, 1/2, 1, 2, 3}" (and 1, the plain affine form).
NNIE_POWERS = frozenset({-3.0, -2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0})
NNIE_MAX_KERNEL_PAD = 255
NNIE_MAX_GROUP = 2048
NNIE_MAX_WIDTH = 4096
# Layers whose `axis` parameter selects the axis they work along.
AXIS_LAYERS = frozenset({"Concat", "Slice", "Softmax", "InnerProduct", "Flatten", "Reduction", "Tile", "Crop"})


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
    if target.silence:
        return []
    read = {b.name for layer in layers for b in layer.bottoms} | set(outputs)
    return [_finding(layer, "unread-top", f"top '{top.name}' is read by no layer and {target.name} has no "
                     f"Silence to end it (it would become an extra output, which {target.name} mishandles)",
                     f"{NOTES} section 5")
            for layer in layers if layer.type != "Input" for top in layer.tops if top.name not in read]


def _finding(layer: CaffeLayer, rule: str, message: str, source: str) -> Finding:
    return Finding(layer.name, layer.type, rule, message, source, layer.origin)


def _layer_findings(layer: CaffeLayer, target: Target) -> Iterator[Finding]:
    if layer.type != "Input" and not target.has(layer.type):
        extra = ""
        if layer.type == "Permute" and layer.bottoms:
            extra = (f", and its exact rewrite would need {permute_slice_cost(layer)} Slice tops "
                     f"(more than {MAX_PERMUTE_SLICES}): cut the net before it or pick a target with Permute")
        yield _finding(layer, "layer-type", f"{target.name} has no {layer.type} layer{extra}",
                       f"{NOTES} section 2 ({target.name})")
        return
    if layer.type == "Silence" and not target.silence:
        yield _finding(layer, "layer-type", f"{target.name} has no Silence layer", f"{NOTES} section 5")
    if layer.type == "Pooling" and layer.params.get("round_mode") == "FLOOR" and not target.pooling_round_mode:
        yield _finding(layer, "pooling-round-mode",
                       f"{target.name}'s Pooling has no round_mode: it always rounds up (ceil), so FLOOR "
                       f"would be read as CEIL", f"{NOTES} section 4")
    if target.scale_over_channels_only and layer.type in ("Scale", "Bias") and len(layer.bottoms) == 1 and \
            (int(layer.params["axis"]) != 1 or int(layer.params["num_axes"]) != 1):
        yield _finding(layer, "channel-parameters-only", f"{target.name} takes {layer.type} parameters over the "
                       f"channel axis only (measured: it refuses a per-position blob)", f"{NOTES} section 5")
    if target.reduction_over_chw_only and layer.type == "Reduction" and layer.bottoms and \
            (len(layer.bottoms[0].shape) != 4 or int(layer.params["axis"]) % 4 != 1):
        yield _finding(layer, "reduction-over-chw", f"{target.name} reduces only C, H, W of a 4-D blob (axis 1); "
                       f"measured: other Reductions fail to build", f"{NOTES} section 5")
    if target.nnie_limits:
        yield from _nnie_findings(layer)


def _nnie_findings(layer: CaffeLayer) -> Iterator[Finding]:
    params = layer.params
    if layer.type in ("Convolution", "Deconvolution", "Pooling"):
        values = [v for key in ("kernel", "pad") for v in (params.get(key) or ())]
        if any(v > NNIE_MAX_KERNEL_PAD for v in values):
            yield _finding(layer, "nnie-kernel-pad", f"kernel/pad values {values} beyond 1..{NNIE_MAX_KERNEL_PAD}",
                           NNIE_SOURCE)
    if layer.type in ("Convolution", "Deconvolution") and int(params.get("group", 1)) > NNIE_MAX_GROUP:
        yield _finding(layer, "nnie-group", f"group {params['group']} > {NNIE_MAX_GROUP}", NNIE_SOURCE)
    if layer.type == "Power" and float(params["power"]) not in NNIE_POWERS:
        yield _finding(layer, "nnie-power", f"Power exponent {params['power']} not in "
                       f"{{-3, -2, -1, -1/2, 1/2, 1, 2, 3}}", NNIE_SOURCE)
    if layer.type == "Permute" and tuple(params["order"]) != (0, 2, 3, 1):
        yield _finding(layer, "nnie-permute", f"Permute order {list(params['order'])}; NNIE takes (0, 2, 3, 1) only",
                       NNIE_SOURCE)
    if layer.type in AXIS_LAYERS and layer.bottoms:
        rank = len(layer.bottoms[0].shape)
        axis = int(params.get("axis", 1))
        if rank and axis % rank == 0:
            yield _finding(layer, "nnie-batch-axis", f"works along the batch axis (axis {axis}); NNIE does nothing "
                           f"on the batch axis", NNIE_SOURCE)
    if layer.type == "Reshape" and layer.bottoms and layer.tops:
        if layer.tops[0].shape[:1] != layer.bottoms[0].shape[:1] or int(params["axis"]) == 0 and \
                (not params["shape"] or int(params["shape"][0]) != 0):
            yield _finding(layer, "nnie-reshape", f"Reshape {list(layer.bottoms[0].shape)} -> "
                           f"{list(layer.tops[0].shape)} touches the batch axis; NNIE reshapes only C/H/W "
                           f"(keep the batch as dim 0)", NNIE_SOURCE)
    for top in layer.tops:
        if len(top.shape) == 4 and top.shape[3] > NNIE_MAX_WIDTH:
            yield _finding(layer, "nnie-width", f"feature map width {top.shape[3]} > {NNIE_MAX_WIDTH}", NNIE_SOURCE)


__all__ = ["Finding", "findings"]
