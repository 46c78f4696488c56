"""Real architectures from other projects, converted per target and judged on each target's real consumer.

    nice -n 10 python benchmarks/sweep_architectures.py --targets bvlc,caffe1,nnie
    python benchmarks/sweep_architectures.py --targets opencv --models 'timm_*,smp_Unet*'
    python benchmarks/sweep_architectures.py --families timm,ultralytics --targets rknn --skip 'timm_repvgg*'
    python benchmarks/sweep_architectures.py --targets sophgo,mnn         # tpu-mlir's interpreter, MNN's runtime
    python benchmarks/sweep_architectures.py --summary-only        # the markdown from the results so far
    python benchmarks/sweep_architectures.py --list                # the registry

Every architecture is built by its own project's code with random init and nothing downloaded
(HF_HUB_OFFLINE=1, YOLO_OFFLINE=1, pretrained weights off); `benchmarks/sweep/zoo_*.py` is the
registry (input sizes as deployed; `outputs=` cuts where users cut, e.g. YOLO raw heads, each with
its reason).  Norm parameters are redrawn and BatchNorm statistics measured on sample images
(`sweep/prepare.py`).  Per (architecture, target): `purecaffe.convert(model, inputs, target=T)`, then
the target's consumer called the user's way (`sweep/consumers.py`), its final outputs against
PyTorch's (`sweep/judge.py`), one class per cell (`sweep/cell.py`).

Each architecture runs in a child process (this file with `--worker`) with a time limit, so a hang
or a native crash costs one model; results are appended to a JSON-lines file as each cell finishes,
and cells already there are skipped (`--redo CRASH,TIMEOUT` runs those classes again).  The summary
(per-target counts, then every failure class grouped by cause with the models) is written next to it.
"""
from __future__ import annotations

import argparse
import fcntl
import fnmatch
import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_VERBOSE", "False")

from sweep import report  # noqa: E402
from sweep.registry import architectures  # noqa: E402

log = logging.getLogger("sweep")

TARGETS = ("bvlc", "caffe1", "nnie", "opencv", "rknn", "sophgo", "mnn")
DEFAULT_RESULTS = HERE / "results" / "sweep.jsonl"


def _append(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(record, default=str) + "\n")
        handle.flush()


def _select(names: list[str], patterns: str | None, families: str | None, archs: dict,
            skip: str | None = None) -> list[str]:
    chosen = names
    if skip:
        unwanted = [p.strip() for p in skip.split(",") if p.strip()]
        chosen = [n for n in chosen if not any(fnmatch.fnmatchcase(n, p) for p in unwanted)]
    if patterns:
        wanted = [p.strip() for p in patterns.split(",") if p.strip()]
        chosen = [n for n in chosen if any(fnmatch.fnmatchcase(n, p) for p in wanted)]
    if families:
        wanted = {f.strip() for f in families.split(",") if f.strip()}
        chosen = [n for n in chosen if archs[n].library in wanted or archs[n].kind in wanted]
    return chosen


def worker(name: str, targets: list[str], results: Path, caffe_backend: str, rknn_venv: str | None) -> int:
    """Run one architecture's cells in this process (the child side)."""
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(max(1, int(os.environ.get("SWEEP_THREADS", "2"))))
    from sweep.cell import run_cells

    arch = architectures()[name]
    run_cells(arch, targets, lambda record: _append(results, record), caffe_backend=caffe_backend,
              rknn_venv=rknn_venv)
    return 0


def _run_child(name: str, targets: list[str], args: argparse.Namespace) -> None:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--targets", ",".join(targets),
               "--results", str(args.results), "--caffe-backend", args.caffe_backend]
    if args.rknn_venv:
        command += ["--rknn-venv", args.rknn_venv]
    started = time.monotonic()
    offset = args.results.stat().st_size if args.results.exists() else 0
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, stderr = process.communicate(timeout=args.timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the worker and its own children (Caffe, RKNN)
        _, stderr = process.communicate()
        timed_out = True
    seconds = round(time.monotonic() - started, 1)
    with open(args.results, "rb") if args.results.exists() else open(os.devnull, "rb") as handle:
        handle.seek(offset)
        fresh = report.records(handle.read().decode("utf-8", "replace"))
    written = {r["target"] for r in fresh if r["model"] == name}  # another sweep may append to the file too
    arch = architectures()[name]
    for target in targets:
        if target in written:
            continue
        tail = " | ".join(stderr.decode("utf-8", "replace").strip().splitlines()[-3:])[-600:]
        cls, reason = ("TIMEOUT", f"no result within {args.timeout:.0f} s for the whole model") if timed_out else \
            ("CRASH", f"worker died (exit {process.returncode}): {tail}")
        _append(args.results, {"model": name, "library": arch.library, "kind": arch.kind, "target": target,
                               "class": cls, "reason": reason, "seconds": seconds})
    log.info("%s: %s in %.0f s", name, ", ".join(f"{t}={report.load(args.results).get((name, t), {}).get('class')}"
                                                 for t in targets), seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated names or globs (timm_*)")
    parser.add_argument("--skip", help="comma-separated names or globs to leave out")
    parser.add_argument("--families", help="comma-separated libraries (timm, pytorchcv, ...) or kinds (detector, ...)")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="JSON lines, appended (%(default)s)")
    parser.add_argument("--summary", type=Path, help="markdown summary (default: the results path with .md)")
    parser.add_argument("--redo", default="", help="classes to run again (e.g. CRASH,TIMEOUT); default: skip done")
    parser.add_argument("--timeout", type=float, default=1500.0, help="seconds per model, all its targets")
    parser.add_argument("--caffe-backend", default="rootfs", help="real-Caffe route: rootfs, docker or auto")
    parser.add_argument("--rknn-venv", help="RKNN-Toolkit2 venv (default: purecaffe's cached one)")
    parser.add_argument("--list", action="store_true", help="print the registry and exit")
    parser.add_argument("--summary-only", action="store_true", help="write the summary from the results and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)} (choose from {', '.join(TARGETS)})")
    if args.worker:
        return worker(args.worker, targets, args.results, args.caffe_backend, args.rknn_venv)
    archs = architectures()
    names = _select(list(archs), args.models, args.families, archs, args.skip)
    if args.list:
        for name in names:
            arch = archs[name]
            print(f"{name:48s} {arch.library:28s} {arch.kind:12s} {arch.shapes}" + (" cut" if arch.outputs else ""))
        return 0
    summary_path = args.summary or args.results.with_suffix(".md")
    if not args.summary_only:
        redo = {c.strip() for c in args.redo.split(",") if c.strip()}
        for index, name in enumerate(names):
            done = report.load(args.results)
            pending = [t for t in targets if (name, t) not in done or done[name, t]["class"] in redo]
            if not pending:
                continue
            log.info("[%d/%d] %s: %s", index + 1, len(names), name, ",".join(pending))
            _run_child(name, pending, args)
            _write_summary(args.results, summary_path)
    _write_summary(args.results, summary_path)
    print(summary_path.read_text(encoding="utf-8"))
    return 0


def _write_summary(results: Path, path: Path) -> None:
    cells = report.load(results)
    targets = [t for t in TARGETS if t in {t for _, t in cells}]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Architecture sweep\n\n" + report.summary(cells, targets) + "\n## Per model\n\n"
                    + report.by_model(cells, targets), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
