"""scaled_dot_product_attention decomposed into matmul, scale, softmax, matmul; einsum into permutes,
reshapes and one matmul; an LSTMCell step into linears, gates and arithmetic (the existing lowerings).

Tolerance: the default 1e-4 x max|tensor|: PyTorch's fused CPU attention and LSTM cell and Caffe's
products, softmax and gates sum and exponentiate in other orders (float32 rounding, ~1e-6 measured).
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
    Case("float-bias-mask", lambda: _Biased(), [(1, 2, 5, 4)]),
    Case("computed-float-mask", Fn(lambda x, m: F.scaled_dot_product_attention(x, x, x, attn_mask=m * 2.0)),
         [(1, 2, 5, 4), (1, 2, 5, 5)]),
    Case("refuse-bool-mask", lambda: _Biased(boolean=True), [(1, 2, 5, 4)], refused="scaled_dot_product_attention"),
    Case("einsum-bmm", Fn(lambda a, b: torch.einsum("bij,bjk->bik", a, b)), [(2, 3, 4), (2, 4, 5)]),
    Case("einsum-attention-scores", Fn(lambda q, k: torch.einsum("bhqd,bhkd->bhqk", q, k)),
         [(1, 2, 5, 3), (1, 2, 7, 3)]),
    Case("einsum-free-labels-reordered", Fn(lambda a, b: torch.einsum("nchw,nkc->nkhw", a, b)),
         [(1, 3, 4, 5), (1, 6, 3)]),
    Case("einsum-outer", Fn(lambda a, b: torch.einsum("bi,bj->bij", a, b)), [(2, 3), (2, 4)]),
    Case("einsum-permute", Fn(lambda a: torch.einsum("nchw->nhwc", a) + 1.0), [(1, 3, 4, 5)],
         rtol=0.0, atol=0.0, reason="values are only copied"),
    Case("einsum-constant-weight", lambda: _Weighted(), [(2, 5, 3)]),
    Case("refuse-einsum-trace", Fn(lambda a: torch.einsum("bii->b", a)), [(2, 3, 3)], refused="aten.einsum"),
    Case("lstm-cell-step", lambda: _Cell(5, 4), [(2, 5), (2, 4), (2, 4)], expect_layers=("InnerProduct", "Sigmoid")),
    Case("lstm-cell-two-steps", lambda: _Cell(3, 6, steps=2), [(1, 3), (1, 6), (1, 6)]),
    Case("lstm-cell-no-state-no-bias", lambda: _Cell(4, 3, bias=False, state=False), [(3, 4)]),
    Case("refuse-causal", Fn(lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=True)), [(1, 2, 5, 4)],
         refused="scaled_dot_product_attention"),
]


class _Biased(torch.nn.Module):
    """A constant relative-position bias as attn_mask (MaxViT), or a boolean mask (refused)."""

    def __init__(self, boolean: bool = False) -> None:
        super().__init__()
        bias = torch.randn(2, 5, 5, generator=torch.Generator().manual_seed(2))
        self.register_buffer("bias", bias > 0 if boolean else bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(x, x * 0.5, x, attn_mask=self.bias)


class _Cell(torch.nn.Module):
    """nn.LSTMCell stepped `steps` times on the same input; returns h + 2 c (both outputs checked)."""

    def __init__(self, size: int, hidden: int, *, bias: bool = True, steps: int = 1, state: bool = True) -> None:
        super().__init__()
        self.cell = torch.nn.LSTMCell(size, hidden, bias=bias)
        self.steps, self.state = steps, state

    def forward(self, x: torch.Tensor, *hc: torch.Tensor) -> torch.Tensor:
        state = tuple(hc) if self.state else None
        for _ in range(self.steps):
            state = self.cell(x, state)
        h, c = state
        return h + 2.0 * c


class _Weighted(torch.nn.Module):
    """einsum with a parameter operand: folded to a constant weight (InnerProduct)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(4, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("btc,kc->btk", x, self.weight)


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


TARGET_CASES = {
    "attention": (lambda: Fn(lambda x: F.scaled_dot_product_attention(x, x * 0.5, x + 1.0)), (1, 2, 5, 4)),
    "einsum": (lambda: Fn(lambda a: torch.einsum("bhqd,bhkd->bhqk", a, a * 2.0)), (1, 2, 5, 3)),
    "lstm-cell": (lambda: _Cell(5, 4, state=False), (2, 5)),
}


@pytest.mark.parametrize("target", ["opencv", "rknn"])
@pytest.mark.parametrize("case", sorted(TARGET_CASES))
def test_decompositions_on_targets(case: str, target: str, tmp_path) -> None:
    """OpenCV and RKNN run them (on RKNN, the 5-D Reductions as AVE Pooling and the per-position Scales
    over channels of a reshaped blob: its rules)."""
    from converter.lowerings._deploy import on_target

    make, shape = TARGET_CASES[case]
    on_target(make(), shape, target, tmp_path)
