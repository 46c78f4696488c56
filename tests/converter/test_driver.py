"""The lowering driver: every unsupported op reported at once, before anything is written."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn

import purecaffe
from purecaffe.converter import UnsupportedOpsError
from purecaffe.errors import PurecaffeError, UnsupportedError
from never_lowers import OP, REASON, NeverLowers


class RoundSTE(torch.autograd.Function):
    """A straight-through rounding, as in quantization-aware models."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return torch.round(x * 4.0) / 4.0

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return grad


class Quantize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return RoundSTE.apply(x)


class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = NeverLowers()
        self.quant = Quantize()
        self.head = nn.Conv2d(8, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.quant(self.act(self.conv(x))))


def test_all_unsupported_ops_are_listed_in_one_error(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedOpsError) as caught:
        net = purecaffe.convert(Mixed().eval(), (torch.randn(1, 3, 8, 8),))
        net.save(tmp_path / "mixed")
    error = caught.value
    assert isinstance(error, UnsupportedError) and isinstance(error, PurecaffeError)
    ops = [p.op for p in error.problems]
    assert ops == [f"{OP}.default", "aten.round.default"]
    never, rounding = error.problems
    assert never.module_path == "act" and never.reason == REASON
    assert rounding.module_path == "quant"
    assert "test_driver.py" in rounding.source and "torch.round" in rounding.source
    assert "no Caffe lowering for aten.round" in rounding.reason
    text = error.one_line()
    assert "\n" not in text and text.startswith("2 ops cannot be converted")
    assert "act (NeverLowers)" in text and "quant (Quantize)" in text
    assert list(tmp_path.iterdir()) == []


def test_training_mode_is_refused() -> None:
    with pytest.raises(PurecaffeError, match="training mode"):
        purecaffe.convert(nn.Conv2d(3, 3, 1), (torch.randn(1, 3, 4, 4),))


def test_non_float_inputs_are_refused() -> None:
    with pytest.raises(UnsupportedError, match="float32"):
        purecaffe.convert(nn.Identity().eval(), (torch.zeros(1, 3, dtype=torch.int64),))


def test_training_dropout_is_refused() -> None:
    class Always(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return nn.functional.dropout(x, 0.5, training=True)

    with pytest.raises(UnsupportedOpsError, match="dropout with train=True"):
        purecaffe.convert(Always().eval(), (torch.randn(1, 3),))


def test_export_failure_is_one_line() -> None:
    class DataDependent(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:
                return x
            return -x

    with pytest.raises(PurecaffeError, match="torch.export could not capture the model"):
        purecaffe.convert(DataDependent().eval(), (torch.randn(1, 3),))


def test_a_forward_that_stores_computed_weights_is_refused_naming_the_module() -> None:
    """SPAN's Conv3XC re-fuses its branches at every eval call into `eval_conv.weight.data`: torch.export keeps
    the computed weight as a fake-tensor constant, and the refusal names the module and what to do."""

    class Refusing(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.branch = nn.Conv2d(3, 4, 3, padding=1)
            self.fused = nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.fused.weight.data = self.branch.weight.data.clone().detach() * 2.0
            return self.fused(x)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.block = Refusing()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.block(x))

    with pytest.raises(UnsupportedError, match=r"^block \(Refusing\): its forward computes a tensor and stores it "
                                               r"in the module .*compute it once before converting"):
        purecaffe.convert(Net().eval(), (torch.randn(1, 3, 8, 8),))
