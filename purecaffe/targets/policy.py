"""After legalization: unused tops, in-place tops and output names, through one rename map.

Lowerings and rules always emit fresh top names.  Here, in order:

1. every top nobody reads (the cut-off parts of a Slice, ...) ends in one Silence layer,
   where the target has Silence (elsewhere it stays an extra net output);
2. an element-wise layer whose bottom nobody else reads becomes in-place (top := bottom),
   as hand-written Caffe nets do and NNIE's "efficient mode" expects;
3. the net outputs take the names asked for.

Steps 2 and 3 only add entries to one rename map (old top name -> new name), applied
once to the layers and to the torch<->Caffe records, which keep saying which layer's
output each torch value is (a verifier compares the blob's snapshot right after it).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from purecaffe.canonical import CaffeLayer, builders, resolve
from purecaffe.errors import PurecaffeError
from purecaffe.io.sidecar import TensorRecord

# Layer types whose forward pass is element-wise and correct with bottom == top in Caffe (not
# AbsVal: its LayerSetUp checks top != bottom and aborts, measured in real Caffe).
INPLACE_TYPES = frozenset({"ReLU", "PReLU", "ELU", "Sigmoid", "TanH", "Clip", "Power",
                           "BatchNorm", "Scale", "BNLL", "Swish", "ReLU6", "HardSwish"})
# Layer types whose tops share memory with their bottom in Caffe (`ShareData`): a layer writing
# in place into any blob of such a group would change the others too (found by the real-Caffe
# tests: a Power in place on a Flatten's top negated the net input behind it).  Parameter's top
# shares its stored weight blob: a layer in place on it would rewrite the constant on every
# forward pass (the first pass is right, the second computes something else).
SHARING_TYPES = frozenset({"Reshape", "Flatten", "Split", "Parameter"})


@dataclass(frozen=True)
class Finished:
    layers: tuple[CaffeLayer, ...]
    records: tuple[TensorRecord, ...]
    output_names: tuple[str, ...]


def finish(layers: Sequence[CaffeLayer], records: Sequence[TensorRecord], *, inputs: Sequence[str],
           outputs: Sequence[str], output_names: Sequence[str] | None, silence: bool,
           inplace: bool = True) -> Finished:
    layers = list(layers)
    if silence:
        consumed = {b.name for layer in layers for b in layer.bottoms}
        dangling = [top for layer in layers for top in layer.tops
                    if top.name not in consumed and top.name not in outputs and layer.type != "Input"]
        if dangling:
            taken = {layer.name for layer in layers}
            name, i = "silence", 1
            while name in taken:
                name, i = f"silence_{i}", i + 1
            layers.append(builders.silence(name, dangling))
    renames = inplace_renames(layers, protected=set(inputs) | set(outputs)) if inplace else {}
    final = [resolve(name, renames) for name in outputs]
    if output_names is not None:
        wanted = list(output_names)
        if len(set(wanted)) != len(wanted) or set(wanted) & set(inputs):
            raise PurecaffeError(f"output names must be distinct and differ from the input names: {wanted}")
        renamed = {old: new for old, new in zip(final, wanted) if old != new}
        taken = {resolve(t.name, renames) for layer in layers for t in layer.tops} - set(renamed)
        clash = [new for new in renamed.values() if new in taken]
        if clash:
            raise PurecaffeError(f"output name(s) {', '.join(clash)} already name other blobs of the net")
        renames.update(renamed)
        final = wanted
    out_layers = tuple(layer.renamed(renames) for layer in layers)
    out_records = tuple(_renamed_record(r, renames) for r in records)
    return Finished(out_layers, out_records, tuple(final))


def inplace_renames(layers: Sequence[CaffeLayer], *, protected: set[str]) -> dict[str, str]:
    """Top renames that make safe element-wise layers in-place.

    Safe: one bottom and one top, the bottom is not `protected` (net inputs, net outputs),
    shares no memory with another blob, and no other layer reads it (apart from layers
    already in-place on it).
    """
    renames: dict[str, str] = {}
    readers: dict[str, int] = {}
    shared: set[str] = set()
    for layer in layers:
        tops = set(layer.top_names)
        for bottom in set(layer.bottom_names) - tops:
            readers[bottom] = readers.get(bottom, 0) + 1
        if layer.type in SHARING_TYPES:
            shared.update(layer.bottom_names)
            shared.update(tops)
    for layer in layers:
        if layer.type not in INPLACE_TYPES or len(layer.bottoms) != 1 or len(layer.tops) != 1:
            continue
        bottom, top = resolve(layer.bottoms[0].name, renames), layer.tops[0].name
        if bottom == top or bottom in protected or bottom in shared or readers.get(bottom, 0) != 1:
            continue
        # Only this layer reads `bottom`: its top takes bottom's name, the top's readers
        # become bottom's readers, and this layer stops counting as one.
        renames[top] = bottom
        readers[bottom] = readers.pop(top, 0)
        if top in shared:
            shared.add(bottom)
    return renames


def _renamed_record(record: TensorRecord, renames: dict[str, str]) -> TensorRecord:
    blob = resolve(record.blob, renames)
    if blob == record.blob:
        return record
    return TensorRecord(torch_name=record.torch_name, blob=blob, layer=record.layer,
                        module_path=record.module_path, op=record.op, shape=record.shape)


__all__ = ["Finished", "finish", "inplace_renames"]
