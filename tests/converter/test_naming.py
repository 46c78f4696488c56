"""Layer and blob names, input/output names, in-place tops only where safe."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import purecaffe
from purecaffe.errors import PurecaffeError
from torch_compare import run_compare_torch


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out) + x
        return self.relu(out)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.layer1 = nn.Sequential(Block(), Block())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.layer1(self.stem(x)))


def layer_table(net: purecaffe.ConvertedNet) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    return [(layer.name, layer.type, tuple(layer.bottom), tuple(layer.top)) for layer in net.net.layer]


def test_names_follow_module_paths() -> None:
    net = purecaffe.convert(Net().eval(), (torch.randn(1, 3, 6, 6),))
    names = [name for name, *_ in layer_table(net)]
    assert names == [
        "data", "stem",
        "layer1.0.conv1", "layer1.0.bn1", "layer1.0.bn1/scale", "layer1.0.relu", "layer1.0.conv2",
        "layer1.0/add", "layer1.0.relu_1",
        "layer1.1.conv1", "layer1.1.bn1", "layer1.1.bn1/scale", "layer1.1.relu", "layer1.1.conv2",
        "layer1.1/add", "layer1.1.relu_1",
        "sigmoid",
    ]
    assert net.input_names == ("data",)


def test_inplace_only_where_the_bottom_has_no_other_reader() -> None:
    net = purecaffe.convert(Net().eval(), (torch.randn(1, 3, 6, 6),))
    table = {name: (bottoms, tops) for name, _, bottoms, tops in layer_table(net)}
    # BatchNorm, Scale and ReLU after conv1 write into conv1's blob.
    assert table["layer1.0.bn1"] == (("layer1.0.conv1",), ("layer1.0.conv1",))
    assert table["layer1.0.relu"] == (("layer1.0.conv1",), ("layer1.0.conv1",))
    # The stem's output is also the residual input of layer1.0/add: nothing may overwrite it.
    readers = [name for name, (bottoms, _) in table.items() if "stem" in bottoms]
    assert sorted(readers) == ["layer1.0.conv1", "layer1.0/add"]
    assert all("stem" not in tops for name, (_, tops) in table.items() if name != "stem")
    # The final Sigmoid is the output; it may be in place on the last add.
    assert table["sigmoid"][1] == net.output_names


def test_inplace_chain_snapshots_match_torch() -> None:
    comparison = run_compare_torch(Net(), (1, 3, 6, 6))
    by_layer = {r.layer: r for r in comparison.net.mapping}
    assert by_layer["layer1.0.relu"].blob == "layer1.0.conv1"
    assert by_layer["layer1.0.bn1/scale"].blob == "layer1.0.conv1"
    assert by_layer["layer1.0.conv1"].blob == "layer1.0.conv1"


class TwoInTwoOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 2, 1)
        self.b = nn.Conv2d(3, 2, 1)

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.relu(self.a(left)), self.b(right)


def test_input_and_output_names() -> None:
    inputs = (torch.randn(1, 3, 4, 4), torch.randn(1, 3, 5, 5))
    net = purecaffe.convert(TwoInTwoOut().eval(), inputs)
    assert net.input_names == ("left", "right")
    assert net.output_names == ("relu", "b")  # the final ReLU writes its own top (not in place on a's)
    renamed = purecaffe.convert(TwoInTwoOut().eval(), inputs, input_names=["img0", "img1"],
                                output_names=["feat", "aux"])
    assert renamed.input_names == ("img0", "img1") and renamed.output_names == ("feat", "aux")
    tops = [top for layer in renamed.net.layer for top in layer.top]
    assert "feat" in tops and "aux" in tops and "relu" not in tops
    with pytest.raises(PurecaffeError, match="2 input names given for 2|1 input names given for 2"):
        purecaffe.convert(TwoInTwoOut().eval(), inputs, input_names=["only"])


def test_renamed_outputs_in_real_caffe() -> None:
    run_compare_torch(TwoInTwoOut(), [(1, 3, 4, 4), (1, 3, 5, 5)], input_names=["img0", "img1"],
                      output_names=["feat", "aux"])


class SameTwice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return y, y, x


def test_an_output_returned_twice_or_an_input_returned_gets_its_own_blob() -> None:
    comparison = run_compare_torch(SameTwice(), (1, 3, 4, 4))
    names = comparison.net.output_names
    assert len(set(names)) == 3 and "data" not in names


class SharedReluBesideRelu1(nn.Module):
    """A module `relu` called twice next to a module literally named `relu_1`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.relu_1 = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu_1(self.relu(self.relu(self.conv(x)) - 0.5))


def test_suffixed_names_never_take_another_modules_name() -> None:
    net = purecaffe.convert(SharedReluBesideRelu1().eval(), (torch.randn(1, 3, 5, 5),))
    types = {layer.name: layer.type for layer in net.net.layer}
    assert types["relu_1"] == "Sigmoid"  # the module named relu_1 keeps its name
    assert types["relu"] == "ReLU" and types["relu_2"] == "ReLU"  # the second call of `relu` skips it
