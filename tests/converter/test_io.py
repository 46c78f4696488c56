"""Models with several inputs and outputs: tuples, lists, dicts, an output that is an input,
the same tensor returned twice; names given with input_names/output_names; run in Caffe."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import purecaffe
from batched_compare import Case, compare_cases


class TwoInTuple(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.conv(image) * mask
        return features, torch.softmax(features.mean((2, 3)), 1)


class ListOut(nn.Module):
    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x * 2, x.chunk(2, 1)[0] + 1, x.sum(1, keepdim=True)]


class DictOut(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"sum": x + y, "prod": x * y, "nested": {"diff": x - y}}


class PassThrough(nn.Module):
    """An input returned as is, and one tensor returned twice."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        y = torch.relu(x)
        return x, y, y


SUM = {"rtol": 1e-6, "atol": 1e-7, "reason": "convolution and mean sum in another order"}
CASES = [
    Case("two-in-tuple", TwoInTuple, [(1, 3, 6, 7), (1, 4, 6, 7)], **SUM),
    Case("list-out", ListOut, [(2, 4, 3, 5)], **SUM),
    Case("dict-out", DictOut, [(2, 3, 4, 5), (2, 3, 4, 5)], rtol=0.0, atol=0.0, reason="one float32 op each"),
    Case("pass-through", PassThrough, [(1, 3, 4, 4)], rtol=0.0, atol=0.0, reason="copies"),
    Case("named", DictOut, [(2, 3, 4, 5), (2, 3, 4, 5)], rtol=0.0, atol=0.0, reason="one float32 op each",
         convert_kwargs={"input_names": ["left", "right"], "output_names": ["s", "p", "d"]}),
]


@pytest.fixture(scope="module")
def results():
    return compare_cases(CASES)


@pytest.mark.real_caffe
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_io_model(case: Case, results) -> None:
    results[case.id].check()


def test_dict_outputs_keep_their_keys_in_order() -> None:
    net = purecaffe.convert(DictOut().eval(), (torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3)))
    assert net.graph.output_keys == ("sum", "prod", "nested.diff")
    assert len(net.output_names) == 3 and len(set(net.output_names)) == 3
    assert net.input_names == ("x", "y")


def test_given_names_are_the_blob_names() -> None:
    net = purecaffe.convert(DictOut().eval(), (torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3)),
                            input_names=["left", "right"], output_names=["s", "p", "d"])
    tops = {top for layer in net.net.layer for top in layer.top}
    assert net.input_names == ("left", "right") and net.output_names == ("s", "p", "d")
    assert {"left", "right", "s", "p", "d"} <= tops


def test_an_input_returned_as_output_gets_its_own_blob() -> None:
    net = purecaffe.convert(PassThrough().eval(), (torch.randn(1, 3, 4, 4),))
    assert len(set(net.output_names)) == 3
    assert "data" not in net.output_names
