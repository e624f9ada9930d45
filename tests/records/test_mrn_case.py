"""An MRN is one patient whatever its case (issue 17 item 15): ``demo-0001`` beside
``DEMO-0001`` is refused by the API, the page and the import, naming the field ``mrn``; the
stored spelling is kept; a look-up finds the patient in any case. A unique index on
``Lower("mrn")`` backs it on SQLite and PostgreSQL, and its migration (0017_mrn_case) refuses a
database that already holds such twins, naming them, rather than merging them (requirement 42:
a migration never changes clinical data silently)."""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.test import Client

from ivig.errors import Conflict
from ivig.records.models import Patient
from ivig.records.services import patients

migration = importlib.import_module("ivig.records.migrations.0017_mrn_case")
Run = Callable[[list[str]], tuple[int, str, str]]


def _input(mrn: str) -> patients.PatientInput:
    return patients.PatientInput(
        mrn=mrn,
        family_name="Hartley",
        given_name="Margaret",
        date_of_birth=dt.date(1957, 3, 14),
        sex="female",
        height_cm=163,
    )


def test_the_service_refuses_a_case_twin_and_keeps_the_spelling(
    users: dict[str, Any], today: dt.date
) -> None:
    first = patients.create_patient(users["prescriber"], _input("Demo-0001"), today=today)
    with pytest.raises(Conflict) as refused:
        patients.create_patient(users["prescriber"], _input("DEMO-0001"), today=today)
    assert refused.value.field == "mrn"
    assert "Demo-0001" in refused.value.message  # the one on file, as it is spelled
    other = patients.create_patient(users["prescriber"], _input("X-2"), today=today)
    with pytest.raises(Conflict):  # nor by an edit
        patients.update_patient(
            users["prescriber"], other.pk, other.version, _input("demo-0001"), today=today
        )
    assert Patient.objects.get(pk=first.pk).mrn == "Demo-0001"
    assert [p.pk for p in patients.search_patients("dEmO-0001")] == [first.pk]


def test_the_database_refuses_one_too(patient: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(
            mrn=patient.mrn.lower(),
            family_name="B",
            given_name="B",
            date_of_birth=dt.date(1970, 1, 1),
            sex="male",
            height_cm=170,
        )


def test_the_api_and_the_page_refuse_it(
    patient: Any, client_for: Callable[[str | None], Client]
) -> None:
    body = {
        "mrn": patient.mrn.lower(),
        "family_name": "B",
        "given_name": "B",
        "date_of_birth": "1970-01-01",
        "sex": "male",
        "height_cm": 170,
    }
    prescriber = client_for("prescriber")
    api = prescriber.post("/api/patients", body, content_type="application/json")
    assert api.status_code == 409
    assert api.json()["error"]["field"] == "mrn"
    page = prescriber.post("/patients/new/", {**body, "iga_status": "unknown"})
    assert page.status_code == 200  # the form again, with the error at the MRN
    assert f"a patient with MRN {patient.mrn} exists already".encode() in page.content
    assert Patient.objects.count() == 1


def test_the_import_refuses_it(demo: None, run: Run, tmp_path: Path) -> None:
    file = tmp_path / "patients.csv"
    file.write_text(
        "mrn,family_name,given_name,date_of_birth,sex,height_cm\n"
        "demo-0001,Hartley,Margaret,1957-03-14,female,163\n",
        encoding="utf-8",
    )
    code, out, _ = run(["import", "patients", str(file), "--as", "demo-prescriber"])
    assert code == 1
    assert out.splitlines()[0] == "row 2, mrn: a patient with MRN DEMO-0001 exists already"


def test_the_migration_names_the_twins_it_finds(patient: Any) -> None:
    """Twins made before the index (dropped here, inside the test's transaction): the
    migration's check stops with their MRNs and ids."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {migration.INDEX}")
    twin = Patient.objects.create(
        mrn=patient.mrn.lower(),
        family_name="B",
        given_name="B",
        date_of_birth=dt.date(1970, 1, 1),
        sex="male",
        height_cm=170,
    )
    with pytest.raises(RuntimeError) as stopped:
        migration.refuse_case_twins(apps, None)
    message = str(stopped.value)
    assert f"{patient.mrn} (id {patient.pk})" in message
    assert f"{twin.mrn} (id {twin.pk})" in message
    assert "differ only in case" in message
