"""The CSV exchange's database side: the audited exports (checked against the records of the
demo) and the patient import, one transaction per row."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.utils import timezone

from ivig.errors import Forbidden, InvalidInput
from ivig.interop import csv_io
from ivig.records.services import exchange


def _parse(columns: tuple[str, ...], rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Written as CSV and read back with the standard library (the round trip)."""
    text = csv_io.rows_to_csv(columns, rows)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == columns
    return list(reader)


def _export_events(entity: str) -> list[Any]:
    from ivig.records.models import AuditEvent

    return list(AuditEvent.objects.filter(action="export", entity=entity).order_by("seq"))


# --- exports -------------------------------------------------------------------------------------


def test_infusions_round_trip_against_the_records(demo: dict[str, Any]) -> None:
    from ivig.records.models import InfusionSession, Order, Reaction

    rows = exchange_export("infusions", demo["pharmacist"])
    back = _parse(csv_io.INFUSION_COLUMNS, rows)
    sessions = InfusionSession.objects.all()
    assert len(back) == sessions.count() == 6  # two induction days for each of three patients
    assert [r["date"] for r in back] == sorted(r["date"] for r in back)
    for row in back:
        order = Order.objects.get(pk=int(row["order_id"]))
        session = order.session
        assert row["mrn"] == order.patient.mrn
        assert row["patient_name"] == f"{order.patient.family_name}, {order.patient.given_name}"
        assert row["product"] == order.course.product_id
        assert dt.date.fromisoformat(row["date"]) == order.date
        assert float(row["dose_g"]) == order.dose_g
        assert float(row["volume_ml"]) == order.volume_ml
        terms = sorted((float(s), int(n)) for n, s in _vial_terms(row["vials"]))
        assert terms == sorted((float(v["size_g"]), int(v["count"])) for v in order.vials)
        for lot in order.lots.all():
            assert f"{lot.lot_number} ({lot.vial_size_g:g} g x {lot.count}" in row["lots"]
        started = dt.datetime.fromisoformat(row["started_at"])
        assert started.utcoffset() is not None  # ISO 8601 with the offset
        assert started == session.started_at
        assert dt.datetime.fromisoformat(row["ended_at"]) == session.ended_at
        assert row["state"] == session.state == "closed"
        rates = [c.rate_ml_per_h for c in session.rate_changes.all()]
        assert float(row["max_rate_ml_per_h"]) == pytest.approx(max(rates), abs=0.001)
        assert int(row["rate_changes"]) == session.rate_changes.filter(action="change").count()
        assert int(row["rate_changes"]) > 0
        severities = list(session.reactions.values_list("severity", flat=True))
        assert row["reactions"] == ";".join(severities)
        assert int(row["observation_minutes"]) == session.observation_minutes
        assert row["nurse"] == "demo-nurse"
        assert row["verified_by"] == "demo-pharmacist"
        assert row["catalogue_version"] == order.catalogue_version
    assert [r["reactions"] for r in back].count("mild") == Reaction.objects.count() == 1


def _vial_terms(text: str) -> list[tuple[str, str]]:
    terms = []
    for term in text.split(" + "):
        count, size = term.removesuffix(" g").split(" x ")
        terms.append((count, size))
    return terms


def exchange_export(what: str, actor: Any, **kwargs: Any) -> list[dict[str, str]]:
    export = exchange.export_infusions if what == "infusions" else exchange.export_outcomes
    return export(actor, **kwargs)


def test_an_export_is_audited_per_patient(demo: dict[str, Any]) -> None:
    from ivig.records.audit import verify_chain
    from ivig.records.models import Patient

    rows = exchange_export(
        "outcomes", demo["admin"], start=dt.date(2000, 1, 1), end=dt.date(2100, 1, 1)
    )
    events = _export_events("outcomes csv")
    summary, *per_patient = events
    assert (summary.actor, summary.entity_id, summary.patient_id) == (
        "demo-admin",
        "outcomes",
        None,
    )
    assert summary.after == {
        "from": "2000-01-01",
        "to": "2100-01-01",
        "all": False,
        "rows": len(rows),
        "patients": 3,
    }
    assert {e.patient_id for e in per_patient} == set(Patient.objects.values_list("pk", flat=True))
    for event in per_patient:
        mrn = Patient.objects.get(pk=event.patient_id).mrn
        assert event.entity_id == mrn
        assert event.after["rows"] == sum(1 for r in rows if r["mrn"] == mrn) == 6
    assert verify_chain().ok


def test_outcomes_round_trip_and_corrections(demo: dict[str, Any]) -> None:
    from ivig.records.models import Outcome
    from ivig.records.services import corrections

    first = Outcome.objects.filter(measure="qmg").order_by("patient__mrn", "measured_on").first()
    assert first is not None
    corrected = corrections.correct(
        demo["prescriber"], "outcome", first.pk, {"value": first.value + 1}, "transcription slip"
    )
    back = _parse(csv_io.OUTCOME_COLUMNS, exchange_export("outcomes", demo["admin"]))
    assert len(back) == 18  # 3 patients x 3 measures x (baseline, now), in force
    assert {r["status"] for r in back} == {"in force"}
    by_key = {(r["mrn"], r["measure"], r["measured_on"]): r for r in back}
    for outcome in corrections.current(Outcome.objects.all()):
        row = by_key[(outcome.patient.mrn, outcome.measure, outcome.measured_on.isoformat())]
        assert float(row["value"]) == outcome.value
        assert row["recorded_by"] == outcome.recorded_by.username
        assert dt.datetime.fromisoformat(row["recorded_at"]) == outcome.recorded_at.replace(
            microsecond=0
        )
    key = (first.patient.mrn, "qmg", first.measured_on.isoformat())
    assert float(by_key[key]["value"]) == corrected.value == first.value + 1

    everything = _parse(
        csv_io.OUTCOME_COLUMNS, exchange_export("outcomes", demo["admin"], include_all=True)
    )
    assert len(everything) == 19
    old = [r for r in everything if r["status"] == "superseded"]
    assert len(old) == 1
    assert float(old[0]["value"]) == first.value


def test_a_voided_reaction_is_left_out_unless_all(demo: dict[str, Any]) -> None:
    from ivig.records.models import Reaction
    from ivig.records.services import corrections

    reaction = Reaction.objects.get()
    corrections.void(demo["nurse"], "reaction", reaction.pk, "recorded on the wrong patient")
    rows = exchange_export("infusions", demo["pharmacist"])
    assert all(r["reactions"] == "" for r in rows)
    rows = exchange_export("infusions", demo["pharmacist"], include_all=True)
    marked = [r["reactions"] for r in rows if r["reactions"]]
    assert marked == [f"{reaction.severity} (superseded);{reaction.severity} (entered in error)"]


def test_the_period_and_who_may_export(demo: dict[str, Any]) -> None:
    from ivig.records.models import Order

    day = Order.objects.filter(session__isnull=False).order_by("date").first()
    assert day is not None
    rows = exchange_export("infusions", demo["admin"], start=day.date, end=day.date)
    assert rows
    assert {r["date"] for r in rows} == {day.date.isoformat()}
    with pytest.raises(InvalidInput) as caught:
        exchange_export("infusions", demo["admin"], start=day.date, end=day.date - dt.timedelta(1))
    assert caught.value.field == "to"
    before = len(_export_events("infusions csv"))
    for role in ("nurse", "prescriber"):
        with pytest.raises(Forbidden):
            exchange_export("infusions", demo[role])
    assert len(_export_events("infusions csv")) == before
    exchange_export("infusions", None, system=True, reason="ivig export csv, run by ops")
    last = _export_events("infusions csv")[before]
    assert (last.actor, last.reason) == ("system", "ivig export csv, run by ops")


# --- the patient import --------------------------------------------------------------------------

TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
WEIGHED = TODAY - dt.timedelta(days=5)  # Anna's weight in the file
FILE = (
    "mrn,family_name,given_name,date_of_birth,sex,height_cm,weight_kg,weighed_on,risk_codes,"
    "iga_status\n"
    f"""NEW-1,Smith,Anna,1970-02-03,female,165,70,{WEIGHED},diabetes,normal
NEW-2,Jones,Bob,1960-13-01,male,180,,,,
NEW-3,Lee,Cara,1955-05-05,female,160,,,bogus-risk,
MRN0001,Lambert,Edward,1966-05-01,male,180,,,,
NEW-4,Tiny,Tim,1980-01-01,male,20,,,,
NEW-5,Heavy,Hal,1980-01-01,male,170,900,,,
NEW-6,Ok,Olga,1980-01-01,female,170,,,diabetes;thrombosis-history,
NEW-6,Again,Olga,1980-01-01,female,170,,,,
"""
)


def test_import_keeps_exactly_the_good_rows(users: dict[str, Any], patient: Any) -> None:
    from ivig.records.audit import verify_chain
    from ivig.records.models import AuditEvent, Patient, WeightRecord

    seen: list[tuple[int, str | None]] = []
    report = exchange.import_patients(
        users["prescriber"],
        csv_io.read_patient_rows(FILE),
        today=TODAY,
        on_row=lambda n, e: seen.append((n, e.column if e else None)),
    )
    assert report.rows == 8
    assert [(row, mrn) for row, mrn, _ in report.created] == [(2, "NEW-1"), (8, "NEW-6")]
    assert [(e.row, e.column) for e in report.errors] == [
        (3, "date_of_birth"),
        (4, "risk_codes"),
        (5, "mrn"),
        (6, "height_cm"),
        (7, "weight_kg"),  # the patient of a row whose weight is refused is not kept either
        (9, "mrn"),
    ]
    messages = {e.row: e.message for e in report.errors}
    assert "bogus-risk" in messages[4]
    assert messages[5] == "a patient with MRN MRN0001 exists already"
    assert "height 20 cm is outside" in messages[6]
    assert seen == [
        (2, None),
        (3, "date_of_birth"),
        (4, "risk_codes"),
        (5, "mrn"),
        (6, "height_cm"),
        (7, "weight_kg"),
        (8, None),
        (9, "mrn"),
    ]
    assert not report.ok

    assert sorted(Patient.objects.values_list("mrn", flat=True)) == ["MRN0001", "NEW-1", "NEW-6"]
    unchanged = Patient.objects.get(mrn="MRN0001")
    assert (unchanged.given_name, unchanged.version) == ("Edward", 1)  # never overwritten
    anna = Patient.objects.get(mrn="NEW-1")
    assert (anna.iga_status, anna.risk_codes) == ("normal", ["diabetes"])
    weight = WeightRecord.objects.get(patient=anna)
    assert (weight.measured_on, weight.weight_kg) == (WEIGHED, 70)
    olga = Patient.objects.get(mrn="NEW-6")
    assert olga.risk_codes == ["diabetes", "thrombosis-history"]
    assert not olga.weights.exists()
    for created in (anna, olga):
        event = AuditEvent.objects.get(action="create", entity="patient", patient_id=created.pk)
        assert event.actor == "prescriber"
        assert event.after["mrn"] == created.mrn
    assert AuditEvent.objects.filter(action="create", entity="weight", patient_id=anna.pk).exists()
    assert verify_chain().ok


def test_a_dry_run_checks_every_row_and_keeps_nothing(users: dict[str, Any], patient: Any) -> None:
    from ivig.records.models import AuditEvent, Patient

    events = AuditEvent.objects.count()
    report = exchange.import_patients(
        users["admin"], csv_io.read_patient_rows(FILE), today=TODAY, dry_run=True
    )
    assert report.created == []
    # Within a dry run nothing is kept, so the second NEW-6 is not yet a duplicate.
    assert report.checked == [(2, "NEW-1"), (8, "NEW-6"), (9, "NEW-6")]
    assert [e.row for e in report.errors] == [3, 4, 5, 6, 7]
    assert list(Patient.objects.values_list("mrn", flat=True)) == ["MRN0001"]
    assert AuditEvent.objects.count() == events


def test_only_a_prescriber_or_admin_imports(users: dict[str, Any]) -> None:
    from ivig.records.models import Patient

    for role in ("nurse", "pharmacist"):
        with pytest.raises(
            Forbidden, match="importing patients needs the role prescriber or admin"
        ):
            exchange.import_patients(users[role], csv_io.read_patient_rows(FILE), today=TODAY)
    assert not Patient.objects.exists()


def test_times_carry_the_service_time_zone_offset(demo: dict[str, Any]) -> None:
    from django.utils import timezone

    from ivig.records.models import InfusionSession

    with timezone.override("America/New_York"):  # UTC-5 in winter, UTC-4 in summer
        rows = exchange_export("infusions", demo["admin"])
    for row in rows:
        session = InfusionSession.objects.get(order_id=int(row["order_id"]))
        started = dt.datetime.fromisoformat(row["started_at"])
        assert row["started_at"].endswith(("-05:00", "-04:00"))
        assert started == session.started_at  # the same moment, shown in local time


# --- one row of the import as the service's input -----------------------------------------------


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
    parsed = exchange.parse_patient_row(
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
    plain = exchange.parse_patient_row(2, _row())
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
        exchange.parse_patient_row(3, _row(**cells))
    assert caught.value.field == column
    assert message in caught.value.message


def test_a_row_with_extra_cells_is_refused() -> None:
    rows = csv_io.read_patient_rows(
        ",".join(csv_io.PATIENT_REQUIRED) + "\nA1,Smith,Anna,1970-02-03,female,165,surplus\n"
    )
    with pytest.raises(InvalidInput, match="more cells than the header") as caught:
        exchange.parse_patient_row(*rows[0])
    assert caught.value.field is None
