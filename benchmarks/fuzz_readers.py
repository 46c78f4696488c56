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
import mmap
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def worker(reader_name: str, seed: int, start: int, stop: int, progress_path: str) -> None:
    """Run inputs start..stop-1, writing the current index into `progress_path` (8 bytes, mmap'd).

    stdout carries only crash reports (one JSON line each) and the final counts.
    """
    warnings.simplefilter("ignore")
    import fuzzing

    reader = fuzzing.BY_NAME[reader_name]
    with open(progress_path, "r+b") as handle, tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        progress = mmap.mmap(handle.fileno(), 8)
        seed_bytes = reader.seed(Path(folder))
        fuzzing.try_input(reader, Path(folder) / f"seed{reader.suffix}", seed_bytes, -1)  # imports, caches
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        target = Path(folder) / f"input{reader.suffix}"
        largest = 0
        counts: collections.Counter[str] = collections.Counter()
        for index in range(start, stop):
            progress[:8] = index.to_bytes(8, "little")
            data = fuzzing.mutated_input(seed_bytes, reader_name, seed, index)
            largest = max(largest, len(data))
            verdict = fuzzing.try_input(reader, target, data, index)
            counts[verdict.outcome] += 1
            if verdict.outcome == "crash":
                print(json.dumps({"crash": index, "detail": verdict.detail}), flush=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"done": dict(counts), "baseline": baseline, "peak": peak, "largest": largest}), flush=True)


def fuzz_reader(reader_name: str, seed: int, count: int, timeout: float) -> dict:
    outcomes: collections.Counter[str] = collections.Counter()
    crashes: list[dict] = []
    hangs: list[int] = []
    peaks: list[int] = []
    baselines: list[int] = []
    largest = 0
    next_index = 0
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with tempfile.NamedTemporaryFile(prefix="fuzz-progress-") as progress_file:
        progress_file.write(b"\xff" * 8)
        progress_file.flush()
        progress = mmap.mmap(progress_file.fileno(), 8)
        while next_index < count:
            progress[:8] = b"\xff" * 8
            command = [sys.executable, __file__, "--worker", reader_name, "--seed", str(seed), "--start",
                       str(next_index), "--stop", str(count), "--progress", progress_file.name]
            process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
            assert process.stdout is not None
            lines: list[str] = []
            last_index, last_change = -1, time.monotonic()
            while True:
                ready, _, _ = select.select([process.stdout], [], [], 0.5)
                if ready:
                    line = process.stdout.readline()
                    if not line:
                        break
                    lines.append(line)
                    continue
                index = int.from_bytes(progress[:8], "little")
                now = time.monotonic()
                if index != last_index:
                    last_index, last_change = index, now
                elif index != 2**64 - 1 and now - last_change > timeout:
                    process.kill()
                    break
            status = process.wait()
            done = None
            for line in lines:
                record = json.loads(line)
                if "crash" in record:
                    crashes.append({"i": record["crash"], "detail": record["detail"]})
                else:
                    done = record
            if done is not None:
                outcomes.update(done["done"])
                baselines.append(done["baseline"])
                peaks.append(done["peak"])
                largest = max(largest, done["largest"])
                next_index = count
                continue
            index = int.from_bytes(progress[:8], "little")
            if index == 2**64 - 1:
                raise RuntimeError(f"{reader_name}: the worker exited with {status} before any input")
            # Killed as a hang, or died (the interpreter itself crashed): record that input, resume after it.
            # The inputs before it ran without a Python-level crash (those were reported as they happened).
            if status == -signal.SIGKILL:
                hangs.append(index)
            else:
                crashes.append({"i": index, "detail": f"worker died with status {status}"})
            outcomes["no_crash_before_restart"] += index - next_index
            next_index = index + 1
    return {"reader": reader_name, "inputs": sum(outcomes.values()) + len(hangs) + len(crashes),
            "outcomes": dict(outcomes), "crashes": len(crashes), "hangs": len(hangs),
            "crash_examples": crashes[:10], "hang_inputs": hangs[:10],
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
    parser.add_argument("--progress", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.seed, args.start, args.stop, args.progress)
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
