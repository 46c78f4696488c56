"""add / sub / rsub / mul / div between tensors, broadcasts, constants and scalars; neg, pow, reciprocal.

Tolerances: the ops that are one float32 operation on both sides (Eltwise SUM/PROD, Power
shift/scale, Scale, Bias) must match bit for bit, so they are compared at rtol = atol = 0.
Division is a * fl(1/b) in Caffe (no layer divides two blobs): up to three roundings of at most
1 ulp each instead of one, so those cases allow 5e-7 of max|tensor|.  Powers other than 1 and 2
go through std::pow (within 1 ulp): 5e-7 as well.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from batched_compare import Case, compare_cases

EXACT = {"rtol": 0.0, "atol": 0.0, "reason": "one float32 operation on both sides"}
DIVISION = {"rtol": 5e-7, "atol": 0.0, "reason": "a * pow(b, -1): <= 3 roundings instead of 1"}


class Binary(nn.Module):
    def __init__(self, fn, constant: torch.Tensor | None = None) -> None:
        super().__init__()
        self.fn = fn
        if constant is not None:
            self.register_buffer("constant", constant)

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "constant"):
            return self.fn(xs[0], self.constant)
        return self.fn(*xs)


def _positive(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Divisors kept away from zero, so relative error means something."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) + 0.5


def _constant(shape: tuple[int, ...], seed: int = 3) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


SAME = (2, 3, 5, 7)
OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "add_alpha": lambda a, b: torch.add(a, b, alpha=2.0),
    "sub_alpha": lambda a, b: torch.sub(a, b, alpha=-3.0),
    "rsub_alpha": lambda a, b: torch.rsub(a, b, alpha=2.0),
}
# Broadcast forms: (big shape, small shape) with the small one on either side.
BROADCASTS = {
    "se_nc11": ((2, 6, 5, 7), (2, 6, 1, 1)),
    "se_batch1": ((1, 6, 5, 7), (1, 6, 1, 1)),
    "channel_c11": ((2, 6, 5, 7), (6, 1, 1)),
    "rows_w": ((2, 6, 5, 7), (7,)),
    "hw": ((2, 6, 5, 7), (5, 7)),
    "nc_of_3d": ((2, 6, 9), (2, 6, 1)),
}

CASES: list[Case] = []
for name, fn in OPS.items():
    tolerance = EXACT if "alpha" not in name else {"rtol": 2e-7, "atol": 0.0, "reason": "a + alpha b: fma or not"}
    CASES.append(Case(f"same-{name}", Binary(fn), [SAME, SAME], expect_layers=("Eltwise",), **tolerance))
CASES.append(Case("same-div", Binary(lambda a, b: a / b), [SAME, _positive(SAME, 1)], **DIVISION))

for name, (big, small) in BROADCASTS.items():
    for op in ("add", "sub", "mul"):
        fn = OPS[op]
        CASES.append(Case(f"bcast-{name}-{op}-big_first", Binary(fn), [big, small], **EXACT))
        CASES.append(Case(f"bcast-{name}-{op}-small_first", Binary(fn), [small, big], **EXACT))
    CASES.append(Case(f"bcast-{name}-div-big_first", Binary(lambda a, b: a / b), [big, _positive(small, 2)],
                      **DIVISION))
    CASES.append(Case(f"bcast-{name}-div-small_first", Binary(lambda a, b: a / b), [small, _positive(big, 2)],
                      **DIVISION))
# SE exactly as written in the zoo: mean -> (N, C, 1, 1) gate, then gate * x.
CASES.append(Case("se_gate_mul", Binary(lambda x, y: torch.sigmoid(y.mean((2, 3), keepdim=True)) * x),
                  [(2, 6, 5, 7), (2, 6, 5, 7)], expect_layers=("Scale",), rtol=1e-6,
                  reason="the mean sums in another order"))
# A size-1 axis inside the broadcast run: the small operand is tiled out first (exact copies).
CASES.append(Case("bcast-inner1-add", Binary(lambda a, b: a + b), [(2, 6, 5, 7), (6, 1, 7)],
                  expect_layers=("Tile",), **EXACT))

for op in ("add", "sub", "mul"):
    for shape in ((6, 1, 1), (1, 6, 5, 7), (5, 7), (6, 1, 7)):
        CASES.append(Case(f"const{list(shape)}-{op}-tensor_first",
                          Binary(OPS[op], _constant(shape)), [(2, 6, 5, 7)], expect_layers=("Scale",), **EXACT))
    CASES.append(Case(f"const-{op}-const_first", Binary(lambda a, c, f=OPS[op]: f(c, a), _constant((6, 1, 1))),
                      [(2, 6, 5, 7)], **EXACT))
CASES.append(Case("const-div-tensor_first", Binary(lambda a, c: a / c, _positive((6, 1, 1), 4)), [(2, 6, 5, 7)],
                  **DIVISION))
CASES.append(Case("const-div-const_first", Binary(lambda a, c: c / a, _constant((6, 1, 1))),
                  [_positive((2, 6, 5, 7), 5)], **DIVISION))
# A constant bigger than the tensor: stored by a Parameter layer, then a broadcast.
CASES.append(Case("const-bigger-than-tensor", Binary(lambda a, c: a * c, _constant((2, 6, 5, 7))), [(6, 1, 1)],
                  expect_layers=("Parameter",), **EXACT))

SCALARS = {
    "add_3": lambda x: x + 3,
    "radd_3": lambda x: 3 + x,
    "sub_1p5": lambda x: x - 1.5,
    "rsub_1": lambda x: 1 - x,
    "mul_2p5": lambda x: x * 2.5,
    "rmul_neg": lambda x: -0.75 * x,
    "mul_0": lambda x: x * 0,
    "div_4": lambda x: x / 4,
    "neg": lambda x: -x,
    "pow_2": lambda x: x ** 2,
    "square": torch.square,
    "scalar_tensor_const": lambda x: x * torch.tensor(3.0),
}
for name, fn in SCALARS.items():
    CASES.append(Case(f"scalar-{name}", Binary(fn), [(2, 3, 5, 7)], expect_layers=("Power",), **EXACT))
CASES += [
    Case("scalar-div_6", Binary(lambda x: x / 6), [(2, 3, 5, 7)], **DIVISION),
    Case("scalar-rdiv_2", Binary(lambda x: 2 / x), [_positive((2, 3, 5, 7), 6)], **DIVISION),
    Case("scalar-reciprocal", Binary(torch.reciprocal), [_positive((2, 3, 5, 7), 7)], **DIVISION),
    Case("scalar-sqrt", Binary(torch.sqrt), [_positive((2, 3, 5, 7), 8)], **DIVISION),
    Case("scalar-rsqrt", Binary(torch.rsqrt), [_positive((2, 3, 5, 7), 9)], **DIVISION),
    Case("scalar-pow_3", Binary(lambda x: x ** 3), [(2, 3, 5, 7)], **DIVISION),
    # Refusals: named reason, nothing written.
    Case("refuse-both_broadcast", Binary(lambda a, b: a + b), [(2, 6, 1, 7), (2, 6, 5, 1)],
         refused="both operands broadcast"),
    Case("refuse-floor_divide", Binary(lambda a, b: torch.div(a, b, rounding_mode="floor")),
         [SAME, _positive(SAME, 1)], refused="rounding_mode='floor'"),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_elementwise(case: Case, results) -> None:
    results[case.id].check()
