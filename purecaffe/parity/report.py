"""The parity report: what was compared, where it first diverged, in four renderings."""
from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from purecaffe.parity.compare import BlobComparison

if TYPE_CHECKING:
    from purecaffe.int8 import Int8Comparison


@dataclass(frozen=True)
class ParityReport:
    """Every mapped Caffe blob against its PyTorch tensor, in Caffe's layer order."""

    name: str
    backend: str
    rtol: float
    atol: float
    comparisons: tuple[BlobComparison, ...]
    backend_error: str | None = None
    min_cosine: float | None = None  # fp16 backends: each blob's cosine similarity with torch must reach this
    cut: tuple[str, ...] = ()
    """The outputs a cut net ends at (`convert(..., outputs=...)`): parity holds up to the cut."""
    target: str = ""
    """The target the net was converted for (from the sidecar)."""
    judge_hint: str = ""
    """When the backend is not the target's judge: which backend is."""
    fp16_reference: str = ""
    """An fp16 backend judged against the runtime's fp16 storage (`purecaffe.parity.fp16`): the bound."""
    fp16_cost: tuple[tuple[str, float, float], ...] = ()
    """Then, per net output, (blob, 1 - cosine, max-rel) of the fp16 storage against PyTorch float32."""
    diagnostic: str = ""
    """The judge's diagnostic run (`Judge.diagnostic`, MNN with Winograd off), made when the default run
    missed its bound: what it showed (the default run's drift, or a misread)."""
    int8: Int8Comparison | None = None
    """An int8 build (`verify(..., quantize=...)`): both routes' scores, which decide `passed`; the
    per-blob rows then show each layer's cosine to PyTorch without a bound."""

    @property
    def passed(self) -> bool:
        if self.int8 is not None:
            return self.backend_error is None and self.int8.passed
        return self.backend_error is None and bool(self.comparisons) and all(c.passed for c in self.comparisons)

    @property
    def first_divergence(self) -> BlobComparison | None:
        """The first blob, in Caffe's layer order, that differs from PyTorch (by value or shape)."""
        return next((c for c in self.comparisons if not c.passed and not c.note.startswith("not run")), None)

    @property
    def worst(self) -> BlobComparison | None:
        scored = [c for c in self.comparisons if c.max_rel_err is not None]
        return max(scored, key=lambda c: c.max_rel_err or 0.0) if scored else None

    def summary(self) -> str:
        text = self._summary() if self.int8 is None or self.backend_error else f"{self.name}: {self.int8.summary()}"
        if self.fp16_cost and self.int8 is None and not self.backend_error:
            text += "; fp16 cost at the outputs (fp16 storage vs PyTorch float32): " + ", ".join(
                f"{blob} 1-cos {cos:.1e} rel {rel:.1e}" for blob, cos, rel in self.fp16_cost)
        if self.diagnostic:
            text += f"; {self.diagnostic}"
        if self.target:
            text += f" [target {self.target}{'; ' + self.judge_hint if self.judge_hint else ''}]"
        return f"{text} (net cut at {', '.join(self.cut)}: compared up to the cut)" if self.cut else text

    def _summary(self) -> str:
        refused = f"the {self.backend} backend refused the net: {self.backend_error}" if self.backend_error else ""
        first = self.first_divergence
        if first is None and refused:
            return f"{self.name}: NOT VERIFIED: {refused}"
        if first is None:
            worst = self.worst
            worst_text = f"; worst max|err|/max|torch| = {worst.max_rel_err:.2e} at {worst.layer}" if worst else ""
            return (f"{self.name}: PARITY OK on {self.backend}: {len(self.comparisons)} blobs within "
                    f"{self._criterion()}{worst_text}")
        failed = [c for c in self.comparisons if not c.passed and not c.note.startswith("not run")]
        module = f" (PyTorch module '{first.module}', {first.op})" if first.module else f" ({first.op})"
        detail = first.note or (f"max|err| {first.max_abs_err:.3e} > {self.rtol:g} x {first.scale:.3e} "
                                f"+ {self.atol:g}")
        return (f"{self.name}: PARITY FAILED on {self.backend}: {len(failed)} of {len(self.comparisons)} blobs "
                f"diverge; first at layer '{first.layer}' [{first.layer_type}] blob '{first.blob}'{module}: {detail}"
                + (f"; {refused}" if refused else ""))

    def _criterion(self) -> str:
        if self.int8 is not None:
            return "int8: each blob's cosine to PyTorch shown, unbounded; the int8 routes decide"
        if self.fp16_reference:
            return self.fp16_reference
        text = f"{self.rtol:g} x max|torch| + {self.atol:g}"
        return text if self.min_cosine is None else f"{text}, cosine >= {self.min_cosine:g}"

    # ------------------------------------------------------------------ renderings

    def to_dict(self) -> dict:
        first = self.first_divergence
        return {"name": self.name, "backend": self.backend, "passed": self.passed,
                "rtol": None if math.isinf(self.rtol) else self.rtol,
                "cut": list(self.cut),
                "atol": self.atol, "min_cosine": self.min_cosine, "backend_error": self.backend_error,
                "fp16_reference": self.fp16_reference or None, "diagnostic": self.diagnostic or None,
                "fp16_cost": [{"blob": b, "one_minus_cosine": c, "max_rel": r} for b, c, r in self.fp16_cost],
                "first_divergence": None if first is None else {"layer": first.layer, "blob": first.blob,
                                                                 "module": first.module, "op": first.op},
                "summary": self.summary(),
                "int8": None if self.int8 is None else _int8_part("int8_dict", self.int8),
                "comparisons": [_jsonable(asdict(c)) for c in self.comparisons]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def _rows(self) -> list[tuple[str, ...]]:
        rows = []
        for c in self.comparisons:
            rows.append((str(c.index), c.layer, c.layer_type, c.blob, c.module or "-", "x".join(map(str, c.torch_shape)),
                         _num(c.max_abs_err), _num(c.max_rel_err), _num(c.cosine, 6), "ok" if c.passed else "FAIL",
                         c.note))
        return rows

    HEADER = ("#", "layer", "type", "blob", "torch module", "shape", "max|err|", "rel", "cosine", "", "note")

    def to_table(self) -> str:
        rows = [self.HEADER, *self._rows()]
        widths = [min(max(len(r[i]) for r in rows), 40) for i in range(len(self.HEADER))]
        lines = [f"{self.name}: {len(self.comparisons)} blobs compared on {self.backend} "
                 f"(pass: max|err| <= {self._criterion()})"]
        for i, row in enumerate(rows):
            lines.append("  ".join(cell[:40].ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        if self.int8 is not None:
            lines.append(_int8_part("int8_table", self.int8))
        lines.append(self.summary())
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = [f"# Parity report: {self.name}", "", f"**{self.summary()}**", "",
                 f"Backend: `{self.backend}`. A blob passes when max|caffe - torch| <= {self._criterion()}. "
                 f"`rel` = max|err| / max|torch|.", "",
                 "| " + " | ".join(h or "result" for h in self.HEADER) + " |",
                 "|" + "---|" * len(self.HEADER)]
        for row in self._rows():
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
        return "\n".join(lines) + "\n"

    def to_html(self) -> str:
        status = "pass" if self.passed else "fail"
        first = self.first_divergence
        body = []
        for c, row in zip(self.comparisons, self._rows()):
            css = "fail" if not c.passed else ""
            if first is not None and c is first:
                css += " first"
            bar = _bar(c.max_rel_err, self.rtol)
            cells = "".join(f"<td>{html.escape(cell)}</td>" for cell in row[:-2])
            body.append(f'<tr class="{css.strip()}">{cells}<td>{bar}</td>'
                        f'<td>{"ok" if c.passed else "FAIL"}</td><td>{html.escape(c.note)}</td></tr>')
        headers = "".join(f"<th>{html.escape(h)}</th>" for h in (*self.HEADER[:-2], "error vs tolerance", "", "note"))
        error = f'<p class="fail">{html.escape(self.backend_error)}</p>' if self.backend_error else ""
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Parity report: {html.escape(self.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.4em; }} .summary {{ padding: .6em 1em; border-radius: 4px; }}
.summary.pass {{ background: #e6f4ea; }} .summary.fail {{ background: #fce8e6; }}
table {{ border-collapse: collapse; font-size: .85em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .25em .6em; text-align: left; white-space: nowrap; }}
tr.fail td {{ background: #fce8e6; }} tr.first td {{ font-weight: bold; }}
.bar {{ display: inline-block; height: .7em; background: #4a8; vertical-align: middle; }}
.bar.over {{ background: #d33; }} p.fail {{ color: #b00; }}
</style></head><body>
<h1>Parity report: {html.escape(self.name)}</h1>
<p class="summary {status}">{html.escape(self.summary())}</p>
<p>Backend <code>{html.escape(self.backend)}</code>. Each Caffe blob is taken right after the layer that
produced the PyTorch tensor (in-place chains included). A blob passes when
max|caffe &minus; torch| &le; {html.escape(self._criterion())}; <em>rel</em> is
max|err| / max|torch|; the bar is log-scaled, its end is the tolerance.</p>
{error}
{_int8_part("int8_html", self.int8) if self.int8 is not None else ""}
<table><thead><tr>{headers}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""


def _int8_part(rendering: str, result: Int8Comparison) -> object:
    """The int8 section in one rendering (purecaffe.int8.report, imported only when there is one)."""
    from purecaffe.int8 import report

    return getattr(report, rendering)(result)


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}e}" if digits == 2 else f"{value:.{digits}f}"


def _bar(rel: float | None, rtol: float) -> str:
    """A log-scale bar: 1e-9 -> empty, rtol -> 100 px, beyond -> red."""
    if rel is None:
        return ""
    if rel <= 0:
        return '<span class="bar" style="width:0px"></span>'
    position = (math.log10(max(rel, 1e-9)) + 9) / (math.log10(rtol) + 9)
    width = int(min(max(position, 0.0), 1.5) * 100)
    css = "bar over" if rel > rtol else "bar"
    return f'<span class="{css}" style="width:{width}px"></span>'


def _jsonable(data: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isinf(v) else list(v) if isinstance(v, tuple) else v)
            for k, v in data.items()}
