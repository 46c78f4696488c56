"""Upsample (nearest, and unpooling with a mask) and Interp (PSPNet's align-corners arithmetic)."""
from __future__ import annotations
import numpy as np
import pytest
from runtime_case import layer_shapes, run_layer


def test_upsample_nearest() -> None:
    x = np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)
    (y,) = run_layer('type: "Upsample" upsample_param { scale: 2 }', x)
    np.testing.assert_array_equal(y[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


def test_upsample_with_mask_unpools() -> None:
    x = np.array([[[[5, 6]]]], dtype=np.float32)
    mask = np.array([[[[1, 6]]]], dtype=np.float32)      # positions in the 2x4 output plane
    (y,) = run_layer('type: "Upsample" upsample_param { scale: 2 }', x, mask)
    np.testing.assert_array_equal(y[0, 0], [[0, 5, 0, 0], [0, 0, 6, 0]])


def test_interp_align_corners_hand_checked() -> None:
    x = np.array([[[[0, 1], [2, 3]]]], dtype=np.float32)
    (y,) = run_layer('type: "Interp" interp_param { zoom_factor: 2 }', x)
    np.testing.assert_allclose(y[0, 0], [[0, 0.5, 1], [1, 1.5, 2], [2, 2.5, 3]])


@pytest.mark.parametrize("param, bottom, expected", [
    ("zoom_factor: 8", (1, 150, 60, 60), (1, 150, 473, 473)),     # PSPNet conv6_interp
    ("shrink_factor: 2", (1, 3, 473, 473), (1, 3, 237, 237)),
    ("shrink_factor: 2 zoom_factor: 3", (1, 3, 9, 9), (1, 3, 13, 13)),
    ("height: 60 width: 50", (1, 3, 1, 1), (1, 3, 60, 50)),
])
def test_interp_sizes(param, bottom, expected) -> None:
    assert layer_shapes(f'type: "Interp" interp_param {{ {param} }}', bottom)[0] == [expected]


def test_interp_from_one_pixel_repeats_it() -> None:
    (y,) = run_layer('type: "Interp" interp_param { height: 3 width: 2 }', np.full((1, 2, 1, 1), 7, np.float32))
    np.testing.assert_array_equal(y, np.full((1, 2, 3, 2), 7))
