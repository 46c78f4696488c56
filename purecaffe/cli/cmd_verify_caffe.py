"""`purecaffe verify-caffe PROTOTXT [CAFFEMODEL] --inputs X.npz`: run a net in real Caffe, layer by layer."""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from purecaffe.realcaffe import BACKEND_NAMES, CaffeRun, resolve_backend, run_real_caffe
from purecaffe.realcaffe.bundle import require_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify-caffe", help="run a net in real Caffe 1.0 (Docker or Debian rootfs) and show every layer",
        description="Run PROTOTXT (+ CAFFEMODEL) in real BVLC Caffe 1.0, TEST phase, CPU, one layer at a time, "
                    "and show each layer's tops (in-place layers included). Exit status 1 when Caffe refuses "
                    "the net (its own message is printed), 2 for a usage problem or no backend.")
    parser.add_argument("prototxt", metavar="PROTOTXT")
    parser.add_argument("caffemodel", metavar="CAFFEMODEL", nargs="?",
                        help="weights (omitted: Caffe's own fillers)")
    parser.add_argument("--inputs", metavar="X.npz",
                        help="net inputs: one array per input blob, named after it (np.savez(path, data=x)) or "
                             "in input order; omitted: the declared shapes, all zeros")
    parser.add_argument("--caffe-backend", choices=BACKEND_NAMES, default="auto",
                        help="docker (image caffe-verify), rootfs (debootstrap + chroot, root), "
                             "or auto: docker if an engine answers, else rootfs (default)")
    parser.add_argument("--rootfs-dir", metavar="DIR", help="the rootfs to use (default: the cached one)")
    parser.add_argument("--out", metavar="RESULT.npz", help="save every blob and per-layer snapshot here")
    parser.add_argument("--final-only", action="store_true",
                        help="keep only final blob values, not the per-layer snapshots of in-place blobs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require_file(args.prototxt, "prototxt")
    if args.caffemodel is not None:
        require_file(args.caffemodel, "caffemodel")
    inputs = None
    if args.inputs:
        from purecaffe.io.inputs_npz import read_inputs_npz
        from purecaffe.io.netspec import input_shapes
        from purecaffe.io.prototxt import read_net

        inputs = read_inputs_npz(args.inputs, list(input_shapes(read_net(args.prototxt), path=args.prototxt)))
    backend = resolve_backend(args.caffe_backend, rootfs_dir=args.rootfs_dir)
    result = run_real_caffe(args.prototxt, args.caffemodel, inputs, backend=backend,
                            snapshots=not args.final_only)
    if args.out and result.ok:
        result.save(args.out)
    print(json.dumps(_as_dict(result), indent=1) if args.json else _table(result, backend.describe()))
    if result.error is not None:
        first = result.error.splitlines()[0]
        print(f"purecaffe verify-caffe: real Caffe refused the net: {first[:200]}{'...' if len(first) > 200 else ''}",
              file=sys.stderr)
        return 1
    return 0


def _rows(result: CaffeRun) -> list[dict]:
    rows = []
    for layer in result.layers:
        for top in layer.tops:
            value = layer.outputs.get(top)
            row = {"index": layer.index, "layer": layer.name, "type": layer.type, "top": top,
                   "in_place": top in layer.bottoms,
                   "shape": list(result.blob_shapes.get(top, ()))}
            if value is not None and value.size:
                row.update(min=float(value.min()), max=float(value.max()), mean=float(value.mean(dtype=np.float64)))
            rows.append(row)
    return rows


def _as_dict(result: CaffeRun) -> dict:
    return {"ok": result.ok, "error": result.error, "backend": result.backend, "seconds": result.seconds,
            "inputs": list(result.inputs), "outputs": list(result.outputs), "layers": _rows(result),
            "param_shapes": {name: [list(s) for s in shapes] for name, shapes in result.param_shapes.items()}}


def _table(result: CaffeRun, where: str) -> str:
    if result.error is not None:
        return f"real Caffe ({where}) refused the net:\n" + "\n".join(f"  {line}" for line in result.error.splitlines())
    header = ("#", "layer", "type", "top", "shape", "min", "max", "mean")
    lines = [header]
    for row in _rows(result):
        numbers = [f"{row[k]:.6g}" if k in row else "-" for k in ("min", "max", "mean")]
        top = row["top"] + (" (in place)" if row["in_place"] else "")
        lines.append((str(row["index"]), row["layer"], row["type"], top, "x".join(map(str, row["shape"])), *numbers))
    widths = [min(max(len(line[i]) for line in lines), 40) for i in range(len(header))]
    out = [f"real Caffe ({where}): {len(result.layers)} layers, {result.seconds:.1f} s"]
    for line in lines:
        out.append("  ".join(cell.ljust(width) if i < 5 else cell.rjust(width)
                             for i, (cell, width) in enumerate(zip(line, widths))).rstrip())
    return "\n".join(out)
