"""`compare_arrays`: the note on non-finite values says when fp16's range is the cause."""
from __future__ import annotations

import numpy as np
import pytest

from purecaffe.parity.compare import FP16_MAX, compare_arrays
from purecaffe.targets.judges import FP16


@pytest.mark.parametrize("peak, min_cosine, names_fp16", [
    (2.0e5, FP16.min_cosine, True),    # past fp16's range, an fp16 judge: the range is named
    (6.0e4, FP16.min_cosine, False),   # inside fp16's range: inf there is something else
    (2.0e5, None, False),              # a float32 judge: fp16 is not the question
])
def test_non_finite_note_names_fp16_range_only_where_it_is_the_cause(peak: float, min_cosine: float | None,
                                                                     names_fp16: bool) -> None:
    expected = np.array([1.0, -3.0, peak], dtype=np.float32)
    got = np.array([1.0, -3.0, np.inf], dtype=np.float32)
    *_, passed, note = compare_arrays(got, expected, rtol=FP16.rtol, atol=1e-6, min_cosine=min_cosine)
    assert not passed and note.startswith("non-finite values where torch has finite ones")
    assert (f"past fp16's largest value {FP16_MAX:g}" in note) == names_fp16, note
