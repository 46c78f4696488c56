"""convert + save next to torch.save of the same weights: time and peak RSS per weight byte.

    python benchmarks/bench_convert.py [--repeats 5] [--models vgg16,resnet50] [--cold] [--json out.json]
    python benchmarks/bench_convert.py --floor resnet50 [--repeats 5]
    python benchmarks/bench_convert.py --profile resnet50 [--top 30]

The models are torchvision's VGG16 and ResNet-50 (random init, fixed seed, eval mode; `mobilenet`: a
MobileNet-style net every target legalizes differently).  Every measurement runs in a fresh child
process (this file with `--child`) so its memory is its own; the two sides alternate (A B A B ...)
and the medians of `--repeats` runs are printed side by side with their ratio.

In the child, in order: the imports (torch, torchvision, purecaffe, torch.export's machinery), then
unless `--cold` one warm-up of the measured step on a tiny net (torch.export's first-use costs, about
0.5 s, paid once per process like an import), then `base` = the RSS; the model is built, the peak-RSS
mark is reset (/proc/self/clear_refs), and the clock covers only `convert(...)` + `.save(prefix)`, or
only `torch.save(state_dict)`.  Peak RSS / weight bytes = (VmHWM after the step - base) / the bytes of
the state_dict: the model's own weights count 1.0, so 1.0 means no copy at all.  The convert side
also reports its split: torch.export, the rest of `convert`, `save`.

Each run also records the CPU seconds of its step (user + system, `time.process_time`), and the
table gives their ratio next to the wall-clock one: on this shared 2-core machine other processes
stretch wall time (a load average of 7 doubled torch.export's 0.6 s), while CPU seconds stay put.
Both steps are single-threaded in effect (torch.export and the writer are Python; torch.save
pickles and writes), so on an idle machine the two ratios agree.

Before each measurement the parent calls `os.sync()`: otherwise the previous run's dirty pages
(half a gigabyte for VGG16) throttle the next writer, whichever side it is.

Targets (issue 22): peak RSS / weight bytes <= 1.3 and convert + save <= 1.5 x torch.save, warm.
`--profile MODEL` runs one conversion under cProfile in-process, after the same warm-up as a
measurement (so imports and torch.export's first use are not in it), and prints the top entries.

`--floor MODEL` measures what no change to purecaffe can go below: torch.export of the model alone
(as `capture` calls it: non-strict, under no_grad, warm), next to torch.save, in fresh processes,
medians of `--repeats`; `torch.fx.symbolic_trace` and `torch.jit.trace` are printed as reference
points (other capture mechanisms, not used by purecaffe: no ATen ops, no module stack, no
functionalization in the first; a real forward pass in the second).

`--legalization` measures, in one process, each target's share of a conversion: the median
of `convert(..., target=T)` next to the median time spent in its target stage's legalization
and checks (`targets.legalize`, `targets.findings`), for every target side by side (target:
legalization adds <= 10% to conversion time).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

RSS_PER_WEIGHT_BYTE = 1.3
TIME_RATIO = 1.5


# --------------------------------------------------------------------------- models

def torchvision_model(name: str) -> nn.Module:
    try:
        import torchvision
    except ImportError:
        raise SystemExit("bench_convert needs torchvision for vgg16 and resnet50 (pip install torchvision)") from None
    return getattr(torchvision.models, name)(weights=None)


class MobileBlock(nn.Module):
    """Inverted residual with the activations targets rewrite: ReLU6, Hardswish, SiLU, an SE gate."""

    def __init__(self, channels: int, act: type[nn.Module]) -> None:
        super().__init__()
        hidden = channels * 4
        self.expand = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), act())
        self.depthwise = nn.Sequential(nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden, bias=False),
                                       nn.BatchNorm2d(hidden), act())
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(hidden, hidden // 4, 1), nn.ReLU(),
                                  nn.Conv2d(hidden // 4, hidden, 1), nn.Hardsigmoid())
        self.project = nn.Sequential(nn.Conv2d(hidden, channels, 1, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.depthwise(self.expand(x))
        return x + self.project(y * self.gate(y))


class MobileNetStyle(nn.Module):
    """A MobileNetV2/V3-style stack whose layers every target legalizes differently (floor pooling too)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.Hardswish()]
        for stage, act in enumerate((nn.ReLU6, nn.Hardswish, nn.SiLU, nn.ReLU6)):
            layers += [MobileBlock(32, act), MobileBlock(32, act), nn.MaxPool2d(3, 2)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


MODELS = {"mobilenet": MobileNetStyle, "vgg16": lambda: torchvision_model("vgg16"),
          "resnet50": lambda: torchvision_model("resnet50")}


def build(name: str) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    return model, (torch.randn(1, 3, 224, 224),)


# --------------------------------------------------------------------------- one measurement

def _memory() -> tuple[int, int]:
    """(peak RSS since the last reset, RSS) of this process, in bytes."""
    with open("/proc/self/status", encoding="ascii") as handle:
        status = dict(line.split(":", 1) for line in handle)
    return int(status["VmHWM"].split()[0]) * 1024, int(status["VmRSS"].split()[0]) * 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")


def convert_and_save(model: nn.Module, inputs: tuple[torch.Tensor, ...], prefix: Path, name: str,
                     split: dict[str, float]) -> None:
    import purecaffe

    export = torch.export.export

    def timed_export(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return export(*args, **kwargs)
        finally:
            split["export_s"] = split.get("export_s", 0.0) + time.perf_counter() - start

    torch.export.export = timed_export
    try:
        start = time.perf_counter()
        net = purecaffe.convert(model, inputs, name=name)
        split["convert_s"] = time.perf_counter() - start
    finally:
        torch.export.export = export
    start = time.perf_counter()
    net.save(prefix)
    split["save_s"] = time.perf_counter() - start


def _step(kind: str, model: nn.Module, inputs: tuple[torch.Tensor, ...], folder: Path, name: str,
          split: dict[str, float]) -> None:
    if kind == "convert":
        convert_and_save(model, inputs, folder / name, name, split)
    elif kind == "torch_save":
        torch.save(model.state_dict(), folder / f"{name}.pt")
    elif kind == "export":  # as purecaffe.converter.capture calls it
        with torch.no_grad():
            torch.export.export(model, inputs, strict=False)
    elif kind == "fx_symbolic_trace":
        torch.fx.symbolic_trace(model)
    elif kind == "jit_trace":
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # its deprecation notice
            torch.jit.trace(model, inputs, check_trace=False)
    else:
        raise SystemExit(f"unknown step {kind}")


def _warm_up(kind: str, folder: Path) -> None:
    """The measured step once on a tiny net: first-use costs (lazy imports, dispatcher caches) are paid."""
    tiny = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2))
    _step(kind, tiny.eval(), (torch.randn(1, 3, 3, 3),), folder, "warmup", {})


def child(kind: str, name: str, cold: bool = False) -> dict:
    """Runs inside the child process: imports, warm-up, build, one timed step; seconds and memory."""
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    import purecaffe.converter  # noqa: F401  (import cost is not part of the measurement)
    for module in ("torch._dynamo", "torch.export._trace", "torchvision"):
        importlib.import_module(module)
    if not cold:
        with tempfile.TemporaryDirectory() as tmp:
            _warm_up(kind, Path(tmp))
    gc.collect()
    _, base = _memory()
    model, inputs = build(name)
    weight_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    gc.collect()
    _reset_peak()
    split: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu_start = time.perf_counter(), time.process_time()
        _step(kind, model, inputs, Path(tmp), name, split)
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
        peak, _ = _memory()
        written = sum(p.stat().st_size for p in Path(tmp).iterdir())
    return {"kind": kind, "model": name, "seconds": seconds, "cpu_s": cpu_s,
            "rss_per_weight_byte": (peak - base) / weight_bytes,
            "peak_mb": peak / 2**20, "base_mb": base / 2**20, "weight_bytes": weight_bytes, "written": written,
            **split}


def measure(kind: str, name: str, cold: bool = False) -> dict:
    # Flush the previous run's 0.5 GB of dirty pages first, or the kernel's writeback throttling
    # charges them to whichever measurement comes next.
    os.sync()
    command = [sys.executable, __file__, "--child", kind, name] + (["--cold"] if cold else [])
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} {name} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def profile(name: str, top: int) -> None:
    import cProfile
    import pstats

    import purecaffe.converter  # noqa: F401
    with tempfile.TemporaryDirectory() as tmp:
        _warm_up("convert", Path(tmp))
        model, inputs = build(name)
        profiler = cProfile.Profile()
        profiler.enable()
        convert_and_save(model, inputs, Path(tmp) / name, name, {})
        profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative")
    stats.print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


FLOOR_STEPS = ("torch_save", "export", "fx_symbolic_trace", "jit_trace")


def floor(name: str, repeats: int) -> list[str]:
    """torch.export of `name` alone next to torch.save (and two reference captures), fresh processes."""
    runs: dict[str, list[dict]] = {kind: [] for kind in FLOOR_STEPS}
    for _ in range(repeats):
        for kind in FLOOR_STEPS:
            runs[kind].append(measure(kind, name))
    saved_s, saved_cpu = _median(runs["torch_save"], "seconds"), _median(runs["torch_save"], "cpu_s")
    lines = [f"{name}: medians of {repeats}, each run a fresh process, warm (the step once on a tiny net first)",
             "| step | wall s | / torch.save | CPU s | / torch.save | runs (wall s) |", "|---|---|---|---|---|---|"]
    for kind, rs in runs.items():
        wall, cpu = _median(rs, "seconds"), _median(rs, "cpu_s")
        label = {"export": "torch.export (non-strict, no_grad)", "fx_symbolic_trace": "torch.fx.symbolic_trace "
                 "(reference only)", "jit_trace": "torch.jit.trace, check_trace=False (reference only)"}.get(kind, kind)
        lines.append(f"| {label} | {wall:.3f} | {wall / saved_s:.2f}x | {cpu:.3f} | {cpu / saved_cpu:.2f}x | "
                     f"{', '.join(format(r['seconds'], '.3f') for r in rs)} |")
    export_cpu = _median(runs["export"], "cpu_s")
    lines.append(f"{name}: torch.export alone is {export_cpu / saved_cpu:.2f}x torch.save in CPU seconds "
                 f"({_median(runs['export'], 'seconds') / saved_s:.2f}x wall); the target for convert + save is "
                 f"<= {TIME_RATIO}x")
    return lines


LEGALIZATION_SHARE = 0.10


def legalization(names: list[str], repeats: int) -> bool:
    """Per model and target: median convert time, median time in legalize + findings, their share."""
    import time

    import purecaffe
    import purecaffe.targets as targets_module
    from purecaffe.targets import TARGETS

    spent: list[float] = [0.0]

    def timed(fn):  # noqa: ANN001, ANN202 - wraps a target-stage function
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[-1] += time.perf_counter() - start
        return wrapper

    targets_module.legalize = timed(targets_module.legalize)
    targets_module.findings = timed(targets_module.findings)
    ok = True
    for name in names:
        model, inputs = build(name)
        purecaffe.convert(model, inputs)  # warm: torch.export's first-use imports
        for target in TARGETS:
            totals, stage = [], []
            for _ in range(repeats):
                spent.append(0.0)
                start = time.perf_counter()
                purecaffe.convert(model, inputs, target=target)
                totals.append(time.perf_counter() - start)
                stage.append(spent[-1])
            total, legal = statistics.median(totals), statistics.median(stage)
            share = legal / total
            ok &= share <= LEGALIZATION_SHARE
            print(f"{name} -> {target}: convert {total:.3f} s, legalization + checks {legal * 1000:.1f} ms "
                  f"({100 * share:.1f}% of the conversion; target <= {100 * LEGALIZATION_SHARE:.0f}%) | medians of "
                  f"{repeats}")
    return ok


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r.get(key, 0.0) for r in runs)


def compare(name: str, repeats: int, cold: bool) -> dict:
    """Both sides `repeats` times, alternating; their medians and the two ratios."""
    runs: dict[str, list[dict]] = {"torch_save": [], "convert": []}
    for _ in range(repeats):
        runs["torch_save"].append(measure("torch_save", name, cold))
        runs["convert"].append(measure("convert", name, cold))
    row = {kind: {"median_s": _median(rs, "seconds"), "runs_s": [round(r["seconds"], 4) for r in rs],
                  "median_cpu_s": _median(rs, "cpu_s"),
                  "rss_per_weight_byte": _median(rs, "rss_per_weight_byte"),
                  "max_rss_per_weight_byte": max(r["rss_per_weight_byte"] for r in rs),
                  "written": rs[0]["written"]} for kind, rs in runs.items()}
    for key in ("export_s", "convert_s", "save_s"):
        row["convert"][key] = _median(runs["convert"], key)
    row["weight_bytes"] = runs["convert"][0]["weight_bytes"]
    row["time_ratio"] = row["convert"]["median_s"] / row["torch_save"]["median_s"]
    row["cpu_ratio"] = row["convert"]["median_cpu_s"] / row["torch_save"]["median_cpu_s"]
    row["save_ratio"] = row["convert"]["save_s"] / row["torch_save"]["median_s"]
    return row


def table(report: dict[str, dict], repeats: int, cold: bool) -> list[str]:
    lines = [f"medians of {repeats}, each run a fresh process{' (cold: no warm-up)' if cold else ' (warm)'}; "
             f"RSS / weight bytes = (peak RSS of the step - RSS before the model was built) / state_dict bytes",
             "| model | weights | convert+save | (torch.export / rest of convert / save) | torch.save | time ratio "
             "| CPU s: convert+save / torch.save (ratio) | save alone / torch.save | RSS/weights convert+save (max) "
             "| RSS/weights torch.save |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in report.items():
        convert, saved = row["convert"], row["torch_save"]
        lines.append(
            f"| {name} | {row['weight_bytes'] / 1e6:.0f} MB | {convert['median_s']:.3f} s | "
            f"{convert['export_s']:.3f} / {convert['convert_s'] - convert['export_s']:.3f} / {convert['save_s']:.3f} s | "
            f"{saved['median_s']:.3f} s | {row['time_ratio']:.2f}x | "
            f"{convert['median_cpu_s']:.3f} / {saved['median_cpu_s']:.3f} s ({row['cpu_ratio']:.2f}x) | "
            f"{row['save_ratio']:.2f}x | "
            f"{convert['rss_per_weight_byte']:.3f} ({convert['max_rss_per_weight_byte']:.3f}) | "
            f"{saved['rss_per_weight_byte']:.3f} |")
    return lines


def verdicts(report: dict[str, dict]) -> tuple[list[str], bool]:
    lines, failed = [], False
    for name, row in report.items():
        rss_ok = row["convert"]["rss_per_weight_byte"] <= RSS_PER_WEIGHT_BYTE
        time_ok = row["time_ratio"] <= TIME_RATIO
        failed |= not (rss_ok and time_ok)
        lines.append(f"{name}: RSS/weights {row['convert']['rss_per_weight_byte']:.3f} "
                     f"{'ok' if rss_ok else 'MISSED'} (<= {RSS_PER_WEIGHT_BYTE}); convert+save / torch.save "
                     f"{row['time_ratio']:.2f}x {'ok' if time_ok else 'MISSED'} (<= {TIME_RATIO}x; "
                     f"CPU seconds {row['cpu_ratio']:.2f}x)")
    return lines, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="vgg16,resnet50")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", metavar="MODEL", help="cProfile one conversion of MODEL and exit")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--floor", metavar="MODEL",
                        help="torch.export of MODEL alone (and reference captures) next to torch.save, and exit")
    parser.add_argument("--cold", action="store_true",
                        help="no warm-up: count torch.export's first-use costs in the conversion time")
    parser.add_argument("--legalization", action="store_true",
                        help="each target's legalization + checks as a share of the conversion time")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.legalization:
        return 0 if legalization(args.models.split(","), args.repeats) else 1
    if args.child:
        print(json.dumps(child(*args.child, cold=args.cold)))
        return 0
    if args.profile:
        profile(args.profile, args.top)
        return 0
    if args.floor:
        print("\n".join(floor(args.floor, args.repeats)))
        return 0
    report = {name: compare(name, args.repeats, args.cold) for name in args.models.split(",")}
    lines, failed = verdicts(report)
    print("\n".join(table(report, args.repeats, args.cold) + lines))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
