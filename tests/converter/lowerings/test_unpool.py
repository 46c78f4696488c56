"""max_unpool2d after max_pool2d(return_indices=True): ENet's decoder, over windows that overlap
(kernel > stride: the later window wins a shared position), ties (ReLU zeros: the first maximum),
padding, ceil mode and odd sizes; real Caffe and the runtime, then the deploy targets.

The construction only copies values or multiplies them by exactly 0 or 1, so every case is held to
equality (rtol 0, atol 0), not to the usual float32 bound.  Where two windows chose the same
position, PyTorch's CPU kernel writes them from parallel chunks of the input, so which one wins
depends on its thread split; the construction takes the sequential order (the later window), which
is PyTorch's with one thread, so PyTorch runs single-threaded here (`single_thread`).
"""
from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from batched_compare import Case, compare_cases
from converter.lowerings._deploy import on_target

pytestmark = pytest.mark.real_caffe


class PoolUnpool(nn.Module):
    """pool -> the pooled values plus a ramp over the windows (so two windows sharing a maximum carry
    different values, and which one wins shows) -> unpool to the input's size, like ENet."""

    def __init__(self, kernel, stride, padding=0, ceil_mode: bool = False, relu: bool = False) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(kernel, stride, padding, ceil_mode=ceil_mode, return_indices=True)
        self.unpool = nn.MaxUnpool2d(kernel, stride, padding)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.relu:
            x = torch.relu(x)
        values, indices = self.pool(x)
        h, w = values.shape[2:]
        ramp = torch.arange(h * w, dtype=values.dtype).reshape(h, w) * 0.125
        return self.unpool(values * 2.0 + ramp, indices, output_size=x.shape[2:]) + 1.0


EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "copies and products by exactly 0 or 1"}
CASES = [
    Case("2x2-s2-even", PoolUnpool(2, 2), [(1, 3, 8, 10)], expect_layers=("Deconvolution", "Crop"), **EXACT),
    Case("enet-3x3-s2-p1", PoolUnpool(3, 2, 1), [(2, 3, 8, 12)], **EXACT),
    Case("enet-3x3-s2-p1-odd", PoolUnpool(3, 2, 1), [(1, 3, 9, 7)], **EXACT),
    Case("3x3-s1-p1-overlap", PoolUnpool(3, 1, 1), [(1, 3, 6, 7)], **EXACT),
    Case("3x3-s2-nopad", PoolUnpool(3, 2), [(1, 3, 9, 11)], **EXACT),
    Case("2x2-s2-ceil-odd", PoolUnpool(2, 2, ceil_mode=True), [(1, 3, 7, 9)], **EXACT),
    Case("3x2-s2x1", PoolUnpool((3, 2), (2, 1), (1, 0)), [(1, 3, 7, 6)], **EXACT),
    Case("ties-after-relu", PoolUnpool(3, 2, 1, relu=True), [(1, 3, 8, 9)], **EXACT),
    Case("refuse-uncovered-edge", PoolUnpool(2, 2), [(1, 3, 7, 8)], refused="lie in no pooling window"),
]


@contextlib.contextmanager
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def results():
    with single_thread():
        return compare_cases(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_max_unpool2d(case: Case, results) -> None:
    results[case.id].check()


class UnpoolOther(nn.Module):
    """Indices that are not a pooling's own (an input of the model): nothing in Caffe scatters by them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        indices = torch.arange(12).reshape(1, 1, 3, 4) * 4
        return nn.functional.max_unpool2d(x, indices, 2, output_size=(6, 8))


def test_indices_not_from_a_pooling_are_refused() -> None:
    import purecaffe

    with pytest.raises(purecaffe.UnsupportedError, match="do not come from a max_pool2d"):
        purecaffe.convert(UnpoolOther().eval(), (torch.randn(1, 1, 3, 4),))


@pytest.mark.parametrize("target,refused", [
    ("opencv", None), ("caffe1", None), ("nnie", None),
    # rknn: |x| is max(x, -x) now (`rules_powers.absval_as_max`), but a part of the window Slice is read by
    # nobody and rknn has no Silence: its check refuses
    ("rknn", "rknn has no Silence"),
])
def test_max_unpool2d_on_targets(target: str, refused: str | None, tmp_path) -> None:
    with single_thread():
        on_target(PoolUnpool(3, 2, 1), (1, 3, 8, 10), target, tmp_path, refused=refused)
