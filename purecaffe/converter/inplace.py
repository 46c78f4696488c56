"""In-place tops and blob renaming on the emitted layer list.

Lowerings always emit fresh top names.  Afterwards, an element-wise layer
whose bottom is read by nobody else is made in-place (top := bottom), as
hand-written Caffe nets do; the mapping records keep saying which layer's
output each torch value is, so a verifier compares the blob's snapshot right
after that layer.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from purecaffe.converter.builders import Blob, Layer
from purecaffe.converter.context import TensorRecord

# Layer types whose forward pass is element-wise and correct with bottom == top in BVLC Caffe.
INPLACE_TYPES = frozenset({"ReLU", "PReLU", "ELU", "Sigmoid", "TanH", "AbsVal", "Clip", "Power",
                           "BatchNorm", "Scale", "BNLL", "Swish"})
# Layer types whose tops share memory with their bottom in Caffe (`ShareData`): a layer writing
# in place into any blob of such a group would change the others too (found by the real-Caffe
# tests: a Power in place on a Flatten's top negated the net input behind it).  Parameter's top
# shares its stored weight blob: a layer in place on it would rewrite the constant on every
# forward pass (the first pass is right, the second computes something else).
SHARING_TYPES = frozenset({"Reshape", "Flatten", "Split", "Parameter"})


def assign_inplace(layers: Sequence[Layer], records: Sequence[TensorRecord], *,
                   protected: set[str]) -> tuple[list[Layer], list[TensorRecord], dict[str, str]]:
    """Make safe element-wise layers in-place; returns layers, records and the top renames done.

    Safe: one bottom and one top, the bottom is not `protected` (net inputs, net
    outputs) and no other layer reads it (apart from layers already in-place on it).
    """
    renames: dict[str, str] = {}
    # Blob -> number of layers reading it without writing it, and the blobs whose memory a
    # sharing layer ties to another blob; both kept up to date as tops are renamed.
    readers: dict[str, int] = {}
    shared: set[str] = set()
    for layer in layers:
        tops = {t.name for t in layer.tops}
        for bottom in set(layer.bottoms) - tops:
            readers[bottom] = readers.get(bottom, 0) + 1
        if layer.type in SHARING_TYPES:
            shared.update(layer.bottoms)
            shared.update(tops)
    current = list(layers)
    for i, layer in enumerate(current):
        layer = _renamed(layer, renames)
        current[i] = layer
        if layer.type not in INPLACE_TYPES or len(layer.bottoms) != 1 or len(layer.tops) != 1:
            continue
        bottom, top = layer.bottoms[0], layer.tops[0].name
        if bottom == top or bottom in protected or bottom in shared or readers.get(bottom, 0) != 1:
            continue
        # Only this layer reads `bottom`: its top takes bottom's name, the top's readers
        # become bottom's readers, and this layer stops counting as one.
        renames[top] = bottom
        readers[bottom] = readers.pop(top, 0)
        if top in shared:
            shared.add(bottom)
        current[i] = _renamed(layer, renames)
    layers_out = [_renamed(layer, renames) for layer in current]
    records_out = [_renamed_record(r, renames) for r in records]
    return layers_out, records_out, renames


def rename_blobs(layers: Sequence[Layer], records: Sequence[TensorRecord],
                 renames: Mapping[str, str]) -> tuple[list[Layer], list[TensorRecord]]:
    return [_renamed(layer, renames) for layer in layers], [_renamed_record(r, renames) for r in records]


def _resolve(name: str, renames: Mapping[str, str]) -> str:
    seen = set()
    while name in renames and name not in seen:
        seen.add(name)
        name = renames[name]
    return name


def _bottoms(layer: Layer, renames: Mapping[str, str]) -> list[str]:
    return [_resolve(b, renames) for b in layer.bottoms]


def _tops(layer: Layer, renames: Mapping[str, str]) -> list[str]:
    return [_resolve(t.name, renames) for t in layer.tops]


def _renamed(layer: Layer, renames: Mapping[str, str]) -> Layer:
    bottoms, tops = _bottoms(layer, renames), _tops(layer, renames)
    if bottoms == list(layer.bottoms) and tops == [t.name for t in layer.tops]:
        return layer
    param = type(layer.param)()
    param.CopyFrom(layer.param)
    del param.bottom[:]
    param.bottom.extend(bottoms)
    del param.top[:]
    param.top.extend(tops)
    return Layer(param, tuple(Blob(name, t.shape) for name, t in zip(tops, layer.tops)), layer.param_shapes)


def _renamed_record(record: TensorRecord, renames: Mapping[str, str]) -> TensorRecord:
    blob = _resolve(record.blob, renames)
    if blob == record.blob:
        return record
    return TensorRecord(torch_name=record.torch_name, blob=blob, layer=record.layer,
                        module_path=record.module_path, op=record.op, shape=record.shape)
