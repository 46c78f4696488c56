"""After legalization: unused tops, in-place tops and output names, through one rename map.

Lowerings and rules always emit fresh top names.  Here, in order:

1. an element-wise layer whose bottom nobody else reads becomes in-place (top := bottom),
   as hand-written Caffe nets do and NNIE's "efficient mode" expects;
2. every net output becomes the one top of a layer named like it, in output order
   (`outputs.arrange_outputs`: what each consumer needs to hand it back under its name
   and at its place);
3. every top nobody reads (the cut-off parts of a Slice, ...) ends in one Silence layer at
   the end, where the target has Silence (elsewhere it stays an extra net output).

Step 1 only adds entries to one rename map (old top name -> new name), applied once to
the layers and to the torch<->Caffe records, which keep saying which layer's output each
torch value is (a verifier compares the blob's snapshot right after it).  A net output's
own layer never goes in place: its top would take the bottom's name, and a consumer that
looks outputs up by layer name (OpenCV) would find the layer before it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from purecaffe.canonical import CaffeLayer, builders, resolve
from purecaffe.io.sidecar import TensorRecord
from purecaffe.targets.outputs import BY_LAYER, arrange_outputs

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
           inplace: bool = True, output_order: str = BY_LAYER, copy_by_split: bool = True) -> Finished:
    """`output_order`: how the target's consumer lists net outputs (`outputs.ORDER_RULES`);
    `copy_by_split`: an output copy is a one-top Split (else, for targets without Split, a Reshape to
    the same shape)."""
    renames = inplace_renames(layers, protected=set(inputs) | set(outputs)) if inplace else {}
    renamed = [layer.renamed(renames) for layer in layers]
    arranged = arrange_outputs(renamed, [_renamed_record(r, renames) for r in records], inputs=inputs,
                               blobs=[resolve(name, renames) for name in outputs], names=output_names,
                               rule=output_order, copy_by_split=copy_by_split)
    final = list(arranged.layers)
    if silence:  # last: OpenCV lists a Silence among its unconnected outputs, so after the net's own ones
        consumed = {b.name for layer in final for b in layer.bottoms}
        dangling = [top for layer in final for top in layer.tops
                    if top.name not in consumed and top.name not in arranged.output_names and layer.type != "Input"]
        if dangling:
            taken = {layer.name for layer in final}
            name, i = "silence", 1
            while name in taken:
                name, i = f"silence_{i}", i + 1
            final.append(builders.silence(name, dangling))
    return Finished(tuple(final), arranged.records, arranged.output_names)


def inplace_renames(layers: Sequence[CaffeLayer], *, protected: set[str]) -> dict[str, str]:
    """Top renames that make safe element-wise layers in-place.

    Safe: one bottom and one top, neither `protected` (net inputs, net outputs), the bottom
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
        if bottom == top or bottom in protected or top in protected or bottom in shared or readers.get(bottom, 0) != 1:
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
