"""What `fill` did: every Caffe blob's source, what is left on either side, every shape mismatch."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from purecaffe.errors import PurecaffeError, ShapeError
from purecaffe.manual.errors import MissingTensorError, UnusedTensorError
from purecaffe.manual.transforms import fmt_shape

Shape = tuple[int, ...]

# BlobMatch.source values
BY_NAME, BY_ORDER, BY_MAPPING = "name", "order", "mapping"
CONSTANT, FILLER, SHARED = "constant", "filler", "shared"


@dataclass(frozen=True)
class BlobMatch:
    """A Caffe blob and where its values came from."""

    layer: str
    index: int
    role: str
    shape: Shape
    source: str                       # name | order | mapping | constant | filler | shared
    keys: tuple[str, ...] = ()
    key_shapes: tuple[Shape, ...] = ()
    transform: str = "as_is"
    note: str = ""


@dataclass(frozen=True)
class ShapeMismatch:
    layer: str
    index: int
    role: str
    shape: Shape
    keys: tuple[str, ...]
    key_shapes: tuple[Shape, ...]
    source: str
    problem: str


@dataclass(frozen=True)
class MissingBlob:
    """A Caffe blob no checkpoint tensor was found for."""

    layer: str
    layer_type: str
    index: int
    role: str
    shape: Shape
    expected: tuple[str, ...]          # keys looked for (name/mapping match), else ()
    allowed: bool                      # --allow-missing: filled from the prototxt's filler instead


@dataclass(frozen=True)
class UnusedTensor:
    key: str
    shape: Shape
    allowed: bool                      # matched an --allow-unused pattern


@dataclass(frozen=True)
class FillResult:
    """The report of one `fill`: `ok` when nothing is mismatched, missing or unused (or it was allowed).

    `matched` lists every blob that got a value, in net order; `weights` (layer ->
    blobs, read-only) is set only when every blob got one.
    """

    prototxt: str
    checkpoint: str
    checkpoint_format: str
    output: str | None
    mapping: str | None
    matched: tuple[BlobMatch, ...]
    missing: tuple[MissingBlob, ...]
    unused: tuple[UnusedTensor, ...]
    mismatches: tuple[ShapeMismatch, ...]
    ignored: tuple[str, ...] = ()      # bookkeeping tensors (num_batches_tracked) and non-tensor entries
    notes: tuple[str, ...] = ()
    weights: Mapping[str, list[np.ndarray]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.mismatches and not any(not m.allowed for m in self.missing) \
            and not any(not u.allowed for u in self.unused)

    def problems(self) -> list[PurecaffeError]:
        """One error per problem, most serious first: shape mismatches, missing blobs, unused tensors."""
        errors: list[PurecaffeError] = []
        for m in self.mismatches:
            how = {BY_ORDER: " (paired by order; if they are different layers, add a --map entry)",
                   BY_NAME: " (paired by name)", BY_MAPPING: " (from the mapping)"}.get(m.source, "")
            errors.append(ShapeError(f"shape mismatch: checkpoint {' + '.join(m.keys)} is {m.problem} but Caffe "
                                     f"layer '{m.layer}' blob {m.index} ({m.role}) is {fmt_shape(m.shape)}{how}",
                                     path=self.checkpoint, place=m.keys[0] if m.keys else m.layer))
        for b in self.missing:
            if b.allowed:
                continue
            looked = f"; looked for {', '.join(b.expected)}" if b.expected else ""
            errors.append(MissingTensorError(
                f"no checkpoint tensor for blob {b.index} ({b.role}) {fmt_shape(b.shape)} of {b.layer_type} "
                f"layer '{b.layer}'{looked} (add it to a --map file, or --allow-missing {b.layer} to keep "
                f"its prototxt filler)", path=self.prototxt, place=b.layer))
        for u in self.unused:
            if not u.allowed:
                errors.append(UnusedTensorError(
                    f"tensor {fmt_shape(u.shape)} was not used by any Caffe layer (map it with --map, or "
                    f"--allow-unused '{u.key}')", path=self.checkpoint, place=u.key))
        return errors

    def to_dict(self) -> dict:
        data = asdict(replace(self, weights={}))  # the arrays are not part of the report
        del data["weights"]
        data["ok"] = self.ok
        data["problems"] = [error.one_line() for error in self.problems()]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_table(self) -> str:
        rows = [("layer", "blob", "caffe shape", "from", "checkpoint key(s)", "shape")]
        for m in self.matched:
            keys = " + ".join(m.keys) or m.note or "-"
            shapes = " + ".join(fmt_shape(s) for s in m.key_shapes) or "-"
            source = m.source if m.transform in ("as_is", "one") else f"{m.source}, {m.transform}"
            rows.append((m.layer, f"{m.index} {m.role}", fmt_shape(m.shape), source, keys, shapes))
        for s in self.mismatches:
            rows.append((s.layer, f"{s.index} {s.role}", fmt_shape(s.shape), f"MISMATCH ({s.source})",
                         " + ".join(s.keys), s.problem))
        for b in self.missing:
            rows.append((b.layer, f"{b.index} {b.role}", fmt_shape(b.shape),
                         "missing (allowed: filler)" if b.allowed else "MISSING", ", ".join(b.expected) or "-", "-"))
        widths = [min(max(len(row[i]) for row in rows), 48) for i in range(len(rows[0]))]
        out = [f"{self.prototxt} <- {self.checkpoint} [{self.checkpoint_format}]"
               + (f"  map: {self.mapping}" if self.mapping else "")]
        for i, row in enumerate(rows):
            out.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
            if i == 0:
                out.append("  ".join("-" * w for w in widths))
        if self.unused:
            out.append("checkpoint tensors not used:")
            out += [f"  {u.key} {fmt_shape(u.shape)}{' (allowed)' if u.allowed else ''}" for u in self.unused]
        if self.ignored:
            out.append(f"ignored (bookkeeping, no Caffe blob): {', '.join(self.ignored)}")
        out += [f"note: {note}" for note in self.notes]
        counts: dict[str, int] = {}
        for m in self.matched:
            counts[m.source] = counts.get(m.source, 0) + 1
        summary = ", ".join(f"{n} by {s}" if s in (BY_NAME, BY_ORDER, BY_MAPPING) else f"{n} {s}"
                            for s, n in counts.items())
        problems = len(self.problems())
        out.append(f"blobs: {len(self.matched)} filled ({summary or 'none'}); "
                   + (f"{problems} problem(s)" if problems else "no problems")
                   + (f"; written to {self.output}" if self.output and self.ok else ""))
        return "\n".join(out)
