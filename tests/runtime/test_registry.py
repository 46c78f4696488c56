"""The layer table: no duplicates, lookups name what is missing, shape and forward functions agree."""
from __future__ import annotations

import inspect

import pytest

from purecaffe.errors import UnsupportedError
from purecaffe.runtime import supported_types
from purecaffe.runtime.registry import KINDS, REGISTRY, LayerKind, build_registry, lookup

CORPUS_TYPES = {"AbsVal", "BatchNorm", "BN", "Concat", "Convolution", "Crop", "Deconvolution",
                "DepthwiseConvolution", "DetectionOutput", "Dropout", "Eltwise", "Flatten", "InnerProduct",
                "Input", "Interp", "LRN", "Normalize", "Permute", "Pooling", "PReLU", "PriorBox", "ReLU",
                "Reshape", "Scale", "Sigmoid", "Slice", "Softmax", "Upsample"}


def test_duplicate_type_is_an_error() -> None:
    kind = REGISTRY["ReLU"]
    with pytest.raises(ValueError, match="'ReLU' registered twice"):
        build_registry([kind, LayerKind("Other", kind.unpack, kind.shapes, kind.forward, aliases=("ReLU",))])


def test_unknown_type_names_it() -> None:
    with pytest.raises(UnsupportedError, match="'Yolo' is not supported"):
        lookup("Yolo")


def test_corpus_types_are_covered() -> None:
    assert CORPUS_TYPES <= set(supported_types())


def _keywords(fn) -> set[str]:
    return {name for name, p in inspect.signature(fn).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY} - {"blobs", "n_tops"}


@pytest.mark.parametrize("kind", [k for k in KINDS if k.forward is not None], ids=lambda k: k.type)
def test_shape_and_forward_functions_take_the_same_keywords(kind: LayerKind) -> None:
    if kind.shapes.__name__ == "neuron_shapes":  # shared by every neuron type, ignores their keywords
        return
    assert _keywords(kind.shapes) == _keywords(kind.forward)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.type)
def test_functions_are_named_after_their_type(kind: LayerKind) -> None:
    names = {kind.shapes.__name__, kind.unpack.__name__} | ({kind.forward.__name__} if kind.forward else set())
    assert all(name != "_" and not name.startswith("<") for name in names)
