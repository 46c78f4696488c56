"""The lowering registry: keys, aliases, duplicates, naming rule."""
from __future__ import annotations

import pytest

from purecaffe.converter.registry import RegistryError, collect, default_registry, lowering


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
