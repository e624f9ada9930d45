"""CSV injection (issue 17 item 7; OWASP "CSV Injection"): a cell the app writes that starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with ``'`` so that a
spreadsheet shows it as text, never runs it as a formula; in every CSV the app writes (the
exports go through ``csv_io.write_rows``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest

from ivig.interop import csv_io

Run = Callable[[list[str]], tuple[int, str, str]]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1", "'+1"),
        ("-1.5", "'-1.5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("DEMO-0001", "DEMO-0001"),
        ("a=b", "a=b"),
        ("", ""),
        (12, "12"),
        (-3, "'-3"),
    ],
)
def test_a_formula_cell_is_written_as_text(value: object, cell: str) -> None:
    assert csv_io.safe_cell(value) == cell
    text = csv_io.rows_to_csv(["a"], [{"a": value}])
    assert list(csv.reader(io.StringIO(text, newline="")))[1] == [cell]


def test_every_export_neutralises_an_mrn_and_a_lot(demo: dict[str, Any], run: Run) -> None:
    from ivig.records.models import Lot, Patient

    for patient in Patient.objects.all():
        Patient.objects.filter(pk=patient.pk).update(mrn=f"={patient.pk}+2")
    Lot.objects.update(lot_number='=HYPERLINK("http://evil.example","lot")')
    for what in ("infusions", "outcomes"):
        code, out, err = run(["export", "csv", what, "--all"] if what == "outcomes" else
                             ["export", "csv", what])  # fmt: skip
        assert code == 0, err
        cells = [c for row in csv.reader(io.StringIO(out, newline="")) for c in row]
        assert not [c for c in cells if c[:1] in csv_io.FORMULA_STARTS], what
        assert any(c.startswith("'=") and c.endswith("+2") for c in cells), what
        if what == "infusions":
            assert any(c.startswith("'=HYPERLINK(") for c in cells)
