"""The architecture sweep's UNSTABLE-REFERENCE class (`benchmarks/sweep/judge.py`): a float32 consumer's miss
counts as the model's own instability only when PyTorch's output moves at least as far under one-ulp input noise."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from sweep.judge import compare, within_instability  # noqa: E402
from purecaffe.targets.judges import FLOAT32  # noqa: E402

TORCH = np.linspace(-1.0, 1.0, 64, dtype=np.float32).reshape(1, 64)


def _moved(amount: float) -> np.ndarray:
    moved = TORCH.copy()
    moved[0, 3] += amount  # one value written elsewhere, as a flipped argmax before max_unpool2d does
    return moved


@pytest.mark.parametrize("consumer, noisy, unstable", [
    (1e-2, (0.2, 0.25, 0.18), True),     # ENet: PyTorch itself moves 0.18-0.25 (measured)
    (1e-2, (0.0, 0.0, 0.0), False),      # a stable model: the miss is the consumer's
    (0.3, (0.2, 0.25, 0.18), False),     # farther off than PyTorch ever moves
], ids=["within", "stable_model", "beyond"])
def test_a_miss_is_instability_only_within_torchs_own_movement(consumer: float, noisy: tuple[float, ...],
                                                               unstable: bool) -> None:
    ours = [compare(0, TORCH, _moved(consumer), FLOAT32)]
    assert not ours[0].passed
    runs = [[compare(0, TORCH, _moved(amount), FLOAT32)] for amount in noisy]
    assert within_instability(ours, runs) is unstable


def test_a_size_difference_is_never_instability() -> None:
    ours = [compare(0, TORCH, TORCH[:, :32], FLOAT32)]
    runs = [[compare(0, TORCH, _moved(1.0), FLOAT32)]]
    assert not within_instability(ours, runs)
    assert not within_instability([compare(0, TORCH, _moved(1e-2), FLOAT32)], [])
