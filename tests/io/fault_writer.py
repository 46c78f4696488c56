"""Run by tests/io/test_write_faults.py in a subprocess: convert a small or big net and save it.

    python fault_writer.py MODE PREFIX TAG [--kind small|deep|big] [--fsize BYTES]
                           [--wait-before-sidecar READY_FILE GO_FILE] [--wait-before-save GO_FILE]

MODE `save` is `ConvertedNet.save` as it is; `proposed` is the same three writers inside
`purecaffe.io.fileset.atomic_files` (the change proposed for `ConvertedNet.save`).  TAG
becomes the net's name, so each of the three files says which run wrote it.  Exit
status 2 with one line on stderr for a PurecaffeError, as the CLI does.
"""
from __future__ import annotations

import argparse
import resource
import signal
import sys
import time
from pathlib import Path

import torch
from torch import nn


def make_model(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "deep":  # many layers, tiny weights: the sidecar is the largest of the three files
        return nn.Sequential(nn.Conv2d(1, 1, 1), *[nn.Sigmoid() if i % 2 else nn.Tanh() for i in range(40)])
    if kind == "big":  # 2 x 4096 x 4096 float32: a 128 MiB caffemodel
        return nn.Sequential(nn.Flatten(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 4096))
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))


def example(kind: str) -> torch.Tensor:
    return torch.randn(1, 4096, 1, 1) if kind == "big" else torch.randn(1, 1, 6, 6)


def wait_for(path: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.02)


def proposed_save(net, prefix: str) -> None:  # noqa: ANN001 - a ConvertedNet
    """What `ConvertedNet.save` should do: the three writers inside one atomic_files commit."""
    import purecaffe.converter as converter
    from purecaffe.io.fileset import atomic_files
    from purecaffe.io.prototxt import write_net
    from purecaffe.io.sidecar import output_paths
    from purecaffe.io.weights import save_weights

    files = output_paths(prefix)
    with atomic_files(files.caffemodel, files.prototxt, files.sidecar) as (caffemodel, prototxt, sidecar):
        save_weights(caffemodel, {layer.name: net.weights.get(layer.name, []) for layer in net.net.layer},
                     net=net.net)
        write_net(net.net, prototxt)
        converter.write_sidecar(sidecar, net.sidecar())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("save", "proposed"))
    parser.add_argument("prefix")
    parser.add_argument("tag")
    parser.add_argument("--kind", default="small", choices=("small", "deep", "big"))
    parser.add_argument("--fsize", type=int)
    parser.add_argument("--wait-before-sidecar", nargs=2)
    parser.add_argument("--wait-before-save")
    args = parser.parse_args()

    import purecaffe.converter as converter
    from purecaffe.errors import PurecaffeError

    net = converter.convert(make_model(args.kind).eval(), (example(args.kind),), name=args.tag)
    if args.wait_before_sidecar:
        ready, go = args.wait_before_sidecar
        write_sidecar = converter.write_sidecar

        def paused_write_sidecar(path, data):  # noqa: ANN001, ANN202
            Path(ready).touch()
            wait_for(go)
            write_sidecar(path, data)

        converter.write_sidecar = paused_write_sidecar
    if args.wait_before_save:
        wait_for(args.wait_before_save)
    if args.fsize is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize, args.fsize))
    print("saving", flush=True)
    try:
        if args.mode == "save":
            net.save(args.prefix)
        else:
            proposed_save(net, args.prefix)
    except PurecaffeError as error:
        print(f"error: {error.one_line()}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
