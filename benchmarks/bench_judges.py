"""Seconds per model per judge, cold (a process per net) and warm (one persistent child serving them all).

    python benchmarks/bench_judges.py [--repeats 3] [--judges rknn,tpu-mlir,mnn,caffe]
                                      [--models tiny_resnet,resnet18,mobilenet_v2] [--outputs-only] [--json out.json]

Each model (random init, fixed seed; torchvision's resnet18 and mobilenet_v2, purecaffe's example
tiny_resnet) is converted once for the judge's target (rknn for RKNN, bvlc otherwise) and saved.
Then, judge by judge, side by side in one run:

* cold: `--repeats` calls of the judge per model, each in a new child process (what every call paid
  before `purecaffe.judgejob.persistent_runners`): venv python start, toolchain import, the net;
* warm: inside one `persistent_runners()` block, one warm-up call, then `--repeats` calls per model,
  all served by the same child: the net alone.

Wall seconds of the whole judge call (job files in, results read back), medians.  The call is the
one `verify` makes (per-layer values where the consumer shows them; `--outputs-only`: outputs only).
Real Caffe runs in a chroot or container per call and has no persistent child: its warm column
is empty (its test helper merges many nets into one run instead, tests/batched_compare.py).
A judge that cannot be had here is reported as such, not measured; a net a judge refuses (tpu-mlir's
front end has no Clip for the bvlc files of mobilenet_v2's ReLU6) gets the refusal in its cell.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import purecaffe
from purecaffe.errors import BackendUnavailableError
from purecaffe.judgejob import persistent_runners

Call = Callable[[Path, Path, dict[str, np.ndarray]], Any]


def build(name: str) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    if name == "tiny_resnet":
        from purecaffe.examples.tiny_resnet import tiny_resnet

        return tiny_resnet().eval(), torch.randn(1, 3, 32, 32)
    import torchvision

    return getattr(torchvision.models, name)(weights=None).eval(), torch.randn(1, 3, 224, 224)


def judge_call(judge: str, dump: bool) -> Call:
    """The judge's one-net call, raising on a refusal (a benchmark of a refused net measures nothing)."""
    def checked(run: Any) -> Any:
        if not getattr(run, "ok", True) or getattr(run, "error", None):
            raise Refused(run.error)
        return run

    if judge == "rknn":
        from purecaffe.rknn import run_rknn

        return lambda p, m, x: checked(run_rknn(p, m, x, dump_layers=dump))
    if judge == "tpu-mlir":
        from purecaffe.tpumlir import run_tpumlir

        return lambda p, m, x: checked(run_tpumlir(p, m, x, dump_layers=dump))
    if judge == "mnn":
        from purecaffe.mnn import run_mnn

        return lambda p, m, x: checked(run_mnn(p, m, x, dump_layers=dump))
    if judge == "caffe":
        from purecaffe.realcaffe import run_real_caffe

        return lambda p, m, x: checked(run_real_caffe(p, m, x, snapshots=dump))
    raise SystemExit(f"unknown judge {judge!r} (rknn, tpu-mlir, mnn, caffe)")


TARGET = {"rknn": "rknn"}
"""The target each judge's files are converted for (bvlc for the others)."""


def convert_all(models: list[str], judges: list[str], folder: Path) -> dict[tuple[str, str], tuple[Path, Path, dict]]:
    files = {}
    for name in models:
        model, x = build(name)
        for target in sorted({TARGET.get(judge, "bvlc") for judge in judges}):
            saved = purecaffe.convert(model, x, name=name, target=target).save(folder / f"{name}-{target}")
            files[(name, target)] = (saved.prototxt, saved.caffemodel, {"data": x.numpy()})
    return files


class Refused(Exception):
    """The judge refused the net: its cell says so instead of a time."""


def timed(call: Call, net: tuple[Path, Path, dict]) -> float:
    start = time.perf_counter()
    call(*net)
    return time.perf_counter() - start


def bench_judge(judge: str, models: list[str], files: dict, repeats: int, dump: bool) -> dict[str, dict]:
    call = judge_call(judge, dump)
    nets = {name: files[(name, TARGET.get(judge, "bvlc"))] for name in models}
    row: dict[str, dict] = {name: {} for name in models}
    with persistent_runners(enabled=False):
        for name, net in nets.items():
            try:
                row[name]["cold"] = [timed(call, net) for _ in range(repeats)]
            except Refused as refusal:
                row[name]["refused"] = str(refusal)
    accepted = {name: net for name, net in nets.items() if "refused" not in row[name]}
    if judge != "caffe" and accepted:
        with persistent_runners() as children:
            timed(call, next(iter(accepted.values())))  # the child's start and import: paid once
            for name, net in accepted.items():
                row[name]["warm"] = [timed(call, net) for _ in range(repeats)]
            row["_children_started"] = {"count": children.started if children is not None else 0}
    return row


def table(report: dict[str, Any], models: list[str], repeats: int) -> list[str]:
    lines = [f"wall seconds per judge call, medians of {repeats} (cold: a process per call; warm: one child "
             f"for all calls, after one warm-up call)",
             "| judge | " + " | ".join(f"{m} cold | {m} warm" for m in models) + " | children started (warm) |",
             "|---|" + "---|---|" * len(models) + "---|"]
    for judge, row in report.items():
        if "unavailable" in row:
            lines.append(f"| {judge} | unavailable here: {row['unavailable']} |")
            continue
        cells = []
        for name in models:
            if "refused" in row[name]:
                cells += [f"refused: {row[name]['refused'][:60]}", "—"]
                continue
            for side in ("cold", "warm"):
                runs = row[name].get(side)
                cells.append(f"{statistics.median(runs):.2f} s" if runs else "—")
        started = row.get("_children_started", {}).get("count", "—")
        lines.append(f"| {judge} | " + " | ".join(cells) + f" | {started} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--judges", default="rknn,tpu-mlir,mnn,caffe")
    parser.add_argument("--models", default="tiny_resnet,resnet18,mobilenet_v2")
    parser.add_argument("--outputs-only", action="store_true", help="no per-layer values, the outputs alone")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    models, judges = args.models.split(","), args.judges.split(",")
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-judges-") as folder:
        files = convert_all(models, judges, Path(folder))
        for judge in judges:
            try:
                report[judge] = bench_judge(judge, models, files, args.repeats, not args.outputs_only)
            except BackendUnavailableError as error:
                report[judge] = {"unavailable": error.one_line()}
            print("\n".join(table({judge: report[judge]}, models, args.repeats)[1:]), file=sys.stderr, flush=True)
            if args.json:
                args.json.write_text(json.dumps(report, indent=2))
    print("\n".join(table(report, models, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
