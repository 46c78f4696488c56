"""Capture through torch.export: module paths, source lines, in-place ops made functional."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from purecaffe.converter.capture import capture
from purecaffe.converter.graph import Ref
from purecaffe.converter.passes import run_passes
from torch_compare import run_compare_torch


class Inner(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(F.relu(self.bn(self.conv(x)), inplace=True))


class Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Inner()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks[0](x).contiguous().clone()


def test_nodes_keep_module_paths_and_source_lines() -> None:
    graph = capture(Outer().eval(), (torch.randn(1, 3, 5, 5),)).graph
    by_op = {node.op: node for node in graph.nodes}
    assert by_op["aten.conv2d"].module_path == "blocks.0.conv"
    assert by_op["aten.conv2d"].module_type == "Conv2d"
    assert by_op["aten.batch_norm"].module_path == "blocks.0.bn"
    relu = by_op["aten.relu"]  # relu_ made functional
    assert relu.module_path == "blocks.0" and relu.source.startswith("test_capture.py:")
    assert "F.relu(self.bn(self.conv(x)), inplace=True)" in relu.source
    assert by_op["aten.conv2d"].args["weight"] == Ref("p_blocks_0_conv_weight")
    assert graph.constant_sources["p_blocks_0_conv_weight"] == "blocks.0.conv.weight"


def test_identities_are_removed() -> None:
    graph = run_passes(capture(Outer().eval(), (torch.randn(1, 3, 5, 5),)).graph)
    ops = [node.op for node in graph.nodes]
    assert ops == ["aten.conv2d", "aten.batch_norm", "aten.relu"]
    assert graph.outputs == (Ref("relu_"),)
    decomposed = run_passes(capture(Outer().eval(), (torch.randn(1, 3, 5, 5),), decompose=True).graph)
    assert [node.op for node in decomposed.nodes] == [
        "aten.conv2d", "aten._native_batch_norm_legit_no_training", "getitem", "aten.relu"]


class ResidualInPlace(nn.Module):
    """torchvision's BasicBlock pattern: `out += identity` then an in-place ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x * 1.0
        out = self.conv(x)
        out += identity
        out = self.relu(out)
        return out + self.conv(identity)


def test_simple_in_place_ops_need_no_decomposition() -> None:
    captured = capture(ResidualInPlace().eval(), (torch.randn(1, 3, 5, 5),))
    ops = [node.op for node in captured.graph.nodes]
    assert "aten.add" in ops and "aten.relu" in ops and not any(op.endswith("_") for op in ops)
    # The program itself was not decomposed: it still has the in-place ops.
    assert any(str(n.target) == "aten.add_.Tensor" for n in captured.program.graph.nodes)


def test_simple_in_place_ops_in_real_caffe() -> None:
    run_compare_torch(ResidualInPlace(), (1, 3, 5, 5))


class MutatesThroughView(nn.Module):
    """An in-place add through a view changes the tensor used afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        z = y.relu_()           # y itself is now relu(conv(x))
        flat = y.view(1, 4, -1)
        flat.add_(1.0)          # ... and y + 1 through the view
        return torch.sigmoid(y) * 2.0 + z


def test_in_place_mutation_through_a_view() -> None:
    run_compare_torch(MutatesThroughView(), (1, 3, 4, 5))


class MutatesThroughDropout(nn.Module):
    """Inference dropout returns its input itself, so the in-place ReLU changes `y` too."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.drop = nn.Dropout()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        z = self.drop(y)
        z.relu_()
        return y + z


def test_in_place_mutation_through_inference_dropout() -> None:
    comparison = run_compare_torch(MutatesThroughDropout(), (1, 3, 4, 4))
    with torch.no_grad():
        x = torch.randn(1, 3, 4, 4)
        model = MutatesThroughDropout().eval()
        expected = 2 * torch.relu(model.conv(x))
        torch.testing.assert_close(model(x), expected)
    assert comparison.errors
