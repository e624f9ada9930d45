"""One validation for every way in (issue 17 item 14): ``ivig import patients`` refuses what the
API and the page refuse (a NUL character, a name longer than the column), row by row, naming
the column, and stores nothing of that row; the limits are the patient service's, which the
API's schema and the page's form read (requirement 34: invalid input is refused, never stored;
requirement 5: no path around the service's rules)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from ivig.api.schemas import PatientIn
from ivig.errors import InvalidInput
from ivig.records.services import patients
from ivig.web.forms import PatientForm

Run = Callable[[list[str]], tuple[int, str, str]]
HEADER = "mrn,family_name,given_name,date_of_birth,sex,height_cm,notes\n"


@pytest.mark.parametrize(
    ("row", "report"),
    [
        ("CSV-1,Nul\0l,Anna,1970-01-01,female,165,", "row 2, family_name: "),
        ("CSV-1," + "L" * 200 + ",Anna,1970-01-01,female,165,", "row 2, family_name: "),
        ("CSV-1,Long,Anna,1970-01-01,female,165,a\0b", "row 2, notes: "),
        ("M" * 41 + ",Long,Anna,1970-01-01,female,165,", "row 2, mrn: "),
    ],
)
def test_the_import_refuses_what_the_api_refuses(
    demo: None, run: Run, tmp_path: Path, row: str, report: str
) -> None:
    from ivig.records.models import AuditEvent, Patient

    file = tmp_path / "patients.csv"
    file.write_text(HEADER + row + "\n", encoding="utf-8")
    before = (Patient.objects.count(), AuditEvent.objects.count())
    code, out, err = run(["import", "patients", str(file), "--as", "demo-prescriber"])
    assert code == 1
    assert out.splitlines()[0].startswith(report), out
    assert "NUL" in out or "at most" in out
    assert (
        err.splitlines()[-1] == "Error: FILE: 1 of 1 rows were not imported (see the report above)"
    )
    assert (Patient.objects.count(), AuditEvent.objects.count()) == before


def test_the_limits_are_one_table() -> None:
    """The API's schema and the page's form take their lengths from the service."""
    for name, most in patients.TEXT_MAX.items():
        if most is None:
            continue
        api = [m for m in PatientIn.model_fields[name].metadata if hasattr(m, "max_length")]
        assert api[0].max_length == most, name
        assert PatientForm.base_fields[name].max_length == most, name  # type: ignore[attr-defined]


def test_the_api_and_the_service_say_the_same(
    client_for: Callable[[str | None], Client], users: dict[str, Any], today: dt.date
) -> None:
    body = {"mrn": "X-1", "family_name": "L" * 101, "given_name": "A",
            "date_of_birth": "1970-01-01", "sex": "female", "height_cm": 165}  # fmt: skip
    api = client_for("prescriber").post("/api/patients", body, content_type="application/json")
    assert api.status_code == 422
    assert api.json()["error"]["field"] == "family_name"
    data = patients.PatientInput(
        mrn="X-1",
        family_name="L" * 101,
        given_name="A",
        date_of_birth=dt.date(1970, 1, 1),
        sex="female",
        height_cm=165,
    )
    with pytest.raises(InvalidInput) as refused:
        patients.create_patient(users["prescriber"], data, today=today)
    assert refused.value.field == "family_name"
