"""Training-net layers, shapes only: DummyData, the losses (a scalar), Accuracy (+ per-class)."""
from __future__ import annotations

import pytest
from runtime_case import layer_shapes

from purecaffe.errors import ShapeError


def test_dummy_data_one_shape_for_every_top() -> None:
    tops, params = layer_shapes('type: "DummyData" dummy_data_param { shape { dim: 2 dim: 3 } }', tops=2)
    assert tops == [(2, 3), (2, 3)] and params == []


def test_dummy_data_one_shape_per_top() -> None:
    text = 'type: "DummyData" dummy_data_param { shape { dim: 2 } shape { dim: 4 dim: 5 } }'
    assert layer_shapes(text, tops=2)[0] == [(2,), (4, 5)]


def test_dummy_data_shape_count_must_fit_the_tops() -> None:
    text = 'type: "DummyData" dummy_data_param { shape { dim: 2 } shape { dim: 3 } }'
    with pytest.raises(ShapeError, match="2 shapes for 3 tops"):
        layer_shapes(text, tops=3)


def test_a_loss_is_a_scalar() -> None:
    assert layer_shapes('type: "SoftmaxWithLoss"', (4, 10), (4,))[0] == [()]


def test_accuracy_and_its_per_class_top() -> None:
    assert layer_shapes('type: "Accuracy"', (4, 10), (4,), tops=2)[0] == [(), (10,)]
