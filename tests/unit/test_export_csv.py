"""CSV exports never hand a spreadsheet a formula: client-sent values are made inert."""

from __future__ import annotations

import pytest

from query_api.export import _csv_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+1", "'+1+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (12, "12"),
        (True, "true"),
        (None, ""),
    ],
)
def test_formula_cells_get_a_leading_quote(value: object, cell: str) -> None:
    assert _csv_cell(value) == cell
