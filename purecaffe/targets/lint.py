"""`purecaffe lint NET.prototxt --target T`: the target checks, on a hand-written prototxt.

The prototxt is read into canonical layers (parameters by the runtime's own unpacking,
shapes by its shape inference), and `checks.findings` runs on them, as `convert` does
after legalization.  Fields the target's schema lacks are found on the LayerParameter
itself: those the catalog lists (`Target.missing_fields`) and, given the toolchain's own
caffe.proto (`schema_for`, `purecaffe lint --proto`), every field it does not spell.  Each
finding carries the line of its `layer {` in the file.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from google.protobuf.message import Message

from purecaffe.canonical import Blob, CaffeLayer
from purecaffe.errors import PurecaffeError
from purecaffe.runtime.plan import plan_net
from purecaffe.runtime.shapes import infer_planned
from purecaffe.schema import CaffeSchema, load_schema
from purecaffe.targets.checks import Finding, findings, net_findings
from purecaffe.targets.limits import CAFFE1_PROTO, NNIE_SOURCE
from purecaffe.targets.target import Target

_LAYER_OPEN = re.compile(r"^\s*layers?\s*\{")


@dataclass(frozen=True)
class LintFinding:
    line: int | None
    finding: Finding

    def describe(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line is not None else path
        return f"{where}: {self.finding.describe()}"


def layer_lines(text: str) -> list[int]:
    """1-based line of each top-level `layer {` (or V1 `layers {`), in order."""
    lines: list[int] = []
    depth = 0
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0]
        code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', code)
        if depth == 0 and _LAYER_OPEN.match(code):
            lines.append(number)
        depth += code.count("{") - code.count("}")
    return lines


def canonical_layers(net: Message, input_shapes: Mapping[str, Sequence[int]] | None = None) -> list[CaffeLayer]:
    """A NetParameter's TEST-phase layers as canonical layers, shapes from the runtime."""
    planned = plan_net(net)
    inferred = infer_planned(net, planned, input_shapes)
    layers = []
    for layer, step in zip(planned, inferred.steps):
        layers.append(CaffeLayer(layer.type, layer.name, tuple(Blob(n, s) for n, s in step.bottoms),
                                 tuple(Blob(n, s) for n, s in step.tops), dict(layer.kwargs), tuple(step.params)))
    return layers


def _set_fields(message: Message) -> Iterator[str]:
    """"Message.field" for every field set in `message` and the messages inside it."""
    for descriptor, value in message.ListFields():
        yield f"{message.DESCRIPTOR.name}.{descriptor.name}"
        if descriptor.message_type is None:
            continue
        for item in (value if descriptor.is_repeated else [value]):
            yield from _set_fields(item)


def schema_for(target: Target, protos: str | os.PathLike[str]) -> CaffeSchema | None:
    """The target's own caffe.proto (`Target.schema`) from the folder `protos`, loaded; None where the
    catalog names none (not public) or the folder lacks it."""
    if target.schema is None:
        return None
    path = os.path.join(protos, target.schema)
    return load_schema(path) if os.path.isfile(path) else None


def unspelled(fields: set[str], schema: CaffeSchema) -> set[str]:
    """The "Message.field" names of `fields` that `schema` does not define (its parser aborts on them)."""
    missing = set()
    for name in fields:
        message, field = name.split(".", 1)
        try:
            descriptor = schema.pool.FindMessageTypeByName(f"caffe.{message}")
        except KeyError:
            missing.add(name)
            continue
        if field not in descriptor.fields_by_name:
            missing.add(name)
    return missing


def lint_net(net: Message, target: Target, *, text: str | None = None,
             input_shapes: Mapping[str, Sequence[int]] | None = None,
             schema: CaffeSchema | None = None) -> list[LintFinding]:
    """Every layer and field of `net` that `target` cannot take (with lines when `text` is given);
    `schema`: the toolchain's own caffe.proto, to check every field's spelling against."""
    lines = layer_lines(text) if text is not None else []
    line_of = {layer.name: (lines[i] if i < len(lines) else None) for i, layer in enumerate(net.layer)}
    out: list[LintFinding] = []
    source = schema.source if schema is not None else \
        (target.schema or CAFFE1_PROTO)
    for layer in net.layer:
        fields = set(_set_fields(layer))
        missing = fields & target.missing_fields | (unspelled(fields, schema) if schema is not None else set())
        for field in sorted(missing):
            out.append(LintFinding(line_of.get(layer.name), Finding(
                layer.name, layer.type, "schema-field", f"{target.name}'s caffe.proto has no {field}: its parser "
                f"aborts on the file", source)))
    if target.declare_inputs == "field" and any(layer.type == "Input" for layer in net.layer):
        first = next(layer for layer in net.layer if layer.type == "Input")
        out.append(LintFinding(line_of.get(first.name), Finding(
            first.name, "Input", "input-declaration", f"{target.name} wants the input declared as `input:` + "
            f"`input_shape`, not an Input layer", NNIE_SOURCE)))
    layers = canonical_layers(net, input_shapes)
    for finding in findings(layers, target) + net_findings(layers, target):
        if finding.layer_type == "Input":
            continue
        out.append(LintFinding(line_of.get(finding.layer), replace(finding)))
    return sorted(out, key=lambda f: (f.line or 0))


def lint_file(path: str | os.PathLike[str], target: Target,
              input_shapes: Mapping[str, Sequence[int]] | None = None,
              proto: str | os.PathLike[str] | None = None) -> list[LintFinding]:
    """`lint_net` on a prototxt file; `proto`: the toolchain's own caffe.proto (field spelling)."""
    from purecaffe.io.prototxt import read_net as load_net

    net = load_net(path)
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError as error:
        raise PurecaffeError(f"cannot read: {error.strerror}", path=path) from None
    try:
        return lint_net(net, target, text=text, input_shapes=input_shapes,
                        schema=None if proto is None else load_schema(proto))
    except PurecaffeError as error:
        if error.path is None:
            error.path = str(path)
            error.args = (error.one_line(),)
        raise


__all__ = ["LintFinding", "canonical_layers", "layer_lines", "lint_file", "lint_net", "schema_for", "unspelled"]
