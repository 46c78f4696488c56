"""pytorchcv's real-time segmentation nets (random init, nothing downloaded), whole, in real Caffe.

Fast-SCNN and ICNet pool their 1/32 features to 1x1, 2x2, 3x3 and 6x6 (adaptive pooling with sizes
that do not divide: per-window Pooling); ENet's decoder unpools with its encoder's indices
(`max_unpool2d`).  BatchNorm statistics are redrawn (fresh ones hide BatchNorm/Scale mistakes).

Tolerance: the default 1e-4 x max|tensor| per blob: convolutions sum in another order than
PyTorch, which compounds through ~100 layers to ~1e-6 relative; a wrong window or index is O(1).
ENet runs PyTorch single-threaded: its unpooling's CPU kernel writes positions two windows share
from parallel chunks, so with several threads PyTorch's own result depends on the split
(tests/converter/lowerings/test_unpool.py).
"""
from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from batched_compare import Case, compare_cases
from corpus import unavailable
from judge_nets import randomized

pytestmark = pytest.mark.real_caffe

SIZE = (128, 256)  # Cityscapes' 1:2; the 1/32 features are 4x8, so 3x3 and 6x6 pools do not divide


def _segmentation(name: str) -> nn.Module:
    try:
        from pytorchcv.model_provider import get_model
    except ImportError as error:
        unavailable(f"pytorchcv is not installed ({error}; pip install '.[zoo]')")
    torch.manual_seed(0)
    return randomized(get_model(f"{name}_cityscapes", pretrained=False, in_size=SIZE, aux=False, fixed_size=True))


CASES = [
    Case("fastscnn", partial(_segmentation, "fastscnn"), [(1, 3, *SIZE)], expect_layers=("Slice", "Pooling", "Concat")),
    Case("icnet_resnetd50b", partial(_segmentation, "icnet_resnetd50b"), [(1, 3, *SIZE)],
         expect_layers=("Slice", "Pooling", "Concat")),
    Case("enet", partial(_segmentation, "enet"), [(1, 3, *SIZE)], expect_layers=("Deconvolution", "Crop", "AbsVal")),
]


@pytest.fixture(scope="module")
def results():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return compare_cases(CASES)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_pytorchcv_segmentation(case: Case, results) -> None:
    results[case.id].check()
