"""Caffemodel writer/reader vs np.savez/np.load on a VGG16-sized weight set.

138,357,544 float32 values in VGG16's layer shapes.  Every measurement runs in a
fresh subprocess, so its peak RSS (ru_maxrss) is its own; the variants alternate
and the script prints medians over --repeats runs, measured side by side in one
run.  Peak RSS is reported as a multiple of the weight bytes (the weights
themselves are 1.0x: a process must hold them to write them).

    python benchmarks/bench_io.py [--repeats 5] [--dir /tmp/bench_io]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VGG16_SHAPES: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = [
    ("conv1_1", (64, 3, 3, 3), (64,)), ("conv1_2", (64, 64, 3, 3), (64,)),
    ("conv2_1", (128, 64, 3, 3), (128,)), ("conv2_2", (128, 128, 3, 3), (128,)),
    ("conv3_1", (256, 128, 3, 3), (256,)), ("conv3_2", (256, 256, 3, 3), (256,)),
    ("conv3_3", (256, 256, 3, 3), (256,)), ("conv4_1", (512, 256, 3, 3), (512,)),
    ("conv4_2", (512, 512, 3, 3), (512,)), ("conv4_3", (512, 512, 3, 3), (512,)),
    ("conv5_1", (512, 512, 3, 3), (512,)), ("conv5_2", (512, 512, 3, 3), (512,)),
    ("conv5_3", (512, 512, 3, 3), (512,)), ("fc6", (4096, 25088), (4096,)),
    ("fc7", (4096, 4096), (4096,)), ("fc8", (1000, 4096), (1000,)),
]
N_FLOATS = sum(int(np.prod(w)) + int(np.prod(b)) for _, w, b in VGG16_SHAPES)
WEIGHT_BYTES = 4 * N_FLOATS


def make_weights() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    return {name: [rng.standard_normal(w, dtype=np.float32), rng.standard_normal(b, dtype=np.float32)]
            for name, w, b in VGG16_SHAPES}


def write_with_protobuf(path: Path, weights: dict[str, list[np.ndarray]]) -> None:
    """How older converters write: the whole NetParameter in memory, blob.data.extend(), one serialize."""
    schema = purecaffe.load_schema()
    net = schema.NetParameter(name="vgg16")
    for name, blobs in weights.items():
        layer = net.layer.add(name=name)
        for array in blobs:
            blob = layer.blobs.add()
            blob.shape.dim.extend(array.shape)
            blob.data.extend(array.ravel())
    path.write_bytes(net.SerializeToString())


def child(operation: str, folder: Path) -> dict[str, float]:
    """One measurement in this (fresh) process: returns seconds and peak RSS bytes."""
    global purecaffe
    import purecaffe  # imported before timing, as a user's program would

    caffemodel, npz = folder / "vgg16.caffemodel", folder / "vgg16.npz"
    if operation.startswith("write"):
        weights = make_weights()
        target = caffemodel if operation == "write-caffemodel" else npz
        target.unlink(missing_ok=True)  # both writers create a new file; deleting is not timed
        start = time.perf_counter()
        if operation == "write-caffemodel":
            purecaffe.save_weights(caffemodel, weights)
        elif operation == "write-protobuf":
            write_with_protobuf(folder / "vgg16-protobuf.caffemodel", weights)
        else:
            np.savez(npz, **{f"{name}:{i}": blob for name, blobs in weights.items() for i, blob in enumerate(blobs)})
        seconds = time.perf_counter() - start
    else:
        start = time.perf_counter()
        if operation == "read-caffemodel":
            loaded = purecaffe.load_weights(caffemodel)
            total = sum(blob.size for blobs in loaded.values() for blob in blobs)
        else:
            with np.load(npz) as archive:
                loaded = {key: archive[key] for key in archive.files}
            total = sum(blob.size for blob in loaded.values())
        seconds = time.perf_counter() - start
        assert total == N_FLOATS, total
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak_rss": peak}


def baseline_rss() -> int:
    code = "import resource, numpy, purecaffe; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)"
    return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


def measure(operation: str, folder: Path) -> dict[str, float]:
    result = subprocess.run([sys.executable, __file__, "--child", operation, "--dir", str(folder)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--with-protobuf", action="store_true",
                        help="also time a plain-protobuf writer (blob.data.extend), once: slow, ~5 GB RSS")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.dir)))
        return
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench_io-"))
    folder.mkdir(parents=True, exist_ok=True)
    operations = ["write-caffemodel", "write-npz", "read-caffemodel", "read-npz"]
    runs: dict[str, list[dict[str, float]]] = {op: [] for op in operations}
    for _ in range(args.repeats):
        for operation in operations:  # alternate so machine noise hits every variant alike
            runs[operation].append(measure(operation, folder))
    if args.with_protobuf:
        operations.append("write-protobuf")
        runs["write-protobuf"] = [measure("write-protobuf", folder)]
    base = baseline_rss()

    def median(op: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[op])

    print(f"VGG16-sized weights: {N_FLOATS:,} float32 = {WEIGHT_BYTES / 2**20:.0f} MiB; "
          f"caffemodel {(folder / 'vgg16.caffemodel').stat().st_size / 2**20:.0f} MiB; "
          f"medians of {args.repeats} runs; interpreter+imports baseline RSS {base / 2**20:.0f} MiB")
    print(f"{'operation':<18}{'seconds':>9}{'peak RSS MiB':>14}{'RSS / weights':>15}")
    for op in operations:
        print(f"{op:<18}{median(op, 'seconds'):>9.3f}{median(op, 'peak_rss') / 2**20:>14.0f}"
              f"{median(op, 'peak_rss') / WEIGHT_BYTES:>15.2f}")
    print(f"write time  caffemodel / np.savez = {median('write-caffemodel', 'seconds') / median('write-npz', 'seconds'):.2f}x"
          "  (target <= 1.3x)")
    print(f"read time   caffemodel / np.load  = {median('read-caffemodel', 'seconds') / median('read-npz', 'seconds'):.2f}x"
          "  (target <= 2x)")
    if args.with_protobuf:
        print(f"write time  plain protobuf / np.savez = "
              f"{median('write-protobuf', 'seconds') / median('write-npz', 'seconds'):.1f}x (1 run)")
    for op in ("write-caffemodel", "read-caffemodel"):
        print(f"peak RSS {op} = {median(op, 'peak_rss') / WEIGHT_BYTES:.2f}x weight bytes "
              f"({(median(op, 'peak_rss') - base) / WEIGHT_BYTES:.2f}x above the import baseline; target <= 1.25x)")


if __name__ == "__main__":
    main()
