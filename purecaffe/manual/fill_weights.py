"""`fill`: your prototxt + your PyTorch checkpoint -> a caffemodel, with a report of every blob's source."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
from google.protobuf.message import Message

from purecaffe.errors import UnsupportedError
from purecaffe.io.prototxt import read_net
from purecaffe.io.sidecar import output_paths, read_sidecar
from purecaffe.io.weights import save_weights
from purecaffe.io.checkpoint import Checkpoint, load_checkpoint
from purecaffe.manual.mapping import load_mapping
from purecaffe.manual.match import MatchOptions, layers_kept_apart, match
from purecaffe.manual.report import FillResult
from purecaffe.manual.shapes import net_param_shapes
from purecaffe.manual.units import caffe_side, is_ignored
from purecaffe.targets import Target, get_target
from purecaffe.targets.lint import lint_file, lint_net

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def fill(prototxt: PathLike | Message, checkpoint: PathLike | Checkpoint, output: PathLike | None = None,
         mapping: PathLike | Mapping[str, Any] | None = None, *, allow_unused: Sequence[str] = (),
         allow_missing: Sequence[str] = (), by_order: bool = True, strict: bool = True, seed: int = 0,
         input_shapes: Mapping[str, Sequence[int]] | None = None, target: str | Target | None = None) -> FillResult:
    """Fill the parameter blobs of `prototxt` from a PyTorch checkpoint.

    `target` (a name or a `purecaffe.targets.Target`; default: the target the converter recorded
    in the sidecar beside the prototxt, if there is one): the prototxt is first checked as
    `purecaffe lint --target` does, and one the target cannot take raises `UnsupportedError`
    (its `.findings` list them) before the checkpoint is read or anything is written.

    `checkpoint`: a `.pth`/`.pt` state_dict (refused if its pickle names code),
    `.npz`, `.npy` dict or `.safetensors`.  `mapping`: a YAML file or dict (see
    `purecaffe.manual.mapping`).  `allow_unused`: fnmatch patterns of checkpoint
    keys that may stay unused; `allow_missing`: patterns of Caffe layers whose
    unmatched blobs keep their prototxt filler (seeded by `seed`).
    `by_order=False` turns matching by order off (names and mapping only).

    With `strict` (default) any shape mismatch, missing blob or unused tensor
    raises (`ShapeError`, `MissingTensorError`, `UnusedTensorError`; the
    exception's `.report` is the `FillResult`) and nothing is written.  With
    `strict=False` the result is returned either way and `output` is written
    only when `result.ok`.
    """
    prototxt_path = "<net>" if isinstance(prototxt, Message) else str(prototxt)
    net = prototxt if isinstance(prototxt, Message) else read_net(prototxt)
    chosen = target if target is not None or isinstance(prototxt, Message) else recorded_target(prototxt)
    if chosen is not None:
        check_target(prototxt, net, get_target(chosen), input_shapes)
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    weight_map = load_mapping(mapping)
    shapes = net_param_shapes(net, input_shapes, path=None if isinstance(prototxt, Message) else prototxt_path)
    side = caffe_side(net, shapes,
                      unpaired=layers_kept_apart([(layer.name, layer.type) for layer in net.layer], weight_map))
    options = MatchOptions(allow_missing=tuple(allow_missing), allow_unused=tuple(allow_unused),
                           by_order=by_order, seed=seed)
    outcome = match(side, ckpt.tensors, weight_map, options, ordered=ckpt.ordered,
                    stripped_prefix=ckpt.stripped_prefix)
    notes = list(outcome.notes)
    if ckpt.stripped_prefix:
        notes.insert(0, f"the {ckpt.stripped_prefix!r} prefix of every checkpoint key was stripped")
    if ckpt.unwrapped_from:
        notes.insert(0, f"the state_dict was read from the checkpoint's {ckpt.unwrapped_from!r} entry")
    weights: dict[str, list[np.ndarray]] = {}
    complete = all((name, b.index) in outcome.values for name, blobs in side.layer_blobs.items() for b in blobs)
    if complete:
        weights = {name: [outcome.values[(name, b.index)] for b in blobs]
                   for name, blobs in side.layer_blobs.items()}
    order = {(name, b.index): i for i, (name, blobs) in enumerate(side.layer_blobs.items()) for b in blobs}
    result = FillResult(
        prototxt=prototxt_path, checkpoint=ckpt.path, checkpoint_format=ckpt.format,
        output=None if output is None else str(output),
        mapping=weight_map.path or None,
        matched=tuple(sorted(outcome.matched, key=lambda m: order[(m.layer, m.index)])),
        missing=tuple(outcome.missing), unused=tuple(outcome.unused), mismatches=tuple(outcome.mismatches),
        ignored=tuple(k for k in ckpt.tensors if is_ignored(k)) + ckpt.skipped,
        notes=tuple(notes), weights=MappingProxyType(weights))
    if not result.ok:
        if strict:
            problems = result.problems()
            first = problems[0]
            more = len(problems) - 1
            if more:
                first = type(first)(f"{first.message} (and {more} more problem{'s' if more > 1 else ''}; "
                                    f"see the report)", path=first.path, place=first.place)
            first.report = result  # type: ignore[attr-defined]
            raise first
        return result
    if output is not None:
        size = save_weights(output, weights, net=net)
        log.info("wrote %s (%d layers, %d bytes)", output, len(weights), size)
    return result



def recorded_target(prototxt: PathLike) -> str | None:
    """The target the converter recorded in the sidecar beside `prototxt` (`net.purecaffe.json`), if any."""
    sidecar = output_paths(prototxt).sidecar
    return str(read_sidecar(sidecar)["target"]) if sidecar.is_file() else None


def check_target(prototxt: PathLike | Message, net: Message, target: Target,
                 input_shapes: Mapping[str, Sequence[int]] | None = None) -> None:
    """`purecaffe lint --target`'s findings on the prototxt, raised as one error naming the first five."""
    if isinstance(prototxt, Message):
        found, where = lint_net(net, target, input_shapes=input_shapes), "<net>"
    else:
        found, where = lint_file(prototxt, target, input_shapes=input_shapes), str(prototxt)
    if found:
        listing = "; ".join(item.describe(where) for item in found[:5])
        more = f" (+{len(found) - 5} more)" if len(found) > 5 else ""
        error = UnsupportedError(f"{len(found)} layer(s) or field(s) the {target.name} target cannot take, nothing "
                                 f"written (purecaffe lint {where} --target {target.name}): {listing}{more}")
        error.findings = tuple(found)  # type: ignore[attr-defined]
        raise error
