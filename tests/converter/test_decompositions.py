"""scaled_dot_product_attention decomposed into matmul, scale, softmax, matmul (the existing lowerings).

Tolerance: the default 1e-4 x max|tensor|: PyTorch's fused CPU attention and Caffe's products and
softmax sum and exponentiate in other orders (float32 rounding, ~1e-6 measured).
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import purecaffe
from batched_compare import Case, compare_cases
from converter.lowerings._modules import Fn

pytestmark = pytest.mark.real_caffe

CASES = [
    Case("self-attention", Fn(lambda x: F.scaled_dot_product_attention(x, x * 0.5, x + 1.0)), [(1, 2, 5, 4)],
         expect_layers=("Softmax",)),
    Case("cross-lengths", Fn(lambda q, k: F.scaled_dot_product_attention(q, k, k * 2.0)), [(2, 3, 4, 6), (2, 3, 7, 6)]),
    Case("given-scale", Fn(lambda x: F.scaled_dot_product_attention(x, x, x, scale=0.3)), [(1, 1, 6, 3)]),
    Case("3d", Fn(lambda x: F.scaled_dot_product_attention(x, x, x)), [(2, 5, 8)]),
    Case("refuse-causal", Fn(lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=True)), [(1, 2, 5, 4)],
         refused="scaled_dot_product_attention"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_attention(case: Case, results) -> None:
    results[case.id].check()


def test_intermediate_products_are_not_mapped() -> None:
    """Only the attention output has a torch tensor; the made-up scores and weights are synthetic."""
    net = purecaffe.convert(Fn(lambda x: F.scaled_dot_product_attention(x, x, x)).eval(), (torch.randn(1, 2, 5, 4),))
    names = {record.torch_name for record in net.mapping}
    assert "scaled_dot_product_attention" in names
    assert not any(name.startswith("scaled_dot_product_attention_") for name in names), names
