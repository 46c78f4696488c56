"""The results file (JSON lines, the last record of a cell wins) and its markdown summary."""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

CLASSES = ("OK", "REFUSED", "CONSUMER-REJECTED", "SILENT-MISMATCH", "WRONG-ORDER", "FP16-DRIFT", "FP32-DRIFT",
           "UNSTABLE-REFERENCE", "CRASH",
           "TIMEOUT",
           "BUILD-FAILED")
TARGET_ORDER = ("bvlc", "caffe1", "nnie", "opencv", "rknn")


def records(text: str) -> list[dict]:
    """The complete records of a JSON-lines text (a line another sweep is still writing is left out)."""
    found = []
    for line in text.splitlines():
        if line.strip():
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def load(path: Path) -> dict[tuple[str, str], dict]:
    """Every cell's last record."""
    if not path.exists():
        return {}
    return {(r["model"], r["target"]): r for r in records(path.read_text(encoding="utf-8"))}


def _short(reason: str) -> str:
    """A reason with its numbers, names and paths blurred, so that the same cause groups together."""
    text = re.sub(r"/tmp/\S+", "<file>", reason)
    text = re.sub(r"\b(in|at|Layer|layer|node|Node)\s+\(?(?=[\w./#:\-]*[./_\d])[\w./#:\-]+\)?", r"\1 <x>", text)
    text = re.sub(r"'[^']*'", "'<x>'", text)
    text = re.sub(r"\(\d[\d, ]*\)|\[\d[\d, ]*\]", "<shape>", text)
    text = re.sub(r"\d+(\.\d+)?(e-?\d+)?", "N", text)
    return text[:240]


def _numbers(record: dict) -> str:
    """The worst output's cosine and error for a wrong-numbers cell (the grouping key blurs them)."""
    failed = [c for c in record.get("comparisons") or [] if not c["passed"] and not c["note"]]
    if not failed:
        return ""
    worst = min(failed, key=lambda c: c["cosine"])
    text = f" (cos {worst['cosine']:.6f}, {worst['relative']:.1e}"
    fp16 = record.get("torch_fp16")
    if isinstance(fp16, list) and len(fp16) > worst["position"]:
        mine = fp16[worst["position"]]
        text += f"; torch fp16 cos {mine['cosine']:.6f}, {mine['relative']:.1e}"
    return text + ")"


def _refusal_keys(record: dict) -> list[str]:
    ops = record.get("ops") or []
    if not ops:
        return [_short(record.get("reason", ""))]
    return sorted({f"{op['op']}: {_short(op['reason'])[:160]}" for op in ops})


def summary(cells: dict[tuple[str, str], dict], targets: Sequence[str] | None = None) -> str:
    targets = [t for t in TARGET_ORDER if t in {t for _, t in cells}] if targets is None else list(targets)
    lines = ["| target | models | " + " | ".join(CLASSES) + " | cell time (s) |",
             "|---|---|" + "---|" * len(CLASSES) + "---|"]  # cell time: convert + consume (+ judge), build excluded
    for target in targets:
        records = [r for (_, t), r in cells.items() if t == target]
        counts = Counter(r["class"] for r in records)
        seconds = sum(float(r.get("seconds", 0)) for r in records)
        lines.append(f"| {target} | {len(records)} | " + " | ".join(str(counts.get(c, 0)) or "" for c in CLASSES)
                     + f" | {seconds:.0f} |")
    for cls in CLASSES[1:]:
        groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for (model, target), record in sorted(cells.items()):
            if record["class"] != cls or target not in targets:
                continue
            keys = _refusal_keys(record) if cls == "REFUSED" else [_short(record.get("reason", ""))]
            for key in keys:
                groups[key][target].append(model + _numbers(record))
        if not groups:
            continue
        lines += ["", f"### {cls}", "", "| cause | " + " | ".join(targets) + " |",
                  "|---|" + "---|" * len(targets)]
        for key, by_target in sorted(groups.items(), key=lambda kv: -sum(len(v) for v in kv[1].values())):
            row = [", ".join(by_target.get(t, [])) or "" for t in targets]
            lines.append(f"| {key.replace('|', '/')} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def by_model(cells: dict[tuple[str, str], dict], targets: Iterable[str]) -> str:
    """One row per model: each target's class (the detail table)."""
    targets = list(targets)
    models = sorted({m for m, _ in cells})
    lines = ["| model | library | " + " | ".join(targets) + " |", "|---|---|" + "---|" * len(targets)]
    for model in models:
        library = next(r["library"] for (m, _), r in cells.items() if m == model)
        row = [cells.get((model, t), {}).get("class", "") for t in targets]
        lines.append(f"| {model} | {library} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
