"""timm's MobileOne-S0, re-parameterized as users export it, on RKNN's fp16 simulator (issue 23).

Measured: the non-finite outputs are fp16's range, not a layer RKNN reads differently.  With drawn
BatchNorm statistics the fused branches grow the activations to 1e5 by stages.1.6 and 8e14 at the
end (PyTorch's own fp16 run is non-finite too); RKNN's first inf is the first layer where PyTorch
passes 65504.  With statistics from data (peak ~18) RKNN lands where PyTorch's fp16 does (cosine
0.99981 vs 0.99978, max error 2.6e-2 vs 2.5e-2 of max|torch|, at 128 x 128): fp16 rounding over a
deep net, below the per-blob 0.9999 bound, while a misread layer gives 0.67-0.95 (targets.judges).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import purecaffe
from judge_nets import cosine, randomized
from purecaffe.parity.compare import FP16_MAX
from purecaffe.rknn import run_rknn

timm = pytest.importorskip("timm", reason="timm (an optional test extra) is not installed")
pytestmark = pytest.mark.rknn
SHAPE = (1, 3, 128, 128)


def _mobileone(statistics_from_data: bool) -> torch.nn.Module:
    from timm.utils.model import reparameterize_model

    torch.manual_seed(0)
    model = randomized(timm.create_model("mobileone_s0", pretrained=False))
    if statistics_from_data:  # one train-mode pass sets every BatchNorm's statistics (cumulative average)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None
        model.train()
        with torch.no_grad():
            model(torch.randn(2, *SHAPE[1:], generator=torch.Generator().manual_seed(9)))
    return reparameterize_model(model.eval(), inplace=True).eval()


def _errors(got: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """(1 - cosine, max error / max|torch|)."""
    return 1.0 - cosine(got, expected), float(np.abs(got - expected).max() / np.abs(expected).max())


def test_mobileone_on_rknn_is_as_close_as_torch_fp16(rknn_venv: Path, tmp_path: Path) -> None:
    model = _mobileone(statistics_from_data=True)
    x = torch.randn(*SHAPE, generator=torch.Generator().manual_seed(1))
    files = purecaffe.convert(model, (x,), target="rknn").save(tmp_path / "mobileone")
    run = run_rknn(files.prototxt, files.caffemodel, {"data": x.numpy()}, venv=rknn_venv, dump_layers=False)
    assert run.ok, run.error
    with torch.no_grad():
        expected = model(x).numpy()
        half = model.half()(x.half()).float().numpy()
    (got,) = run.outputs.values()
    assert np.isfinite(got).all()
    ours, torch16 = _errors(got, expected), _errors(half, expected)
    # fp16 rounding: within twice PyTorch's own fp16 error, in both measures (measured: 1.0x and 1.06x)
    assert ours[0] <= 2 * torch16[0] and ours[1] <= 2 * torch16[1], (ours, torch16)


def test_mobileone_overflow_is_named_as_fp16_range(rknn_venv: Path, tmp_path: Path) -> None:
    model = _mobileone(statistics_from_data=False)
    x = torch.randn(*SHAPE, generator=torch.Generator().manual_seed(1))
    converted = purecaffe.convert(model, (x,), target="rknn")
    report = purecaffe.verify(model, (x,), converted, backend="rknn")
    first = report.first_divergence
    assert first is not None and first.layer == "stages.1.6.reparam_conv", report.summary()
    assert first.scale > FP16_MAX and f"past fp16's largest value {FP16_MAX:g}" in first.note, first.note
    earlier = report.comparisons[:report.comparisons.index(first)]
    assert earlier and all(c.scale <= FP16_MAX for c in earlier)  # every layer before it stays in range
