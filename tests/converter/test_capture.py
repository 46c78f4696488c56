"""Capture through torch.export: module paths, source lines, in-place ops made functional."""
from __future__ import annotations

import contextlib
import importlib
import logging

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import purecaffe
from purecaffe.converter.capture import capture
from purecaffe.converter.graph import Ref
from purecaffe.converter.passes import run_passes
from purecaffe.errors import UnsupportedError
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


@pytest.mark.parametrize("model", [Outer, MutatesThroughView], ids=["export", "export+run_decompositions"])
def test_lazy_graph_modules_capture_the_same_graph(model: type[nn.Module],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """capture defers torch.fx's code generation inside torch.export (a private switch, for speed):
    the Graph (ops, arguments, module paths, source lines) is the one eager code generation gives,
    and the program returned still runs as the model does."""
    module, x = model().eval(), torch.randn(1, 3, 4, 5)
    lazy = capture(module, (x,))
    # The module, not the function `purecaffe.converter.capture` that shadows it as an attribute.
    monkeypatch.setattr(importlib.import_module("purecaffe.converter.capture"), "_lazy_graph_modules",
                        contextlib.nullcontext)
    eager = capture(module, (x,))
    assert lazy.graph.nodes == eager.graph.nodes and lazy.graph.outputs == eager.graph.outputs
    assert lazy.graph.constant_sources == eager.graph.constant_sources
    assert any(node.source.startswith("test_capture.py:") for node in lazy.graph.nodes)
    with torch.no_grad():
        torch.testing.assert_close(lazy.program.module()(x), module(x), rtol=0, atol=0)


def test_capture_without_source_lines_is_the_same_graph() -> None:
    """`sources=False` (convert's first attempt: torch.fx formats no stacks) changes only `Node.source`."""
    module, x = MutatesThroughView().eval(), torch.randn(1, 3, 4, 5)
    with_lines, without = capture(module, (x,)), capture(module, (x,), sources=False)
    assert all(node.source for node in with_lines.graph.nodes)
    assert all(node.source == "" for node in without.graph.nodes)
    assert [node.replace(source="") for node in with_lines.graph.nodes] == list(without.graph.nodes)
    assert without.graph.outputs == with_lines.graph.outputs
    assert torch.fx.config.do_not_emit_stack_traces is False  # put back


class RefusedAfterFloat64(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.register_buffer("offset", torch.ones(4, 1, 1, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x) + self.offset.float()
        return torch.atan2(y, y + 1)


def test_a_refusal_names_the_source_line_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    """convert captures without stacks; a refusal is converted again with them, so it names the line,
    and what the first attempt logged (the float64 warning) is not logged a second time."""
    from purecaffe.converter.driver import UnsupportedOpsError
    with caplog.at_level(logging.INFO, logger="purecaffe"), pytest.raises(UnsupportedOpsError) as refused:
        purecaffe.convert(RefusedAfterFloat64().eval(), (torch.randn(1, 3, 6, 7),))
    (problem,) = refused.value.problems
    assert problem.op == "aten.atan2.default" and problem.source.startswith("test_capture.py:")
    assert "return torch.atan2(y, y + 1)" in problem.source
    warned = [r for r in caplog.records if r.getMessage().startswith("float64 parameters or buffers rounded")]
    assert len(warned) == 1
    assert not logging.getLogger("purecaffe.converter.capture").filters  # taken off again


def test_a_converted_net_records_no_source_lines() -> None:
    """The success path keeps no source lines: nothing after convert reads them."""
    net = purecaffe.convert(Outer().eval(), (torch.randn(1, 3, 5, 5),))
    assert all(node.source == "" for node in net.graph.nodes)


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


class Float64Gain(nn.Module):
    """A float64 buffer (a gain computed in double, as some models precompute constants)."""

    def __init__(self, gain: torch.Tensor | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        default = torch.linspace(0.5, 2.0, 4, dtype=torch.float64).reshape(1, 4, 1, 1) / 3
        self.register_buffer("gain", default if gain is None else gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * self.gain


def test_float64_parameters_are_rounded_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Rounded to float32 (what Caffe stores, what model.float() does), said in a warning, and the net
    still matches PyTorch's float64 arithmetic within run_compare_torch's 1e-4 of scale."""
    with caplog.at_level(logging.WARNING, logger="purecaffe.converter.capture"):
        comparison = run_compare_torch(Float64Gain(), (1, 3, 6, 7))
    warned = [r.getMessage() for r in caplog.records if "float64" in r.getMessage()]
    assert warned and warned[0].startswith("float64 parameters or buffers rounded to float32, which Caffe stores")
    assert warned[0].endswith(": gain")
    blobs = [blob for layer in comparison.net.weights.values() for blob in layer]
    assert len(blobs) == 3 and all(blob.dtype == np.float32 for blob in blobs)  # conv weight, bias; the gain


def test_float64_beyond_float32_range_is_refused() -> None:
    gain = torch.full((1, 4, 1, 1), 1e300, dtype=torch.float64)
    with pytest.raises(UnsupportedError, match=r"gain is float64 and holds 1e\+300, beyond float32's range"):
        purecaffe.convert(Float64Gain(gain).eval(), (torch.randn(1, 3, 6, 7),))
