"""Measure the exact-GELU construction (`purecaffe/converter/lowerings/gelu.py`) on every float32 in a range.

    PYTHONPATH=$PWD python3 scripts/measure_gelu_error.py [--low 0] [--limit 16] [--stride 1]

Converts `nn.GELU()`, runs the prototxt in the runtime on every float32 bit pattern with low <= |x| <= limit
(every `stride`-th one), and prints the worst error against float64 erfc: in ulps of x, in ulps of the
result for x > 0 and for -4 <= x < 0, and the same for PyTorch's own GELU on the same inputs.
"""
from __future__ import annotations

import argparse
import math
import tempfile

import numpy as np
import torch

import purecaffe

CHUNK = 1 << 23


def _ulps(err: torch.Tensor, of: torch.Tensor) -> torch.Tensor:
    spacing = torch.from_numpy(np.spacing(np.abs(of.float().numpy())).astype(np.float64))
    return err / spacing


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--low", type=float, default=0.0)
    parser.add_argument("--limit", type=float, default=16.0)
    parser.add_argument("--stride", type=int, default=1)
    args = parser.parse_args()
    net = purecaffe.convert(torch.nn.GELU().eval(), (torch.randn(1, 1, 1, 8),))
    files = net.save(tempfile.mkdtemp(prefix="gelu-error-") + "/gelu")
    top = int(np.array([args.limit], dtype=np.float32).view(np.int32)[0])
    low = int(np.array([args.low], dtype=np.float32).view(np.int32)[0])
    worst: dict[str, tuple[float, float]] = {}

    def note(key: str, values: torch.Tensor, x: torch.Tensor) -> None:
        values = torch.nan_to_num(values, nan=float("inf"))
        if values.numel() and values.max().item() > worst.get(key, (-1.0, 0.0))[0]:
            worst[key] = (values.max().item(), x[values.argmax()].item())

    for sign in (1, -1):
        for start in range(low, top + 1, CHUNK * args.stride):
            bits = np.arange(start, min(start + CHUNK * args.stride, top + 1), args.stride, dtype=np.int64)
            x = torch.from_numpy((bits.astype(np.int32).view(np.float32) * np.float32(sign)).copy())
            result = purecaffe.run(str(files.prototxt), str(files.caffemodel),
                                   {net.input_names[0]: x.numpy().reshape(1, 1, 1, -1)}, keep_steps=False)
            ours = torch.from_numpy(result.blobs[net.output_names[0]].reshape(-1)).double()
            xd = x.double()
            exact = xd * 0.5 * torch.special.erfc(-xd / math.sqrt(2.0))
            for label, y in (("ours", ours), ("torch", torch.nn.functional.gelu(x).double())):
                err = (y - exact).abs()
                nonzero = x != 0
                note(f"{label} abs", err, x)
                note(f"{label} ulps of x", _ulps(err[nonzero], x[nonzero]), x[nonzero])
                part = (x > 0) if sign > 0 else (x < 0) & (x >= -4)
                if not part.any():
                    continue
                note(f"{label} ulps of result ({'x > 0' if sign > 0 else '-4 <= x < 0'})",
                     _ulps(err[part], exact[part]), x[part])
    for key in sorted(worst):
        print(f"{key}: {worst[key][0]:.4g} at x = {worst[key][1]!r}")


if __name__ == "__main__":
    main()
