"""SSD's PriorBox (shape and values) and DetectionOutput (shapes only)."""
from __future__ import annotations
import numpy as np
import pytest
from runtime_case import layer_shapes, run_layer
from purecaffe.errors import UnsupportedError


def test_prior_box_shape_and_values() -> None:
    text = ('type: "PriorBox" prior_box_param { min_size: 30 max_size: 60 aspect_ratio: 2 flip: true clip: false '
            'variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step: 8 offset: 0.5 }')
    assert layer_shapes(text, (1, 512, 38, 38), (1, 3, 300, 300))[0] == [(1, 2, 38 * 38 * 4 * 4)]
    feature, image = np.zeros((1, 1, 1, 1), np.float32), np.zeros((1, 3, 100, 100), np.float32)
    (y,) = run_layer('type: "PriorBox" prior_box_param { min_size: 20 }', feature, image)
    np.testing.assert_allclose(y, [[[0.4, 0.4, 0.6, 0.6], [0.1, 0.1, 0.1, 0.1]]], rtol=1e-6)


def test_detection_output_is_shape_only() -> None:
    text = 'type: "DetectionOutput" detection_output_param { num_classes: 21 }'
    assert layer_shapes(text, (1, 100), (1, 50), (1, 2, 100))[0] == [(1, 1, 1, 7)]
    with pytest.raises(UnsupportedError, match="shape inference only"):
        run_layer(text, np.zeros((1, 100)), np.zeros((1, 50)), np.zeros((1, 2, 100)))
