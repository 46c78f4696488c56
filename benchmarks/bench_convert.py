"""How long `purecaffe.converter` + `save` takes next to `torch.save` of the same weights.

    python benchmarks/bench_convert.py [--repeats 5] [--models vgg16,resnet50] [--json out.json]

Every measurement runs in a fresh child process (this same file with `--child`), so its peak
RSS is that one job's alone: the child reports `resource.getrusage(RUSAGE_SELF).ru_maxrss`
right after the measured step, and the parent also reads `RUSAGE_CHILDREN` as a cross-check.
The model is built (random init, fixed seed, eval mode) before the clock starts; the clock
covers only `convert(...)` + `.save(prefix)`, or only `torch.save(state_dict)`.  The modules
`torch.export` pulls in on first use (torch._dynamo & co., ~1.5 s, once per process) are
imported before the clock too, unless `--cold-imports` asks for what a fresh CLI process pays.  Medians over
`--repeats` runs of each are printed side by side with their ratio.

Before each measurement the parent calls `os.sync()`: otherwise the previous run's dirty pages
(half a gigabyte for VGG16) throttle the next writer, whichever side it is.

Targets: VGG16 convert+save <= 2.5 x torch.save and peak RSS <= 2 GB; ResNet-50 convert+save
<= 2 s.  `--profile` runs one conversion under cProfile in-process and prints the top entries.

`--legalization` measures, in one process, each target's share of a conversion: the median
of `convert(..., target=T)` next to the median time spent in its target stage's legalization
and checks (`targets.legalize`, `targets.findings`), for every target side by side (target:
legalization adds <= 10% to conversion time).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

TARGETS = {"vgg16": {"ratio": 2.5, "rss_mb": 2048.0}, "resnet50": {"seconds": 2.0}}


# --------------------------------------------------------------------------- models

def vgg16(num_classes: int = 1000) -> nn.Module:
    """torchvision's VGG16 layout (138 M parameters, 528 MB of float32)."""
    layers: list[nn.Module] = []
    cin = 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            cin = int(v)
    return nn.Sequential(
        nn.Sequential(*layers), nn.Flatten(1),
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(),
        nn.Linear(4096, num_classes))


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class ResNet50(nn.Module):
    """torchvision's ResNet-50 layout (25.6 M parameters, 161 layers once BN is split)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], 64
        for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            stage = [Bottleneck(cin, width, stride)] + [Bottleneck(width * 4, width, 1) for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            cin = width * 4
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


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


MODELS = {"mobilenet": MobileNetStyle, "vgg16": vgg16, "resnet50": ResNet50}


def build(name: str) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    return model, (torch.randn(1, 3, 224, 224),)


# --------------------------------------------------------------------------- one measurement

def convert_and_save(model: nn.Module, inputs: tuple[torch.Tensor, ...], prefix: Path, name: str) -> None:
    import purecaffe

    purecaffe.convert(model, inputs, name=name).save(prefix)


def child(kind: str, name: str, cold_imports: bool = False) -> dict:
    """Runs inside the child process: build, time one step, report seconds and peak RSS."""
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model, inputs = build(name)
    if kind == "convert":
        import purecaffe.converter  # noqa: F401  (import cost is not part of the measurement)
        if not cold_imports:
            for module in ("torch._dynamo", "torch.export._trace"):
                importlib.import_module(module)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if kind == "convert":
            convert_and_save(model, inputs, Path(tmp) / name, name)
        else:
            torch.save(model.state_dict(), Path(tmp) / f"{name}.pt")
        seconds = time.perf_counter() - start
        sizes = sum(p.stat().st_size for p in Path(tmp).iterdir())
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"kind": kind, "model": name, "seconds": seconds, "peak_rss_mb": peak_kb / 1024, "bytes": sizes}


def measure(kind: str, name: str, cold_imports: bool = False) -> dict:
    # Flush the previous run's 0.5 GB of dirty pages first, or the kernel's writeback throttling
    # charges them to whichever measurement comes next.
    os.sync()
    command = [sys.executable, __file__, "--child", kind, name] + (["--cold-imports"] if cold_imports else [])
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} {name} failed:\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return result


def profile(name: str, top: int) -> None:
    import cProfile
    import pstats

    model, inputs = build(name)
    import purecaffe.converter  # noqa: F401
    with tempfile.TemporaryDirectory() as tmp:
        profiler = cProfile.Profile()
        profiler.enable()
        convert_and_save(model, inputs, Path(tmp) / name, name)
        profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative")
    stats.print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", default="vgg16,resnet50")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", metavar="MODEL", help="cProfile one conversion of MODEL and exit")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--cold-imports", action="store_true",
                        help="count the first import of torch.export's machinery in the conversion time")
    parser.add_argument("--legalization", action="store_true",
                        help="each target's legalization + checks as a share of the conversion time")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.legalization:
        return 0 if legalization(args.models.split(","), args.repeats) else 1
    if args.child:
        print(json.dumps(child(*args.child, cold_imports=args.cold_imports)))
        return 0
    if args.profile:
        profile(args.profile, args.top)
        return 0

    report: dict[str, dict] = {}
    failed = False
    for name in args.models.split(","):
        runs: dict[str, list[dict]] = {"torch_save": [], "convert": []}
        for _ in range(args.repeats):  # interleaved, so drift hits both sides alike
            runs["torch_save"].append(measure("torch_save", name))
            runs["convert"].append(measure("convert", name, args.cold_imports))
        row = {kind: {"median_s": statistics.median(r["seconds"] for r in rs),
                      "runs_s": [round(r["seconds"], 4) for r in rs],
                      "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                      "bytes": rs[0]["bytes"]} for kind, rs in runs.items()}
        row["ratio"] = row["convert"]["median_s"] / row["torch_save"]["median_s"]
        report[name] = row
        target = TARGETS.get(name, {})
        verdicts = []
        if "ratio" in target:
            ok = row["ratio"] <= target["ratio"]
            verdicts.append(f"ratio {'ok' if ok else 'MISSED'} (target <= {target['ratio']})")
            failed |= not ok
        if "rss_mb" in target:
            ok = row["convert"]["peak_rss_mb"] <= target["rss_mb"]
            verdicts.append(f"peak RSS {'ok' if ok else 'MISSED'} (target <= {target['rss_mb']:.0f} MB)")
            failed |= not ok
        if "seconds" in target:
            ok = row["convert"]["median_s"] <= target["seconds"]
            verdicts.append(f"time {'ok' if ok else 'MISSED'} (target <= {target['seconds']} s)")
            failed |= not ok
        print(f"{name}: convert+save {row['convert']['median_s']:.3f} s (peak RSS {row['convert']['peak_rss_mb']:.0f} MB, "
              f"{row['convert']['bytes'] / 1e6:.1f} MB written) | torch.save {row['torch_save']['median_s']:.3f} s "
              f"(peak RSS {row['torch_save']['peak_rss_mb']:.0f} MB, {row['torch_save']['bytes'] / 1e6:.1f} MB) | "
              f"ratio {row['ratio']:.2f} | medians of {args.repeats}"
              f"{' (cold imports)' if args.cold_imports else ''} | " + "; ".join(verdicts))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
