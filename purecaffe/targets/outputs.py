"""The net outputs as each consumer hands them back: every one under its name, in the order asked for.

Users read a converted net's outputs the way its consumer hands them out: real Caffe by blob name
(`net.blobs[name]`, the dict `net.forward()` returns over `net.outputs`), OpenCV by *layer* name
(`forward(names)`, `getUnconnectedOutLayersNames()`), RKNN-Toolkit2 by position (`inference()`).
So after the in-place step (`policy.finish`), `arrange_outputs` makes every net output W:

1. the single top of a layer named W that writes nothing in place and that no layer reads.  The
   layer computing the value is that layer when it can be (it is renamed W); when it cannot (the
   value is also read by later layers, as CRAFT's feature map is; its layer has several tops; it
   is a net input or another output), a one-top Split named W copies it.  What else was called W
   (the copied blob, a layer) becomes `W/pre`.  A blob read by a later layer is no net output for
   any consumer (Caffe's AppendBottom takes it off the list): RKNN dropped it without a word.
2. in order: RKNN-Toolkit2 and OpenCV list the outputs by where their last writer stands, so when
   the output layers are not in output order they move to the end of the net, in that order (no
   layer reads them, so any place after their bottoms is right).  Real Caffe lists `net.outputs`
   by blob name whatever the layers' order (its `available_blobs` is a `std::set`): for its targets
   the prototxt is still written in output order, and `arrange_outputs` warns when the names sort
   otherwise; Caffe's users read outputs by name.

The rules, measured with hand-written nets (one 1x1 convolution per output, outputs told apart by
their channel counts; tests/targets/test_outputs.py keeps them on each consumer):
- layers zz, aa, mm: Caffe's net.outputs [aa, mm, zz]; RKNN 2.5 inference() and OpenCV 4.14
  getUnconnectedOutLayersNames() [zz, aa, mm];
- zz, aa, then a ReLU in place on zz: RKNN and OpenCV [aa, zz] (the last writer's place);
- feat, then head reading feat: one output, head, on all three; with a one-top Split (or an
  identity Power) copying feat after head: [head, copy] on all three, the copy's values feat's;
- OpenCV lists no layer one of whose tops is read (a Slice whose unused part ends in a Silence),
  and lists the Silence itself (handing back its first bottom): so output layers have one top,
  and the Silence comes last, after the outputs.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from google.protobuf.message import Message

from purecaffe.canonical import Blob, CaffeLayer, builders
from purecaffe.errors import PurecaffeError
from purecaffe.io.sidecar import TensorRecord
from purecaffe.targets.catalog import Target

log = logging.getLogger(__name__)

# How a consumer lists the net outputs (`Target.output_order`).
BY_LAYER = "layer"  # by the position of each output's last writer in the prototxt (RKNN, OpenCV)
BY_NAME = "name"    # by blob name, sorted (real Caffe's net.outputs: a std::set<string>)
ORDER_RULES = {BY_LAYER: "the position of each output's last writer layer", BY_NAME: "blob name (sorted)"}


@dataclass(frozen=True)
class Arranged:
    layers: tuple[CaffeLayer, ...]
    records: tuple[TensorRecord, ...]
    output_names: tuple[str, ...]


def arrange_outputs(layers: Sequence[CaffeLayer], records: Sequence[TensorRecord], *, blobs: Sequence[str],
                    names: Sequence[str] | None, inputs: Sequence[str], rule: str = BY_LAYER,
                    copy_by_split: bool = True) -> Arranged:
    """`blobs`: the blob holding each net output now, in output order; `names`: the name each takes
    (default: its blob's); `copy_by_split`: copy an output with a one-top Split, else (a target
    without Split: sophgo, mnn) with a Reshape to the same shape, every dim written out.  Raises PurecaffeError when the names clash with each other, the inputs or
    other blobs of the net."""
    wanted = list(blobs) if names is None else list(names)
    if names is not None and (len(set(wanted)) != len(wanted) or set(wanted) & set(inputs)):
        raise PurecaffeError(f"output names must be distinct and differ from the input names: {wanted}")
    layers = list(layers)
    owned = [_owns(layers, i, blobs, inputs) for i in range(len(blobs))]
    blob_map = {blob: name for blob, name, own in zip(blobs, wanted, owned) if own}
    copied = {blob for blob, own in zip(blobs, owned) if not own}
    taken = {b.name for layer in layers for b in (*layer.bottoms, *layer.tops)} | set(inputs)
    clash = sorted({name for name in wanted if name in taken and name not in blob_map and name not in copied})
    if clash:
        raise PurecaffeError(f"output name(s) {', '.join(clash)} already name other blobs of the net")
    blob_names = set(taken) | set(wanted)
    for blob in copied:
        if blob in wanted and blob not in blob_map:  # the copy takes the name: the copied value moves aside
            blob_map[blob] = _unique(f"{blob}/pre", blob_names)
    writers = {blob: _last_writer(layers, blob) for blob in blobs}
    layer_map: dict[str, str] = {}
    for blob, name, own in zip(blobs, wanted, owned):
        if own:
            layer_map[layers[writers[blob]].name] = name
    layer_names = {layer.name for layer in layers} | set(wanted)
    for layer in layers:  # a layer that happens to be called like an output steps aside
        if layer.name in wanted and layer.name not in layer_map:
            layer_map[layer.name] = _unique(f"{layer.name}/pre", layer_names)
    out = [_renamed(layer, blob_map, layer_map) for layer in layers]
    out_records = [_record(r, blob_map, layer_map) for r in records]
    final_layers: list[int] = []
    for i, (blob, name, own) in enumerate(zip(blobs, wanted, owned)):
        if own:
            final_layers.append(writers[blob])
            continue
        value = out[writers[blob]].tops[list(layers[writers[blob]].top_names).index(blob)] \
            if writers[blob] is not None else Blob(blob_map.get(blob, blob), _input_shape(layers, blob))
        out.append(builders.split(name, value, [name]) if copy_by_split
                   else builders.reshape(name, value, name, dims=value.shape))
        final_layers.append(len(out) - 1)
        source = _value_record(records, blob, None if writers[blob] is None else layers[writers[blob]].name)
        if source is not None:
            out_records.append(TensorRecord(torch_name=source.torch_name, blob=name, layer=name, module_path="",
                                            op="output copy", shape=value.shape))
        log.info("net output %s: a %s copies %s (%s)", name, "Split" if copy_by_split else "Reshape", value.name, _why_copied(layers, i, blobs, inputs))
    out = _in_output_order(out, final_layers)
    if rule == BY_NAME and sorted(wanted) != wanted:
        log.warning("real Caffe lists net.outputs by blob name (%s), not in the order of the model's outputs "
                    "(%s): read them by name", ", ".join(sorted(wanted)), ", ".join(wanted))
    return Arranged(tuple(out), tuple(out_records), tuple(wanted))


def listed_outputs(net: Message, outputs: Sequence[str], target: Target) -> dict[str, Any]:
    """For the sidecar: the order in which the target's consumer lists the outputs of `net`, and why."""
    layers = [(layer.name, tuple(layer.bottom), tuple(layer.top)) for layer in net.layer]
    return {"listed_by": ORDER_RULES[target.output_order],
            "order": consumer_order(layers, outputs, target.output_order)}


def consumer_order(layers: Sequence[tuple[str, Sequence[str], Sequence[str]]], outputs: Sequence[str],
                   rule: str) -> list[str]:
    """The order in which a consumer following `rule` lists `outputs`, from the net's layers
    (name, bottoms, tops) in file order."""
    if rule == BY_NAME:
        return sorted(outputs)
    last = {top: i for i, (_, _, tops) in enumerate(layers) for top in tops}
    return sorted(outputs, key=lambda name: last.get(name, -1))


def _owns(layers: Sequence[CaffeLayer], index: int, blobs: Sequence[str], inputs: Sequence[str]) -> bool:
    """Can output `index` keep the layer computing it as its output layer?"""
    return not _why_copied(layers, index, blobs, inputs)


def _why_copied(layers: Sequence[CaffeLayer], index: int, blobs: Sequence[str], inputs: Sequence[str]) -> str:
    blob = blobs[index]
    if blob in inputs:
        return "it is a net input"
    if blob in blobs[:index]:
        return "it is an earlier output too"
    writers = [layer for layer in layers if blob in layer.top_names]
    if not writers:
        return "no layer writes it"
    writer = writers[-1]
    if len(writers) > 1 or blob in writer.bottom_names:
        return "it is written in place"
    if len(writer.tops) != 1:  # OpenCV lists a layer as an output only when no layer reads any of its tops
        return f"its layer {writer.name} has {len(writer.tops)} tops"
    readers = [layer.name for layer in layers if blob in layer.bottom_names]
    if readers:
        return f"layer {readers[0]} reads it too"
    return ""


def _last_writer(layers: Sequence[CaffeLayer], blob: str) -> int | None:
    found = None
    for i, layer in enumerate(layers):
        if blob in layer.top_names:
            found = i
    return found


def _input_shape(layers: Sequence[CaffeLayer], blob: str) -> tuple[int, ...]:
    for layer in layers:
        for b in (*layer.bottoms, *layer.tops):
            if b.name == blob:
                return b.shape
    raise PurecaffeError(f"net output {blob} is no blob of the net")


def _unique(wanted: str, used: set[str]) -> str:
    name, i = wanted, 1
    while name in used:
        name, i = f"{wanted}_{i}", i + 1
    used.add(name)
    return name


def _renamed(layer: CaffeLayer, blobs: dict[str, str], layers: dict[str, str]) -> CaffeLayer:
    """`layer` with blob and layer names replaced through the maps (each applied once: a swap of two
    names is a swap)."""
    return replace(layer, name=layers.get(layer.name, layer.name),
                   bottoms=tuple(Blob(blobs.get(b.name, b.name), b.shape) for b in layer.bottoms),
                   tops=tuple(Blob(blobs.get(t.name, t.name), t.shape) for t in layer.tops))


def _record(record: TensorRecord, blobs: dict[str, str], layers: dict[str, str]) -> TensorRecord:
    return replace(record, blob=blobs.get(record.blob, record.blob), layer=layers.get(record.layer, record.layer))


def _value_record(records: Sequence[TensorRecord], blob: str, writer: str | None) -> TensorRecord | None:
    """The record of the value `blob` holds after its last writer (the copied value)."""
    matching = [r for r in records if r.blob == blob and (writer is None or r.layer == writer)]
    return matching[-1] if matching else None


def _in_output_order(layers: list[CaffeLayer], final: Sequence[int]) -> list[CaffeLayer]:
    """The output layers (`final`, by index, in output order) moved to the end when they are out of order."""
    if all(a < b for a, b in zip(final, final[1:])):
        return layers
    moved = set(final)
    return [layer for i, layer in enumerate(layers) if i not in moved] + [layers[i] for i in final]


__all__ = ["Arranged", "BY_LAYER", "BY_NAME", "ORDER_RULES", "arrange_outputs", "consumer_order", "listed_outputs"]
