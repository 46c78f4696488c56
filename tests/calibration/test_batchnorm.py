"""BatchNorm statistics from data: each BatchNorm ends with the mean and variance of what reaches it."""
from __future__ import annotations

import torch
from torch import nn

import pytest

from purecaffe.calibration import fit_batchnorm_statistics
from purecaffe.errors import PurecaffeError


def test_statistics_are_those_of_the_data() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.ReLU(), nn.Conv2d(4, 2, 1),
                          nn.BatchNorm2d(2, momentum=0.3))
    batches = [torch.randn(4, 3, 8, 8) * 3 + 1 for _ in range(3)]
    weights = [p.clone() for p in model.parameters()]
    assert fit_batchnorm_statistics(model, batches) == 2
    assert not model.training and not any(m.training for m in model.modules())
    assert model[5].momentum == 0.3 and model[1].momentum == 0.1  # restored
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    features = torch.cat([model[0](b) for b in batches])  # equal-size batches: the cumulative mean is exact
    dims = (0, 2, 3)
    # float32 sums over 4 x 36 x 3 values: 1e-5 covers the rounding of the running averages
    torch.testing.assert_close(model[1].running_mean, features.mean(dims), rtol=1e-5, atol=1e-5)
    per_batch_var = torch.stack([model[0](b).var(dims, unbiased=True) for b in batches]).mean(0)
    torch.testing.assert_close(model[1].running_var, per_batch_var, rtol=1e-5, atol=1e-5)
    # dropout stayed in eval mode during the passes: the second BatchNorm saw deterministic inputs
    before = model[5].running_mean.clone()
    fit_batchnorm_statistics(model, batches)
    torch.testing.assert_close(model[5].running_mean, before)


def test_tuple_batches_and_no_batchnorm() -> None:
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bn = nn.BatchNorm1d(3)

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return self.bn(a + b)

    model = Two()
    fit_batchnorm_statistics(model, [(torch.ones(2, 3), torch.ones(2, 3))])
    torch.testing.assert_close(model.bn.running_mean, torch.full((3,), 2.0))
    assert fit_batchnorm_statistics(nn.Linear(2, 2).train(), []) == 0


def test_no_batches_is_an_error() -> None:
    with pytest.raises(PurecaffeError, match="no batches to take BatchNorm statistics from"):
        fit_batchnorm_statistics(nn.BatchNorm2d(2), [])
