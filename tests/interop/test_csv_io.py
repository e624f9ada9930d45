"""The pure part of the CSV exchange: the import's header and rows, the writing of rows."""

from __future__ import annotations

import csv
import datetime as dt
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


def _row(**cells: str) -> dict[str, str]:
    base = {
        "mrn": "A1",
        "family_name": "Smith",
        "given_name": "Anna",
        "date_of_birth": "1970-02-03",
        "sex": "Female",
        "height_cm": "165",
    }
    return {**base, **cells}


def test_a_row_becomes_the_service_input() -> None:
    parsed = csv_io.parse_patient_row(
        7,
        _row(
            weight_kg="70,5",
            weighed_on="2026-11-20",
            risk_codes=" diabetes ; ;thrombosis-history",
            iga_status="Normal",
            allergies="penicillin",
        ),
    )
    assert parsed.row == 7
    assert parsed.patient.mrn == "A1"
    assert parsed.patient.date_of_birth == dt.date(1970, 2, 3)
    assert parsed.patient.sex == "female"
    assert parsed.patient.height_cm == 165
    assert parsed.patient.risk_codes == ("diabetes", "thrombosis-history")
    assert parsed.patient.iga_status == "normal"
    assert parsed.patient.allergies == "penicillin"
    assert (parsed.weight_kg, parsed.weighed_on) == (70.5, dt.date(2026, 11, 20))
    plain = csv_io.parse_patient_row(2, _row())
    assert (plain.weight_kg, plain.weighed_on, plain.patient.iga_status) == (None, None, "unknown")


@pytest.mark.parametrize(
    ("cells", "column", "message"),
    [
        ({"date_of_birth": "1960-13-01"}, "date_of_birth", "'1960-13-01' is not a date"),
        ({"date_of_birth": "03/02/1970"}, "date_of_birth", "is not a date (YYYY-MM-DD)"),
        ({"height_cm": "tall"}, "height_cm", "'tall' is not a number"),
        ({"height_cm": "nan"}, "height_cm", "'nan' is not a number"),
        ({"weight_kg": "7o"}, "weight_kg", "'7o' is not a number"),
        ({"given_name": "  "}, "given_name", "given_name is required"),
        ({"weighed_on": "2026-11-20"}, "weighed_on", "a weighing date needs a weight"),
    ],
)
def test_a_bad_cell_names_its_column(cells: dict[str, str], column: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        csv_io.parse_patient_row(3, _row(**cells))
    assert caught.value.field == column
    assert message in caught.value.message


def test_a_row_with_extra_cells_is_refused() -> None:
    rows = csv_io.read_patient_rows(HEADER + "\nA1,Smith,Anna,1970-02-03,female,165,surplus\n")
    with pytest.raises(InvalidInput, match="more cells than the header") as caught:
        csv_io.parse_patient_row(*rows[0])
    assert caught.value.field is None


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
