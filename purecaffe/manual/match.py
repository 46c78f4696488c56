"""Matching Caffe parameter blobs to checkpoint tensors, in four passes.

1. **mapping**: layers named in the `--map` file take exactly what it says;
2. **name**: a unit whose layer name equals a module prefix up to `/`, `_`,
   `-`, `.` and case (`layer1/0/conv1` == `layer1.0.conv1`) takes that module;
3. **order**: the units still unmatched (in net order) and the modules still
   untouched (in checkpoint order, i.e. PyTorch's registration order) are
   paired in lockstep, and pairing stops at the first pair whose suffixes or
   shapes disagree (reported: usually a module registered elsewhere than the
   net uses it, which a mapping entry fixes).  Same-shaped modules registered
   in swapped order cannot be told apart from a state_dict alone: the report
   marks every blob paired this way, and `by_order=False` turns this pass off;
4. **leftovers**: `param { name }`-shared blobs copy their owner, blobs of
   `--allow-missing` layers take their prototxt filler, and everything else
   unmatched on either side is reported.

Nothing here raises for a problem in the data; problems are collected for the
report.  A mapping that names something that does not exist raises `MappingError`.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from purecaffe.manual.errors import MappingError
from purecaffe.manual.fillers import FillerError, fill
from purecaffe.manual.layouts import ONE
from purecaffe.manual.mapping import LayerMapping, WeightMap
from purecaffe.manual.report import (
    BY_MAPPING,
    BY_NAME,
    BY_ORDER,
    CONSTANT,
    FILLER,
    SHARED,
    BlobMatch,
    MissingBlob,
    ShapeMismatch,
    UnusedTensor,
)
from purecaffe.manual.seeding import blob_rng
from purecaffe.manual.transforms import TransformProblem, make_blob
from purecaffe.manual.units import (
    CaffeBlob,
    CaffeSide,
    Group,
    Unit,
    canonical,
    checkpoint_groups,
    is_ignored,
    key_for,
    split_key,
)

Key = tuple[str, int]


@dataclass
class MatchOutcome:
    """Everything the matcher decided; `values` holds the finished blobs."""

    values: dict[Key, np.ndarray] = field(default_factory=dict)
    matched: list[BlobMatch] = field(default_factory=list)
    mismatches: list[ShapeMismatch] = field(default_factory=list)
    missing: list[MissingBlob] = field(default_factory=list)
    unused: list[UnusedTensor] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    taken: dict[str, str] = field(default_factory=dict)    # unit name -> module prefix it took
    notes: list[str] = field(default_factory=list)
    unavailable: set[Key] = field(default_factory=set)      # blobs already reported mismatched or missing

    def decided(self, blob: CaffeBlob) -> bool:
        key = (blob.layer, blob.index)
        return key in self.values or key in self.unavailable

    def add_mismatch(self, mismatch: ShapeMismatch) -> None:
        self.mismatches.append(mismatch)
        self.unavailable.add((mismatch.layer, mismatch.index))

    def add_missing(self, missing: MissingBlob) -> None:
        self.missing.append(missing)
        self.unavailable.add((missing.layer, missing.index))


@dataclass(frozen=True)
class MatchOptions:
    allow_missing: tuple[str, ...] = ()   # fnmatch patterns of Caffe layer names
    allow_unused: tuple[str, ...] = ()    # fnmatch patterns of checkpoint keys
    by_order: bool = True
    seed: int = 0                         # for blobs left to their filler


def match(side: CaffeSide, tensors: Mapping[str, np.ndarray], weight_map: WeightMap, options: MatchOptions,
          *, ordered: bool = True, stripped_prefix: str = "") -> MatchOutcome:
    outcome = MatchOutcome()
    groups = checkpoint_groups(tensors)
    match_mapped(side, tensors, weight_map, options, outcome, stripped_prefix)
    match_by_name(side, tensors, groups, outcome)
    if options.by_order and ordered:
        match_by_order(side, tensors, groups, options, outcome)
    elif options.by_order:
        outcome.notes.append("the checkpoint stores tensors sorted by name, not in model order, so only "
                             "name and mapping matching were used")
    finish(side, tensors, options, outcome, stripped_prefix)
    return outcome


# --- pass 1: mapping --------------------------------------------------------------------------

def layers_kept_apart(net_layers: Sequence[tuple[str, str]], weight_map: WeightMap) -> set[str]:
    """Layers never joined into a BatchNorm+Scale unit: those mapped blob by blob, and mapped Scales.

    `net_layers` is (name, type) of every layer.
    """
    return {name for name, layer_type in net_layers
            if name in weight_map.layers and (weight_map.layers[name].blobs is not None or layer_type == "Scale")}


def match_mapped(side: CaffeSide, tensors: Mapping[str, np.ndarray], weight_map: WeightMap,
                 options: MatchOptions, outcome: MatchOutcome, stripped_prefix: str) -> None:
    for name in weight_map.layers:
        if name not in side.layer_blobs:
            raise MappingError(f"the net has no layer '{name}' with parameter blobs", path=weight_map.path,
                               place=name)
    for unit in side.units:
        entry = next((weight_map.layers[layer] for layer in unit.layers if layer in weight_map.layers), None)
        if entry is None:
            continue
        if entry.prefix is not None:
            prefix = _resolve_prefix(entry, tensors, weight_map.path, stripped_prefix)
            take_prefix(unit, prefix, BY_MAPPING, tensors, outcome)
            outcome.taken[unit.name] = prefix
        else:
            take_blob_list(side.layer_blobs[entry.layer], entry, tensors, weight_map.path, options, outcome,
                           stripped_prefix)
            first = next((s.keys[0] for s in entry.blobs or () if s.keys), None)
            if first is not None:
                outcome.taken[unit.name] = split_key(_lookup(first, tensors, stripped_prefix) or first)[0]


def _lookup(key: str, tensors: Mapping[str, np.ndarray], stripped_prefix: str) -> str | None:
    """`key` as the checkpoint has it, accepting the form with the stripped `module.` prefix."""
    if key in tensors:
        return key
    if stripped_prefix and key.startswith(stripped_prefix) and key[len(stripped_prefix):] in tensors:
        return key[len(stripped_prefix):]
    return None


def _resolve_prefix(entry: LayerMapping, tensors: Mapping[str, np.ndarray], path: str, stripped: str) -> str:
    prefix = entry.prefix or ""
    candidates = [prefix] + ([prefix[len(stripped):]] if stripped and prefix.startswith(stripped) else [])
    for candidate in candidates:
        if any(k == candidate or k.startswith(candidate + ".") for k in tensors):
            return candidate
    raise MappingError(f"no checkpoint key starts with '{prefix}.'", path=path, place=entry.layer)


def take_blob_list(blobs: Sequence[CaffeBlob], entry: LayerMapping, tensors: Mapping[str, np.ndarray], path: str,
                   options: MatchOptions, outcome: MatchOutcome, stripped_prefix: str) -> None:
    """Feed each blob of one layer from the mapping's per-blob list (null: the prototxt filler)."""
    assert entry.blobs is not None
    if len(entry.blobs) != len(blobs):
        roles = ", ".join(b.layout.role for b in blobs)
        raise MappingError(f"layer has {len(blobs)} parameter blob(s) ({roles}) but the mapping lists "
                           f"{len(entry.blobs)}", path=path, place=entry.layer)
    for blob, source in zip(blobs, entry.blobs):
        if blob.shared_with is not None:
            if source.keys:
                raise MappingError(f"blob {blob.index} is shared (param name) with layer '{blob.shared_with[0]}' "
                                   f"and copied from it; give null for it", path=path, place=entry.layer)
            continue
        if not source.keys:
            take_filler(blob, options, outcome, note="null in the mapping")
            continue
        keys = []
        for key in source.keys:
            found = _lookup(key, tensors, stripped_prefix)
            if found is None:
                raise MappingError(f"key '{key}' is not in the checkpoint", path=path, place=entry.layer)
            keys.append(found)
        assign(blob, tuple(keys), source.transform, BY_MAPPING, tensors, outcome)


# --- pass 2: names ----------------------------------------------------------------------------

def match_by_name(side: CaffeSide, tensors: Mapping[str, np.ndarray], groups: Sequence[Group],
                  outcome: MatchOutcome) -> None:
    by_canonical: dict[str, list[str]] = {}
    for group in groups:
        by_canonical.setdefault(canonical(group.prefix), []).append(group.prefix)
    whole_keys: dict[str, list[str]] = {}
    for key in tensors:
        whole_keys.setdefault(canonical(key), []).append(key)
    for unit in side.units:
        if unit.name in outcome.taken or any(outcome.decided(b) for b in unit.blobs):
            continue
        wants_whole_key = any("" in b.layout.torch for b in unit.blobs)
        index = whole_keys if wants_whole_key else by_canonical
        for layer in unit.layers:
            candidates = index.get(canonical(layer), [])
            if len(candidates) > 1:
                outcome.notes.append(f"layer '{layer}' matches several checkpoint names "
                                     f"({', '.join(candidates)}); not matched by name")
                continue
            if len(candidates) == 1 and not _touched(candidates[0], tensors, outcome):
                take_prefix(unit, candidates[0], BY_NAME, tensors, outcome)
                outcome.taken[unit.name] = candidates[0]
                break


def _touched(prefix: str, tensors: Mapping[str, np.ndarray], outcome: MatchOutcome) -> bool:
    return any(k in outcome.used for k in tensors if k == prefix or split_key(k)[0] == prefix)


def take_prefix(unit: Unit, prefix: str, source: str, tensors: Mapping[str, np.ndarray],
                outcome: MatchOutcome) -> None:
    """Feed every blob of `unit` from `prefix.<suffix>`; absent keys become missing blobs."""
    for blob in unit.blobs:
        if blob.layout.transform == ONE:
            assign(blob, (), ONE, CONSTANT, tensors, outcome)
            continue
        keys = tuple(key_for(prefix, suffix) for suffix in blob.layout.torch)
        if keys and all(k in tensors for k in keys):
            assign(blob, keys, blob.layout.transform, source, tensors, outcome)
        else:
            outcome.add_missing(_missing(blob, keys))


def assign(blob: CaffeBlob, keys: tuple[str, ...], transform: str, source: str,
           tensors: Mapping[str, np.ndarray], outcome: MatchOutcome) -> None:
    arrays = [tensors[k] for k in keys]
    shapes = tuple(tuple(int(d) for d in a.shape) for a in arrays)
    outcome.used.update(keys)
    try:
        value = make_blob(arrays, transform, blob.shape)
    except TransformProblem as problem:
        outcome.add_mismatch(ShapeMismatch(blob.layer, blob.index, blob.layout.role, blob.shape, keys, shapes,
                                           source, str(problem)))
        return
    outcome.values[(blob.layer, blob.index)] = value
    note = "1 (mean/variance stored unscaled)" if transform == ONE else ""
    outcome.matched.append(BlobMatch(blob.layer, blob.index, blob.layout.role, blob.shape, source, keys,
                                     shapes, transform, note))


# --- pass 3: order ----------------------------------------------------------------------------

def match_by_order(side: CaffeSide, tensors: Mapping[str, np.ndarray], groups: Sequence[Group],
                   options: MatchOptions, outcome: MatchOutcome) -> None:
    """Pair the still-unmatched units (net order) with the untouched modules (checkpoint order) in
    lockstep, stopping at the first pair whose suffixes or shapes disagree."""
    units = [unit for unit in side.units
             if unit.auto_matchable and not any(outcome.decided(b) for b in unit.blobs)
             and not _matches_any(unit.layers, options.allow_missing)]
    free = [group for group in groups
            if not any(k in outcome.used for k in group.keys.values())
            and not _matches_any(group.keys.values(), options.allow_unused)]
    for unit, group in zip(units, free):
        if unit.suffixes != group.suffixes:
            wanted = ", ".join(sorted(s or "(whole key)" for s in unit.suffixes)) or "none"
            outcome.notes.append(f"matching by order stopped at Caffe layer '{unit.name}' "
                                 f"({'+'.join(unit.types)}: {wanted}) and checkpoint module "
                                 f"'{group.prefix}' ({', '.join(sorted(group.suffixes))})")
            return
        if not _take_in_order(unit, group, tensors, outcome):
            return


def _take_in_order(unit: Unit, group: Group, tensors: Mapping[str, np.ndarray], outcome: MatchOutcome) -> bool:
    """Pair `unit` with `group` if every blob fits; else record the mismatches and return False."""
    problems = []
    for blob in unit.blobs:
        if blob.layout.transform == ONE:
            continue
        keys = tuple(group.keys[s] for s in blob.layout.torch)
        try:
            make_blob([tensors[k] for k in keys], blob.layout.transform, blob.shape)
        except TransformProblem:
            problems.append(blob)
    if problems:
        for blob in problems:
            keys = tuple(group.keys[s] for s in blob.layout.torch)
            assign(blob, keys, blob.layout.transform, BY_ORDER, tensors, outcome)
        for k in group.keys.values():
            outcome.used.discard(k)  # still reported as unused: the pairing was a guess
        return False
    take_prefix(unit, group.prefix, BY_ORDER, tensors, outcome)
    outcome.taken[unit.name] = group.prefix
    return True


# --- pass 4: leftovers ------------------------------------------------------------------------

def finish(side: CaffeSide, tensors: Mapping[str, np.ndarray], options: MatchOptions, outcome: MatchOutcome,
           stripped_prefix: str) -> None:
    for unit in side.units:
        for blob in unit.blobs:
            if not outcome.decided(blob):
                outcome.add_missing(_missing(blob, ()))
    still_missing = []
    for missing in outcome.missing:
        if _matches_any([missing.layer], options.allow_missing):
            blob = next(b for b in side.layer_blobs[missing.layer] if b.index == missing.index)
            if take_filler(blob, options, outcome, note="--allow-missing"):
                still_missing.append(replace(missing, allowed=True))
                continue
        still_missing.append(missing)
    outcome.missing = still_missing
    for blob in side.shared:
        owner = outcome.values.get(blob.shared_with) if blob.shared_with is not None else None
        if owner is None or blob.shared_with is None or owner.size != int(np.prod(blob.shape)):
            continue
        outcome.values[(blob.layer, blob.index)] = owner.reshape(blob.shape)
        outcome.matched.append(BlobMatch(blob.layer, blob.index, blob.layout.role, blob.shape, SHARED,
                                         note=f"= {blob.shared_with[0]} blob {blob.shared_with[1]}"))
    for key, array in tensors.items():
        if key in outcome.used or is_ignored(key):
            continue
        allowed = _matches_any([key, stripped_prefix + key], options.allow_unused)
        outcome.unused.append(UnusedTensor(key, tuple(int(d) for d in array.shape), allowed))
    for pattern in options.allow_missing:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in side.layer_blobs):
            outcome.notes.append(f"--allow-missing {pattern!r} matches no layer with parameter blobs")


def take_filler(blob: CaffeBlob, options: MatchOptions, outcome: MatchOutcome, *, note: str) -> bool:
    if blob.layout.filler is None:
        outcome.notes.append(f"{blob.label}: no filler is known for layer type {blob.layer_type}, "
                             f"so it cannot be left to its filler")
        return False
    try:
        value = fill(blob.shape, blob.layout.filler, blob_rng(options.seed, blob.layer, blob.index))
    except FillerError as error:
        outcome.notes.append(f"{blob.label}: {error.message}")
        return False
    outcome.values[(blob.layer, blob.index)] = value
    outcome.matched.append(BlobMatch(blob.layer, blob.index, blob.layout.role, blob.shape, FILLER,
                                     note=f"{blob.layout.filler.describe()} ({note})"))
    return True


def _missing(blob: CaffeBlob, expected: tuple[str, ...]) -> MissingBlob:
    return MissingBlob(blob.layer, blob.layer_type, blob.index, blob.layout.role, blob.shape, expected, False)


def _matches_any(names: Iterable[str], patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for name in names for pattern in patterns)
