"""The lowering registry: keys, aliases, duplicates, naming rule."""
from __future__ import annotations

import textwrap
from types import MappingProxyType

import pytest
import torch
from torch import nn

import purecaffe.converter
import purecaffe.converter.registry as registry_module
from purecaffe.converter.capture import capture
from purecaffe.converter.driver import lower
from purecaffe.converter.passes import run_passes
from purecaffe.converter.registry import Registry, RegistryError, collect, default_registry, lowering
from torch_compare import run_compare_torch


def test_default_registry_builds_without_duplicates() -> None:
    registry = default_registry()
    for key in ("aten.relu", "aten.relu_", "aten.conv2d", "aten.max_pool2d", "aten.batch_norm",
                "aten._native_batch_norm_legit_no_training", "aten.linear", "aten.hardswish"):
        assert key in registry, key
    assert registry.find("aten.relu_", "default") is registry.find("aten.relu", "default")


def test_exact_overload_wins_over_packet() -> None:
    @lowering("aten.fake")
    def lower_fake(ctx, node):  # noqa: ANN001, ANN202
        pass

    @lowering("aten.fake.Scalar")
    def lower_fake_scalar(ctx, node):  # noqa: ANN001, ANN202
        pass

    from purecaffe.converter.registry import Registry

    registry = Registry(collect([("a", lower_fake), ("b", lower_fake_scalar)]))
    assert registry.find("aten.fake", "Scalar") is lower_fake_scalar
    assert registry.find("aten.fake", "Tensor") is lower_fake
    assert registry.find("aten.other", "default") is None


def test_duplicate_key_is_an_error() -> None:
    @lowering("aten.thing", aliases=("aten.thing_",))
    def lower_thing(ctx, node):  # noqa: ANN001, ANN202
        pass

    @lowering("aten.thing_")
    def lower_thing_inplace(ctx, node):  # noqa: ANN001, ANN202
        pass

    with pytest.raises(RegistryError, match="aten.thing_ is claimed twice: by mod_a.lower_thing and by mod_b"):
        collect([("mod_a.lower_thing", lower_thing), ("mod_b.lower_thing_inplace", lower_thing_inplace)])


def test_lowerings_are_named_after_their_op() -> None:
    with pytest.raises(RegistryError, match="name it lower_<op>"):
        @lowering("aten.relu")
        def _(ctx, node):  # noqa: ANN001, ANN202
            pass


def test_keys_must_be_aten_names() -> None:
    with pytest.raises(RegistryError, match="must look like"):
        lowering("relu")


def _how_to_code() -> str:
    """The code block of the how-to at the top of `purecaffe.converter.registry`, as written there."""
    _, _, rest = (registry_module.__doc__ or "").partition("::\n\n")
    block = []
    for line in rest.splitlines():
        if line.strip() and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))


@pytest.fixture()
def how_to_lowering() -> object:
    namespace: dict[str, object] = {"__name__": "how_to"}
    exec(compile(_how_to_code(), "purecaffe/converter/registry.py (how-to)", "exec"), namespace)  # noqa: S102
    return namespace["lower_relu"]


def test_the_how_to_lowering_is_the_shipped_one(how_to_lowering: object) -> None:
    """The example builds exactly the layers the registry's own `lower_relu` builds."""
    guide = Registry(MappingProxyType({**default_registry().table, **collect([("how_to", how_to_lowering)])}))
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.ReLU()).eval()
    graph = run_passes(capture(model, (torch.randn(1, 3, 7, 9),)).graph)
    assert {node.op for node in graph.nodes} >= {"aten.relu"}
    with_guide = lower(graph, registry=guide, target="bvlc")
    shipped = lower(graph, registry=default_registry(), target="bvlc")
    assert [layer.type for layer in with_guide.layers] == ["Input", "Convolution", "ReLU", "ReLU"]
    assert with_guide.layers == shipped.layers and with_guide.records == shipped.records


def test_the_how_to_lowering_converts_a_model(how_to_lowering: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered as the guide says, it converts, and the net matches PyTorch (run_compare_torch's judge)."""
    calls = []

    @lowering("aten.relu", aliases=("aten.relu_",))
    def lower_relu(ctx, node):  # noqa: ANN001, ANN202 - counts the guide's calls
        calls.append(node.name)
        how_to_lowering(ctx, node)  # type: ignore[operator]

    guide = Registry(MappingProxyType({**default_registry().table, **collect([("how_to", lower_relu)])}))
    monkeypatch.setattr(purecaffe.converter, "default_registry", lambda: guide)
    run_compare_torch(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()), (1, 3, 5, 6),
                      expect_layers=["ReLU"])
    assert calls == ["relu"]
