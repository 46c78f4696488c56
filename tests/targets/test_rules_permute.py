"""Permute as one-hot Convolutions (`purecaffe.targets.rules_permute`): every permutation of a 4-D blob
and the transformers' (N, C, H*W) -> (N, H*W, C), in the runtime and in real Caffe, on the targets
without Permute (bvlc, caffe1) and NNIE (Permute (0, 2, 3, 1) only, no batch-folding Reshape).

The outputs must be bit-identical to PyTorch's: each is 1 x one input plus exact zeros (the module's
docstring), so the tolerance is 0.  Up to `PREFER_SLICES` tops the Slice rewrite is used; the
permutation tests set that bound to 0 so the Convolutions are what runs.
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import purecaffe
from purecaffe.canonical import Blob, builders
from purecaffe.converter import UnsupportedOpsError
from purecaffe.targets import get_target, rules_permute
from purecaffe.targets.lint import lint_file
from purecaffe.targets.rules import legalize
from purecaffe.targets.target import Limit

ORDERS = [order for order in itertools.permutations(range(4)) if order != (0, 1, 2, 3)]
# Odd sizes, a batch of 2 (so a move of axis 0 moves data) and 1155 = 3 x 5 x 7 x 11 flattened positions.
SHAPE = (2, 3, 5, 7)


class _Permutes(nn.Module):
    """Every order in `orders` of the input (one output each; + 1 so none is the input itself)."""

    def __init__(self, orders: list[tuple[int, ...]]) -> None:
        super().__init__()
        self.orders = orders

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(x.permute(*order) + 1.0 for order in self.orders)


class _Tokens(nn.Module):
    """A transformer's patch tokens: (N, C, H, W) -> (N, H*W, C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2) + 1.0


def _runtime_outputs(net: purecaffe.ConvertedNet, x: torch.Tensor, tmp_path: Path) -> dict[str, np.ndarray]:
    files = net.save(tmp_path / "net")
    result = purecaffe.run(str(files.prototxt), str(files.caffemodel), {net.input_names[0]: x.numpy()})
    return {name: result.blobs[name] for name in net.output_names}


def _orders_for(target: str) -> list[tuple[int, ...]]:
    """NNIE works on nothing along the batch axis: there only the orders that keep axis 0 first."""
    return [order for order in ORDERS if target != "nnie" or order[0] == 0]


@pytest.mark.parametrize("size, factors", [(35, [35]), (64, [64]), (1024, [32, 32]), (1155, [33, 35]),
                                           (4096, [64, 64]), (3136, [56, 56]), (130, [10, 13]), (4099, [4099]),
                                           (2 * 4099, [2, 4099])])
def test_split_size_takes_the_fewest_factors_of_at_most_64(size: int, factors: list[int]) -> None:
    assert rules_permute.split_size(size) == factors


def test_refined_drops_unit_axes_merges_neighbours_and_splits() -> None:
    # NHWC of (3, 5, 7): C stays, H and W stay neighbours (35: one factor)
    assert rules_permute.refined([3, 5, 7], [1, 2, 0]) == ([3, 35], [1, 0])
    # a 1 x 4096 x 60 transpose: the unit axis goes, 4096 becomes 64 x 64
    assert rules_permute.refined([1, 60, 4096], [0, 2, 1]) == ([60, 64, 64], [1, 2, 0])


@pytest.mark.parametrize("target", ["bvlc", "caffe1", "nnie"])
def test_every_permutation_in_the_runtime(target: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every permutation of an odd-sized 4-D blob through one-hot Convolutions: bit-identical to PyTorch, and
    the file holds only what the catalog allows the target (no Permute it refuses, no Slice)."""
    monkeypatch.setattr(rules_permute, "PREFER_SLICES", 0)
    orders = _orders_for(target)
    model = _Permutes(orders).eval()
    x = torch.randn(*SHAPE, generator=torch.Generator().manual_seed(0))
    net = purecaffe.convert(model, (x,), target=target)
    types = [layer.type for layer in net.net.layer]
    assert "Slice" not in types and types.count("Permute") == sum(order == (0, 2, 3, 1) for order in orders
                                                                  if target == "nnie")
    assert "Convolution" in types
    files = net.save(tmp_path / "legal")
    assert lint_file(files.prototxt, get_target(target)) == []
    outputs = _runtime_outputs(net, x, tmp_path)
    for name, order, expected in zip(net.output_names, orders, model(x)):
        assert np.array_equal(outputs[name], expected.numpy()), (order, name)


def test_nnie_moves_inside_a_sample_with_grouped_convolutions(monkeypatch: pytest.MonkeyPatch) -> None:
    """NNIE refuses a Reshape that folds axes into the batch: a move behind another axis is a grouped
    Convolution there (group = the axes before it) and a plain one on bvlc."""
    monkeypatch.setattr(rules_permute, "PREFER_SLICES", 0)
    x = torch.randn(1, 3, 5, 7)
    model = _Permutes([(0, 1, 3, 2)]).eval()
    groups = {target: [layer.convolution_param.group for layer in purecaffe.convert(model, (x,), target=target)
                       .net.layer if layer.type == "Convolution"] for target in ("bvlc", "nnie")}
    assert groups == {"bvlc": [1], "nnie": [3]}  # W moves before H within each of the 3 channels


def test_tokens_transpose_past_the_slice_bound_uses_convolutions(tmp_path: Path) -> None:
    """(1, 7, 33, 35) -> (1, 1155, 7) would take 1155 Slice tops: two one-hot Convolutions of 33 and 35 taps."""
    x = torch.randn(1, 7, 33, 35, generator=torch.Generator().manual_seed(2))
    net = purecaffe.convert(_Tokens().eval(), (x,), target="bvlc")
    convolutions = [layer for layer in net.net.layer if layer.type == "Convolution"]
    assert [layer.convolution_param.kernel_w for layer in convolutions] == [33, 35]
    assert "Slice" not in {layer.type for layer in net.net.layer}
    assert np.array_equal(_runtime_outputs(net, x, tmp_path)[net.output_names[0]], _Tokens()(x).numpy())


def test_an_inf_input_spreads_nan_through_its_window(tmp_path: Path) -> None:
    """The stated exception: 0 x inf = NaN reaches the other outputs that read the inf's window; every
    output not NaN is still PyTorch's value."""
    x = torch.randn(1, 7, 33, 35, generator=torch.Generator().manual_seed(3))
    x[0, 2, 4, 5] = float("inf")
    net = purecaffe.convert(_Tokens().eval(), (x,), target="bvlc")
    ours, expected = _runtime_outputs(net, x, tmp_path)[net.output_names[0]], _Tokens()(x).numpy()
    nan = np.isnan(ours)
    assert nan.any() and not np.isnan(expected).any()
    assert np.array_equal(ours[~nan], expected[~nan])


def test_too_many_weights_is_declined_with_both_costs() -> None:
    """A prime 4099-position axis: 4099 Slice tops or 4099^2 weights (64.1 MB), both past their bounds."""
    x = torch.randn(1, 2, 4099)
    with pytest.raises(UnsupportedOpsError, match=r"4099 Slice tops \(more than 512\) or folded one-hot "
                                                  r"Convolutions: 16801801 weights \(64\.1 MB\), more than "
                                                  r"16777216 \(64 MB\)"):
        purecaffe.convert(_Fn().eval(), (x,), target="bvlc")


def test_nnie_declines_a_batch_move_naming_its_limit() -> None:
    """600 Slice tops, and both Convolution forms fold the batch (NNIE does nothing along it)."""
    with pytest.raises(UnsupportedOpsError, match=r"600 Slice tops .*nnie refuses their Reshape .*touches the "
                                                  r"batch axis"):
        purecaffe.convert(_Permutes([(1, 0, 2, 3)]).eval(), (torch.randn(2, 600, 5, 7),), target="nnie")


def test_slices_stand_in_where_the_convolutions_are_refused() -> None:
    """A target whose limits refuse every Convolution: a 20-top Permute (past `PREFER_SLICES`) is Slices."""
    bvlc = get_target("bvlc")
    no_convolution = dataclasses.replace(bvlc, limits=(Limit(frozenset({"Convolution"}), "test-no-convolution",
                                                             lambda layer: False, "refused", "this test"),))
    x = Blob("x", (1, 3, 20, 5))
    layers = legalize([builders.permute("p", x, "p", order=(0, 2, 1, 3))], no_convolution)
    assert {layer.type for layer in layers} == {"Slice", "Reshape", "Concat"}
    assert {layer.type for layer in legalize([builders.permute("p", x, "p", order=(0, 2, 1, 3))], bvlc)} == \
        {"Reshape", "Convolution"}


class _Fn(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2) + 1.0


@pytest.mark.real_caffe
@pytest.mark.parametrize("target", ["bvlc", "caffe1"])
def test_every_permutation_in_real_caffe(target: str, real_caffe_backend: object, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Real Caffe 1.0 runs the one-hot Convolutions (im2col + GEMM): every permutation bit-identical to PyTorch,
    and the runtime's numbers identical to real Caffe's."""
    from purecaffe.realcaffe import run_real_caffe

    monkeypatch.setattr(rules_permute, "PREFER_SLICES", 0)
    model = _Permutes(ORDERS).eval()
    x = torch.randn(*SHAPE, generator=torch.Generator().manual_seed(1))
    net = purecaffe.convert(model, (x,), target=target)
    files = net.save(tmp_path / "net")
    run = run_real_caffe(files.prototxt, files.caffemodel, {net.input_names[0]: x.numpy()},
                         backend=real_caffe_backend, snapshots=False)
    assert run.ok, run.error
    ours = _runtime_outputs(net, x, tmp_path)
    for name, order, expected in zip(net.output_names, ORDERS, model(x)):
        assert np.array_equal(np.asarray(run.blobs[name]), expected.numpy()), (order, name)
        assert np.array_equal(ours[name], np.asarray(run.blobs[name])), (order, name)


@pytest.mark.real_caffe
def test_tokens_transpose_in_real_caffe(real_caffe_backend: object, tmp_path: Path) -> None:
    """The transformer's token transpose, default bounds (1155 positions: Convolutions), in real Caffe."""
    from purecaffe.realcaffe import run_real_caffe

    x = torch.randn(1, 7, 33, 35, generator=torch.Generator().manual_seed(4))
    net = purecaffe.convert(_Tokens().eval(), (x,), target="caffe1")
    files = net.save(tmp_path / "net")
    run = run_real_caffe(files.prototxt, files.caffemodel, {net.input_names[0]: x.numpy()},
                         backend=real_caffe_backend, snapshots=False)
    assert run.ok, run.error
    assert np.array_equal(np.asarray(run.blobs[net.output_names[0]]), _Tokens()(x).numpy())
