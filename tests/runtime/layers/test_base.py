"""The shared vocabulary of the layer modules: Caffe's axis rules, bottom counts, Blob::count."""
from __future__ import annotations

import pytest

from purecaffe.runtime.layers.base import LayerProblem, canonical_axis, count, need_axes, need_bottoms


@pytest.mark.parametrize(("axis", "rank", "expected"), [(0, 4, 0), (3, 4, 3), (-1, 4, 3), (-4, 4, 0)])
def test_canonical_axis_counts_negative_axes_from_the_end(axis: int, rank: int, expected: int) -> None:
    assert canonical_axis(axis, rank) == expected


@pytest.mark.parametrize("axis", [4, -5])
def test_canonical_axis_out_of_range(axis: int) -> None:
    with pytest.raises(LayerProblem, match=f"axis {axis} out of range for a 4-D blob"):
        canonical_axis(axis, 4)


def test_count_is_the_product_of_a_range_of_dims() -> None:
    assert count((2, 3, 4, 5)) == 120 and count((2, 3, 4, 5), 1) == 60 and count((2, 3, 4, 5), 1, 3) == 12
    assert count((2, 3), 2) == 1  # Caffe: the empty product


def test_bottom_counts_and_axes() -> None:
    need_bottoms([1, 2], 2)
    need_bottoms([1, 2, 3], 2, -1)
    with pytest.raises(LayerProblem, match="takes 1 bottom, got 2"):
        need_bottoms([1, 2], 1)
    with pytest.raises(LayerProblem, match="takes at least 2 bottoms, got 1"):
        need_bottoms([1], 2, -1)
    with pytest.raises(LayerProblem, match="takes 1 to 2 bottoms, got 3"):
        need_bottoms([1, 2, 3], 1, 2)
    with pytest.raises(LayerProblem, match=r"must have 4 axes, got shape \(1, 2\)"):
        need_axes((1, 2), 4)
