"""LSTM -> Caffe's LSTM layer (gates reordered, biases summed, a constant cont Parameter per LSTM; reverse
directions by a time flip), GRU unrolled over time, and the refused recurrent cases with their reasons.

Tolerance: the default 1e-4 x scale.  Caffe's LSTM sums W_xc x + b_c + W_hc h in another order
than PyTorch's two GEMMs and two biases, and sigmoid/tanh round differently; over a few dozen
steps that stays near 1e-7 relative, while a wrong gate order or time direction is O(1).
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn


class Recurrent(nn.Module):
    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0] * 2.0


CASES: list[Case] = []
for label, kwargs, shape in (
        ("one-layer", {}, (9, 2, 5)),
        ("two-layers", {"num_layers": 2}, (6, 3, 5)),
        ("bidirectional", {"bidirectional": True}, (7, 2, 5)),
        ("bidirectional-two-layers", {"bidirectional": True, "num_layers": 2}, (5, 1, 5)),
        ("batch-first", {"batch_first": True, "bidirectional": True}, (2, 7, 5)),
        ("no-bias", {"bias": False}, (4, 2, 5)),
        ("one-step", {"bidirectional": True}, (1, 2, 5))):
    CASES.append(Case(f"lstm-{label}", (lambda kw=kwargs: Recurrent(nn.LSTM(5, 4, **kw))), [shape],
                      expect_layers=("LSTM",)))
for label, kwargs, shape in (
        ("one-layer", {}, (7, 2, 5)),
        ("bidirectional-two-layers", {"bidirectional": True, "num_layers": 2}, (5, 2, 5)),
        ("batch-first", {"batch_first": True, "bidirectional": True}, (2, 6, 5)),
        ("no-bias", {"bias": False}, (4, 1, 5)),
        ("one-step", {}, (1, 3, 5))):
    CASES.append(Case(f"gru-{label}", (lambda kw=kwargs: Recurrent(nn.GRU(5, 4, **kw))), [shape],
                      expect_layers=("InnerProduct", "Sigmoid", "TanH", "Eltwise")))
for target in ("caffe1",):
    CASES.append(Case(f"lstm-bidirectional-{target}", lambda: Recurrent(nn.LSTM(5, 4, bidirectional=True)),
                      [(6, 2, 5)], expect_layers=("LSTM",), convert_kwargs={"target": target}))


class GivenState(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(5, 4)
        self.register_buffer("h0", torch.ones(1, 2, 4))
        self.register_buffer("c0", torch.ones(1, 2, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x, (self.h0, self.c0))[0]


CASES += [
    Case("refuse-initial-state", GivenState(), [(3, 2, 5)], refused="non-zero initial state"),
    Case("refuse-rnn", Fn(lambda x, m=nn.RNN(5, 4): m(x)[0]), [(3, 2, 5)], refused="another recurrence"),
    Case("refuse-gru-too-long", Fn(lambda x, m=nn.GRU(2, 2): m(x)[0]), [(300, 1, 2)], refused="GRU over 300 steps"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_recurrent(case: Case, results) -> None:
    results[case.id].check()
