"""The pattern passes on captured graphs: what they fuse, what they leave alone, and that the
rewritten graph computes the same values (checked in numpy, no Caffe needed)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from purecaffe.converter.capture import capture
from purecaffe.converter.passes import run_passes
from purecaffe.converter.lowerings.permute import shuffle_order
from purecaffe.converter.patterns import fold_permute_into_linear, fuse_channel_shuffle


class Shuffle(nn.Module):
    def __init__(self, groups: int, reuse: bool = False) -> None:
        super().__init__()
        self.groups, self.reuse = groups, reuse

    def forward(self, x: torch.Tensor):  # noqa: ANN201
        n, c, h, w = x.shape
        grouped = x.view(n, self.groups, c // self.groups, h, w)
        out = grouped.transpose(1, 2).contiguous().view(n, c, h, w)
        return (out, grouped.sum()) if self.reuse else out


def _graph(model: nn.Module, *shapes: tuple[int, ...]):
    return run_passes(capture(model.eval(), tuple(torch.randn(*s) for s in shapes)).graph)


@pytest.mark.parametrize("groups,channels", [(2, 6), (3, 12), (4, 4)])
def test_shuffle_pattern_becomes_one_channel_shuffle(groups: int, channels: int) -> None:
    graph = _graph(Shuffle(groups), (1, channels, 3, 5))
    assert [n.op for n in graph.nodes] == ["aten.channel_shuffle"]
    node = graph.nodes[0]
    assert node.arg("groups") == groups and node.name == graph.outputs[0].name
    x = torch.arange(channels, dtype=torch.float32).view(1, channels, 1, 1)
    assert torch.channel_shuffle(x, groups).flatten().tolist() == shuffle_order(channels, groups)


def test_shuffle_pattern_with_a_reused_intermediate_is_left_alone() -> None:
    graph = _graph(Shuffle(2, reuse=True), (1, 4, 3, 3))
    assert "aten.channel_shuffle" not in [n.op for n in graph.nodes]
    assert fuse_channel_shuffle(graph) == graph


class PermuteLinear(nn.Module):
    def __init__(self, order: tuple[int, ...]) -> None:
        super().__init__()
        self.order = order
        self.fc = nn.Linear(4 * 3 * 5, 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.permute(*self.order).contiguous().view(x.shape[0], -1))


@pytest.mark.parametrize("order", [(0, 3, 2, 1), (0, 2, 3, 1), (0, 1, 3, 2)])
def test_permute_before_linear_is_folded_into_the_weight(order: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = PermuteLinear(order).eval()
    x = torch.randn(2, 4, 3, 5)
    graph = _graph(model, tuple(x.shape))
    ops = [n.op for n in graph.nodes]
    assert "aten.permute" not in ops and ops[-1] == "aten.linear"
    linear = graph.nodes[-1]
    flat = next(n for n in graph.nodes if n.name == linear.arg("input").name)
    assert flat.synthetic and flat.arg("self").name == graph.inputs[0].name
    weight = graph.constants[linear.arg("weight").name]
    bias = graph.constants[linear.arg("bias").name]
    got = x.numpy().reshape(2, -1) @ weight.T + bias
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_permute_of_the_batch_axis_is_not_folded() -> None:
    class BatchPermute(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2 * 3, 5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x.permute(1, 0, 2).reshape(4, -1))

    graph = _graph(BatchPermute(), (2, 4, 3))
    assert "aten.permute" in [n.op for n in graph.nodes]
    assert fold_permute_into_linear(graph) == graph
