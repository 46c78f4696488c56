"""The one registry idiom: tables built once from a tuple, read-only, duplicates an error."""
from __future__ import annotations

import pytest

from purecaffe.io.blob_layouts import BLOB_ROLES
from purecaffe.manual.fillers import FILLERS
from purecaffe.manual.layouts import LAYOUTS
from purecaffe.tables import frozen_table


def test_a_name_listed_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="filler 'xavier' registered twice"):
        frozen_table([("xavier", 1), ("msra", 2), ("xavier", 3)], what="filler")


@pytest.mark.parametrize("table", [FILLERS, LAYOUTS], ids=["fillers", "layouts"])
def test_tables_are_read_only(table: object) -> None:
    with pytest.raises(TypeError):
        table["new"] = None  # type: ignore[index]


def test_every_documented_layout_has_a_layout_function() -> None:
    assert set(BLOB_ROLES) <= set(LAYOUTS)
    assert set(FILLERS) == {"constant", "uniform", "gaussian", "positive_unitball", "xavier", "msra", "bilinear"}
