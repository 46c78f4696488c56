"""Fuzz every file reader offline: 100,000+ mutated inputs each, reporting crashes, hangs and peak RSS.

    PYTHONPATH=. python benchmarks/fuzz_readers.py --inputs 100000 [--readers pth npz] [--seed 0] [--json out.json]

Each reader runs in its own worker process (the same mutation engine as the CI
test, `tests/fuzzing.py`; input i of a reader is a pure function of the seed,
the reader and i).  The parent watches the worker's progress: an input that takes
longer than `--timeout` seconds (default 5) is a hang; the worker is killed and a
fresh one resumes after it.  A crash is any exception that is not a
PurecaffeError.  Peak RSS is the worker's high-water mark (`ru_maxrss`), next to
its RSS after imports and seed files, and the largest input it read.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import select
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def worker(reader_name: str, seed: int, start: int, stop: int) -> None:
    """Run inputs start..stop-1; one line per input on stdout: 'i outcome', crash details as JSON."""
    warnings.simplefilter("ignore")
    import fuzzing

    reader = fuzzing.BY_NAME[reader_name]
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        seed_bytes = reader.seed(Path(folder))
        fuzzing.try_input(reader, Path(folder) / f"seed{reader.suffix}", seed_bytes, -1)  # imports, caches
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"baseline {baseline} {len(seed_bytes)}", flush=True)
        target = Path(folder) / f"input{reader.suffix}"
        largest = 0
        for index in range(start, stop):
            data = fuzzing.mutated_input(seed_bytes, reader_name, seed, index)
            largest = max(largest, len(data))
            print(f"start {index}", flush=True)
            verdict = fuzzing.try_input(reader, target, data, index)
            print(json.dumps({"i": index, "outcome": verdict.outcome, "detail": verdict.detail}), flush=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"done {peak} {largest}", flush=True)


def fuzz_reader(reader_name: str, seed: int, count: int, timeout: float) -> dict:
    outcomes: collections.Counter[str] = collections.Counter()
    crashes: list[dict] = []
    hangs: list[int] = []
    peaks: list[int] = []
    baselines: list[int] = []
    largest = 0
    next_index = 0
    started = time.monotonic()
    while next_index < count:
        command = [sys.executable, __file__, "--worker", reader_name, "--seed", str(seed),
                   "--start", str(next_index), "--stop", str(count)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1,
                                   env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"})
        assert process.stdout is not None
        current = None
        while True:
            ready, _, _ = select.select([process.stdout], [], [], timeout if current is not None else 120)
            if not ready:
                if current is None:
                    raise RuntimeError(f"{reader_name}: the worker did not start")
                process.kill()
                process.wait()
                hangs.append(current)
                next_index = current + 1
                break
            line = process.stdout.readline()
            if not line:  # the worker died (a crash of the interpreter itself counts as a crash)
                status = process.wait()
                if current is not None:
                    crashes.append({"i": current, "detail": f"worker died with status {status}"})
                    outcomes["crash"] += 1
                    next_index = current + 1
                else:
                    raise RuntimeError(f"{reader_name}: worker exited with {status} before any input")
                break
            kind, _, rest = line.partition(" ")
            if kind == "baseline":
                baselines.append(int(rest.split()[0]))
            elif kind == "start":
                current = int(rest)
            elif kind == "done":
                peak, big = rest.split()
                peaks.append(int(peak))
                largest = max(largest, int(big))
                process.wait()
                next_index = count
                break
            else:
                verdict = json.loads(line)
                outcomes[verdict["outcome"]] += 1
                if verdict["outcome"] == "crash":
                    crashes.append({"i": verdict["i"], "detail": verdict["detail"]})
                current = None
    return {"reader": reader_name, "inputs": sum(outcomes.values()) + len(hangs), "outcomes": dict(outcomes),
            "crashes": len(crashes), "hangs": len(hangs), "crash_examples": crashes[:10], "hang_inputs": hangs[:10],
            "baseline_rss_mb": round(max(baselines) / 1024, 1) if baselines else None,
            "peak_rss_mb": round(max(peaks) / 1024, 1) if peaks else None,
            "largest_input_bytes": largest, "seconds": round(time.monotonic() - started, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per reader (default 100000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per input before it is a hang")
    parser.add_argument("--readers", nargs="*", help="reader names (default: all)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.seed, args.start, args.stop)
        return 0
    import fuzzing

    names = args.readers or [reader.name for reader in fuzzing.READERS]
    results = []
    print(f"{'reader':<14} {'inputs':>8} {'parsed':>7} {'refused':>8} {'crashes':>7} {'hangs':>5} "
          f"{'base RSS':>9} {'peak RSS':>9} {'largest in':>10} {'seconds':>8}")
    for name in names:
        result = fuzz_reader(name, args.seed, args.inputs, args.timeout)
        results.append(result)
        outcomes = result["outcomes"]
        print(f"{name:<14} {result['inputs']:>8} {outcomes.get('parsed', 0):>7} {outcomes.get('refused', 0):>8} "
              f"{result['crashes']:>7} {result['hangs']:>5} {result['baseline_rss_mb']:>7} MB "
              f"{result['peak_rss_mb']:>6} MB {result['largest_input_bytes']:>9}B {result['seconds']:>8}", flush=True)
        for crash in result["crash_examples"]:
            print(f"    crash at input {crash['i']}: {crash['detail']}")
        for hang in result["hang_inputs"]:
            print(f"    hang at input {hang}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 1 if any(r["crashes"] or r["hangs"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
