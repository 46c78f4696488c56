"""`convert(..., outputs=[...])`: ending the net at module paths or values (converter/cut.py).

Small models, compared in the runtime (`backend="runtime"`); the real detectors in real
Caffe are in test_cut_zoo.py.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import purecaffe
from purecaffe.cli import main
from purecaffe.converter import list_outputs
from purecaffe.converter.capture import capture
from purecaffe.converter.cut import InlineValue, ModuleCall, format_module_outputs
from never_lowers import OP, REASON, never_lowers
from torch_compare import eager_outputs, run_compare_torch


class Block(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x)) + x


class Pair(nn.Module):
    """Returns two tensors: a cut at it gives two outputs, `pair:0` and `pair:1`."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 2, 1)
        self.b = nn.Conv2d(4, 3, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.a(x), self.b(x)


class Anchors(nn.Module):
    """Depends on no input: a cut at it would make Caffe output a constant."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("base", torch.arange(4.0))

    def forward(self) -> torch.Tensor:
        return self.base * 2


class Net(nn.Module):
    """stem -> shared block called twice -> head with a decode tail Caffe cannot take (`never_lowers`)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.block = Block(4)
        self.pair = Pair()
        self.anchors = Anchors()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block(self.block(self.stem(x)))
        a, b = self.pair(x)
        y = torch.cat([a, b], dim=1) + self.anchors()[:1].view(1, 1, 1, 1)
        return never_lowers(y.permute(0, 2, 3, 1).reshape(1, -1, 5)).softmax(-1)


def _net() -> Net:
    torch.manual_seed(0)
    return Net().eval()


X = (torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(1)),)


def test_whole_net_is_refused_for_its_tail() -> None:
    with pytest.raises(purecaffe.UnsupportedError, match=REASON):
        purecaffe.convert(_net(), X)


def test_cut_at_module_paths_in_the_order_given() -> None:
    model = _net()
    net = run_compare_torch(model, X, backend="runtime", outputs=["pair.b", "block#0", "stem"]).net
    assert net.output_names == ("pair.b", "block_0", "stem")
    assert net.graph.output_keys == ("pair.b", "block#0", "stem")
    assert net.output_shapes == {"pair.b": (1, 3, 8, 8), "block_0": (1, 4, 8, 8), "stem": (1, 4, 8, 8)}
    # Nothing past the cut is left: no Concat, no pair.a.
    assert "Concat" not in {layer.type for layer in net.net.layer}
    assert "pair.a" not in {layer.name for layer in net.net.layer}
    # The outputs are the eager model's values at those module calls.
    reference = net.torch_values(X)
    for name, value in zip(net.torch_output_names, eager_outputs(model, X, net)):
        np.testing.assert_allclose(reference[name], value.numpy(), rtol=1e-6, atol=1e-7)


def test_the_cut_report_lists_what_was_removed(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="purecaffe.converter"):
        net = purecaffe.convert(_net(), X, outputs=["block#1"])
    report = net.cut
    removed = dict(report.removed)
    assert removed["aten.permute"] == 1 and removed["aten.softmax"] == 1 and removed["aten.conv2d"] == 2
    assert removed[OP] == 1 and report.removed_ops == sum(removed.values())
    assert [(op, count) for op, count, _ in report.refused] == [(OP, 1)]  # the permute is exact now
    assert REASON in report.refused[0][2]
    assert report.describe() in caplog.text
    assert report.describe().startswith(f"cut at block#1 removes {report.removed_ops} ops (")


def test_a_cut_with_nothing_refused_says_so() -> None:
    net = purecaffe.convert(nn.Sequential(nn.Conv2d(3, 4, 1), nn.ReLU(), nn.Conv2d(4, 2, 1)).eval(), X,
                            outputs=["1"])
    assert dict(net.cut.removed) == {"aten.conv2d": 1} and net.cut.refused == ()
    assert net.cut.describe().endswith("the bvlc target could have taken all of them")


class ConstantBeside(nn.Module):
    """Returns a constant beside its head: the uncut model does not convert, for a reason other than its ops."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.head = nn.Conv2d(4, 2, 1)
        self.register_buffer("anchors", torch.ones(2, 3))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(torch.relu(self.stem(x))), self.anchors * 2


def test_a_cut_whose_removed_ops_cannot_be_judged_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="purecaffe.converter"):
        net = purecaffe.convert(ConstantBeside().eval(), X, outputs=["stem"])
    report = net.cut
    assert dict(report.removed) == {"aten.relu": 1, "aten.conv2d": 1} and report.refused == ()
    assert report.unjudged == "model output 1 is a constant, not computed from the inputs"
    assert report.describe().endswith("; whether the bvlc target could take the ops is not known: the uncut model "
                                      "does not convert (model output 1 is a constant, not computed from the inputs)")
    assert "could have taken" not in report.describe()
    assert "the removed ops cannot all be judged for bvlc" in caplog.text
    assert report.to_json()["unjudged"] == report.unjudged


def test_a_second_call_is_picked_with_its_index() -> None:
    net = run_compare_torch(_net(), X, backend="runtime", outputs=["block#1", "block.conv#0"]).net
    assert net.output_names == ("block_1", "block.conv_0")


def test_a_module_returning_two_tensors_gives_two_outputs() -> None:
    net = run_compare_torch(_net(), X, backend="runtime", outputs=["pair"]).net
    assert net.graph.output_keys == ("pair:0", "pair:1")
    assert net.output_shapes == {"pair:0": (1, 2, 8, 8), "pair:1": (1, 3, 8, 8)}


def test_a_captured_value_name_is_an_output() -> None:
    values = {entry.name for entry in list_outputs(_net(), X) if isinstance(entry, InlineValue)}
    assert "cat" in values
    net = run_compare_torch(_net(), X, backend="runtime", outputs=["cat"]).net
    assert net.output_names == ("cat",) and net.output_shapes == {"cat": (1, 5, 8, 8)}


@pytest.mark.parametrize("spec, message", [
    ("blok", "output 'blok': no such module or value in the captured model; closest: block#"),
    ("pair.c", "output 'pair.c': no such module or value in the captured model; closest: pair."),
    ("block", "output 'block': the module is called 2 times; pick one call: block#0, block#1"),
    ("block.act", "the module is called 2 times; pick one call: block.act#0, block.act#1"),
    ("block#2", "output 'block#2': no such module or value"),
    ("anchors", "output 'anchors' (mul) does not depend on the model's inputs: it is a constant"),
])
def test_bad_outputs_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(purecaffe.PurecaffeError) as raised:
        purecaffe.convert(_net(), X, outputs=[spec])
    assert message in str(raised.value)
    assert "\n" not in raised.value.one_line()
    if "closest" in message:  # every close candidate, in order of likeness
        wanted = {"blok": ("block#0", "block#1"), "pair.c": ("pair.a", "pair.b")}[spec]
        assert all(candidate in str(raised.value) for candidate in wanted)


def test_the_same_output_twice_is_an_error() -> None:
    with pytest.raises(purecaffe.PurecaffeError, match="stem given more than once"):
        purecaffe.convert(_net(), X, outputs=["stem", "stem"])


def test_listing_every_module_call() -> None:
    listing = list_outputs(_net(), X)
    calls = {entry.spec: entry for entry in listing if isinstance(entry, ModuleCall)}
    assert list(calls) == ["stem", "block#0", "block.conv#0", "block.act#0", "block#1", "block.conv#1",
                           "block.act#1", "pair", "pair.a", "pair.b", "anchors"]
    assert calls["block#1"].shapes == ((1, 4, 8, 8),) and calls["block#1"].module_type == "Block"
    assert calls["block#1"].ops == 3 and calls["block#1"].calls == 2
    assert len(calls["pair"].values) == 2
    text = format_module_outputs(listing)
    assert text.splitlines()[0].split() == ["module", "or", "value", "(outputs=...)", "type", "value", "shape", "ops"]
    assert any(line.split()[:2] == ["block.conv#1", "Conv2d"] and line.startswith("  ") for line in text.splitlines())
    assert any(line.split()[:2] == ["permute", "aten.permute"] for line in text.splitlines())


def test_capturing_twice_gives_the_same_program() -> None:
    """A model that fills a tensor cache on its first call (Ultralytics' Detect: anchors): the
    export must not leave fake tensors in it, or the next capture (verify's) differs."""

    class Cached(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 1)
            self.shape = None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.shape != x.shape:
                self.grid = torch.arange(x.shape[-1], dtype=x.dtype)
                self.shape = x.shape
            return self.conv(x) + self.grid

    model = Cached().eval()
    first, second = capture(model, X), capture(model, X)
    assert [n.name for n in first.graph.nodes] == [n.name for n in second.graph.nodes]
    assert model.shape is None and not hasattr(model, "grid")


# ------------------------------------------------------------------------------ sidecar and verify


def test_sidecar_and_verify_of_a_cut_net(tmp_path: Path) -> None:
    model = _net()
    net = purecaffe.convert(model, X, outputs=["block#1", "pair.a"])
    files = net.save(tmp_path / "cut")
    sidecar = json.loads(files.sidecar.read_text())
    assert sidecar["cut"]["outputs"] == ["block#1", "pair.a"]
    assert sidecar["cut"]["refused"][OP]["count"] == 1
    assert [o["blob"] for o in sidecar["outputs"]] == ["block_1", "pair.a"]
    assert [o["key"] for o in sidecar["outputs"]] == ["block#1", "pair.a"]
    report = purecaffe.verify(model, X, tmp_path / "cut", backend="runtime")
    assert report.passed, report.summary()
    assert report.cut == ("block#1", "pair.a")
    assert {"block_1", "pair.a"} <= {c.blob for c in report.comparisons}
    assert "net cut at block#1, pair.a: compared up to the cut" in report.summary()
    assert report.to_dict()["cut"] == ["block#1", "pair.a"]


# ------------------------------------------------------------------------------ CLI

FACTORY = "converter.test_cut:_net"


def test_cli_list_outputs_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["convert", FACTORY, "--input-shape", "1,3,8,8", "--list-outputs"]) == 0
    out = capsys.readouterr().out
    assert "block#1" in out and "4x8x8" in out and "aten.permute" in out
    assert list(tmp_path.iterdir()) == []


def test_cli_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cut"
    assert main(["convert", FACTORY, "--input-shape", "1,3,8,8", "--outputs", "pair.b, block#0", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("cut at pair.b, block#0 removes ")
    assert "outputs pair.b[1, 3, 8, 8], block_0[1, 4, 8, 8]" in printed
    assert (tmp_path / "cut.prototxt").is_file()


def test_cli_wrong_output_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["convert", FACTORY, "--input-shape", "1,3,8,8", "--outputs", "pair.bb", "-o",
                   str(tmp_path / "cut")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1
    assert "closest: pair.b" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_needs_an_output_path_unless_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", FACTORY, "--input-shape", "1,3,8,8"]) == 2
    assert "give -o OUT" in capsys.readouterr().err
