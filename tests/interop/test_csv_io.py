"""The CSV format of the exchange: the import's header and rows, a cell, the writing of rows."""

from __future__ import annotations

import csv
import io

import pytest

from ivig.errors import InvalidInput
from ivig.interop import csv_io

HEADER = "mrn,family_name,given_name,date_of_birth,sex,height_cm"


def test_the_header_is_checked_before_any_row() -> None:
    with pytest.raises(InvalidInput) as caught:
        csv_io.read_patient_rows("mrn,family_name,shoe_size\nA1,Smith,44\n")
    message = caught.value.message
    assert message.startswith("FILE: the header is wrong (nothing was imported): ")
    assert "unknown column shoe_size" in message
    assert "missing required columns given_name, date_of_birth, sex, height_cm" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "FILE: the file is empty"),
        (HEADER + ",mrn\n", "repeated column mrn"),
        (HEADER + ",\n", "unknown column (empty)"),
    ],
)
def test_header_errors(text: str, expected: str) -> None:
    with pytest.raises(InvalidInput, match=expected.replace("(", r"\(").replace(")", r"\)")):
        csv_io.read_patient_rows(text)


def test_rows_are_numbered_as_a_spreadsheet_shows_them() -> None:
    text = (
        "\ufeffMRN, Family_Name ,given_name,date_of_birth,sex,height_cm\r\n"
        "A1,Smith,Anna,1970-02-03,female,165\r\n"
        ",,,,,\r\n"
        'A2,"O\'Neil, Jr",Bo,1960-01-01,male,180\r\n'
    )
    rows = csv_io.read_patient_rows(text)
    assert [n for n, _ in rows] == [2, 4]  # the blank row 3 is skipped, not renumbered
    assert rows[0][1]["mrn"] == "A1"
    assert rows[1][1]["family_name"] == "O'Neil, Jr"


def test_rows_are_written_quoted_and_read_back() -> None:
    rows = [
        {"mrn": "A1", "measure": "qmg", "value": 10, "measured_on": "2026-11-01"},
        {"mrn": 'B "2", x', "measure": "3tug", "value": None, "measured_on": "2026-11-02"},
    ]
    text = csv_io.rows_to_csv(("mrn", "measure", "value", "measured_on"), rows)
    assert text.splitlines()[0] == "mrn,measure,value,measured_on"
    assert text.endswith("\r\n")
    back = list(csv.DictReader(io.StringIO(text)))
    assert back == [
        {"mrn": "A1", "measure": "qmg", "value": "10", "measured_on": "2026-11-01"},
        {"mrn": 'B "2", x', "measure": "3tug", "value": "", "measured_on": "2026-11-02"},
    ]
    # Only the named columns are written, in their order.
    assert csv_io.rows_to_csv(("mrn",), [{"other": 1, "mrn": "A1"}]) == "mrn\r\nA1\r\n"


def test_the_error_report_lines() -> None:
    errors = [
        csv_io.RowError(3, "date_of_birth", "'x' is not a date"),
        csv_io.RowError(5, None, "the row has more cells than the header has columns"),
    ]
    assert list(csv_io.iter_errors(errors)) == [
        "row 3, date_of_birth: 'x' is not a date",
        "row 5: the row has more cells than the header has columns",
    ]


def test_a_cell_is_read_in_its_form_or_names_its_column() -> None:
    row = {"a": " 70,5 ", "b": "2026-11-20", "c": "", "d": "1.5e3", "e": "inf"}
    assert csv_io.cell_text(row, "a") == "70,5"
    assert csv_io.cell_text(row, "missing") == ""
    assert csv_io.cell_number(row, "a") == 70.5
    assert csv_io.cell_number(row, "d") == 1500
    assert csv_io.cell_number(row, "c") is None
    assert csv_io.cell_date(row, "b") is not None
    assert csv_io.cell_date(row, "c") is None
    with pytest.raises(InvalidInput) as caught:
        csv_io.cell_number(row, "e")
    assert caught.value.field == "e"
    with pytest.raises(InvalidInput, match="not a date") as caught:
        csv_io.cell_date(row, "a")
    assert caught.value.field == "a"
