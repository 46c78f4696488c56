"""The two sides to be matched: Caffe layers grouped into units, checkpoint keys grouped by module.

A *unit* is what one PyTorch module feeds: one Caffe layer, or a BatchNorm and
the Scale right after it (the Scale's only bottom is the BatchNorm's top and no
layer in between touches that blob), which together take a PyTorch
BatchNorm's `running_mean`, `running_var`, `weight` and `bias`.

A *group* is the checkpoint keys sharing a module prefix (`layer1.0.conv1` for
`layer1.0.conv1.weight`), in checkpoint order.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

from purecaffe.manual.layouts import ONE, BlobLayout, blob_layouts, param_share_names

Shape = tuple[int, ...]

# Bookkeeping tensors PyTorch keeps beside parameters that no Caffe blob holds.
IGNORED_SUFFIXES = ("num_batches_tracked",)


@dataclass(frozen=True)
class CaffeBlob:
    layer: str
    layer_type: str
    index: int
    shape: Shape
    layout: BlobLayout
    shared_with: tuple[str, int] | None = None  # owner (layer, index) of a `param { name }` shared blob

    @property
    def label(self) -> str:
        return f"{self.layer} blob {self.index} ({self.layout.role})"


@dataclass(frozen=True)
class Unit:
    """Caffe layers fed from one PyTorch module."""

    layers: tuple[str, ...]
    types: tuple[str, ...]
    blobs: tuple[CaffeBlob, ...]  # blobs that need a value (shared copies excluded)

    @property
    def name(self) -> str:
        return self.layers[0]

    @property
    def suffixes(self) -> frozenset[str]:
        return frozenset(s for blob in self.blobs for s in blob.layout.torch)

    @property
    def auto_matchable(self) -> bool:
        """Every blob has a PyTorch source or a constant (so name/order matching can fill it)."""
        return all(blob.layout.torch or blob.layout.transform == ONE for blob in self.blobs)


@dataclass(frozen=True)
class CaffeSide:
    units: tuple[Unit, ...]
    shared: tuple[CaffeBlob, ...]            # blobs copied from their owner
    layer_blobs: Mapping[str, tuple[CaffeBlob, ...]]  # every blob, per layer, in net order


def caffe_side(net: Message, param_shapes: Mapping[str, Sequence[Shape]], *,
               unpaired: Collection[str] = ()) -> CaffeSide:
    """Units of `net` in net order; layers in `unpaired` are never joined into a BatchNorm+Scale pair."""
    layers = [layer for layer in net.layer if param_shapes.get(layer.name)]
    owners: dict[str, tuple[str, int]] = {}
    layer_blobs: dict[str, tuple[CaffeBlob, ...]] = {}
    for layer in layers:
        shapes = [tuple(int(d) for d in s) for s in param_shapes[layer.name]]
        layouts = blob_layouts(layer, len(shapes))
        names = param_share_names(layer)
        blobs = []
        for i, (shape, layout) in enumerate(zip(shapes, layouts)):
            share = names[i] if i < len(names) else ""
            owner = owners.get(share) if share else None
            if share and owner is None:
                owners[share] = (layer.name, i)
            blobs.append(CaffeBlob(layer.name, layer.type, i, shape, layout, owner))
        layer_blobs[layer.name] = tuple(blobs)
    pairs = batch_norm_scale_pairs(net, layer_blobs, unpaired)
    paired_scales = set(pairs.values())
    units: list[Unit] = []
    shared: list[CaffeBlob] = []
    for layer in layers:
        if layer.name in paired_scales:
            continue
        names = (layer.name,) + ((pairs[layer.name],) if layer.name in pairs else ())
        types = tuple(_type_of(net, n) for n in names)
        blobs = [b for n in names for b in layer_blobs[n]]
        shared += [b for b in blobs if b.shared_with is not None]
        own = tuple(b for b in blobs if b.shared_with is None)
        if own:
            units.append(Unit(layers=names, types=types, blobs=own))
    return CaffeSide(units=tuple(units), shared=tuple(shared), layer_blobs=layer_blobs)


def _type_of(net: Message, name: str) -> str:
    return next(layer.type for layer in net.layer if layer.name == name)


def batch_norm_scale_pairs(net: Message, layer_blobs: Mapping[str, Sequence[CaffeBlob]],
                           unpaired: Collection[str]) -> dict[str, str]:
    """BatchNorm layer name -> the Scale layer that is the next to touch its top."""
    pairs: dict[str, str] = {}
    layers = list(net.layer)
    for i, layer in enumerate(layers):
        if layer.type != "BatchNorm" or layer.name in unpaired or len(layer.top) != 1 \
                or layer.name not in layer_blobs:
            continue
        top = layer.top[0]
        following = next((later for later in layers[i + 1:]
                          if top in later.bottom or top in later.top), None)
        if (following is not None and following.type == "Scale" and list(following.bottom) == [top]
                and following.name not in unpaired and following.name in layer_blobs
                and following.name not in pairs.values()):
            pairs[layer.name] = following.name
    return pairs


@dataclass(frozen=True)
class Group:
    """Checkpoint keys of one module prefix: suffix -> full key, in checkpoint order."""

    prefix: str
    keys: Mapping[str, str]

    @property
    def suffixes(self) -> frozenset[str]:
        return frozenset(self.keys)


def split_key(key: str) -> tuple[str, str]:
    prefix, _, suffix = key.rpartition(".")
    return prefix, suffix


def checkpoint_groups(keys: Iterable[str]) -> tuple[Group, ...]:
    """Keys grouped by module prefix, groups in order of first appearance; ignored suffixes left out."""
    grouped: dict[str, dict[str, str]] = {}
    for key in keys:
        prefix, suffix = split_key(key)
        if suffix in IGNORED_SUFFIXES:
            continue
        grouped.setdefault(prefix, {})[suffix] = key
    return tuple(Group(prefix, keys) for prefix, keys in grouped.items())


def is_ignored(key: str) -> bool:
    return split_key(key)[1] in IGNORED_SUFFIXES


def canonical(name: str) -> str:
    """A name with `/`, `_`, `-`, `.` and case differences removed: `layer1/0_conv1` == `layer1.0.conv1`."""
    return re.sub(r"[^0-9A-Za-z]+", ".", name).strip(".").lower()


def key_for(prefix: str, suffix: str) -> str:
    """The checkpoint key of `suffix` under `prefix` ('' suffix: the prefix is the whole key)."""
    if not suffix:
        return prefix
    return f"{prefix}.{suffix}" if prefix else suffix
