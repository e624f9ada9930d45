"""Serum creatinine results in the records (issue 14 items 2 and 5): dated, with their unit
(never assumed), append-only and audited; the latest in force is the renal function of a plan
made from the records, with a warning when there is none or when it is older than the service's
limit (``IVIG_CREATININE_MAX_AGE_DAYS``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ivig.errors import Forbidden, InvalidInput, OutOfRange
from ivig.records.models import AuditEvent, CreatinineResult
from ivig.records.services import courses
from ivig.records.services.renal import DEFAULT_MAX_AGE_DAYS, add_creatinine, latest_creatinine


def _course(start: dt.date, **changes: Any) -> courses.CourseInput:
    args: dict[str, Any] = {
        "indication": "lems", "phase": "induction", "product": "privigen-us",
        "place": "hospital", "start": start, "days": 2,
    }  # fmt: skip
    return courses.CourseInput(**{**args, **changes})


def _codes(plan: Any) -> set[str]:
    return {f.code for f in plan.findings}


def test_a_result_is_recorded_with_its_unit_and_audited(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    row = add_creatinine(users["nurse"], patient.pk, today, 88.4, "µmol/L", today=today)
    assert (row.value, row.unit, row.measured_on) == (88.4, "umol/L", today)
    assert row.recorded_by == users["nurse"]
    event = AuditEvent.objects.filter(entity="creatinine", entity_id=str(row.pk)).get()
    assert (event.action, event.patient_id) == ("create", patient.pk)


@pytest.mark.parametrize(
    ("value", "unit", "days", "error", "field"),
    [
        (1.2, "", 0, InvalidInput, "unit"),  # no unit: never assumed
        (1.2, "mmol/L", 0, InvalidInput, "unit"),
        (12, "umol/L", 0, OutOfRange, "value"),  # 0.14 mg/dL: implausible (12 mg/dL is not)
        (1.2, "mg/dL", -1, InvalidInput, "measured_on"),  # tomorrow
    ],
)
def test_a_result_the_core_would_refuse_is_refused(
    users: dict[str, Any],
    patient: Any,
    today: dt.date,
    value: float,
    unit: str,
    days: int,
    error: type[Exception],
    field: str,
) -> None:
    with pytest.raises(error) as caught:
        add_creatinine(
            users["nurse"], patient.pk, today - dt.timedelta(days=days), value, unit, today=today
        )
    assert getattr(caught.value, "field", None) == field
    assert not CreatinineResult.objects.exists()


def test_a_result_before_birth_is_refused(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    with pytest.raises(InvalidInput) as caught:
        add_creatinine(users["nurse"], patient.pk, dt.date(1960, 1, 1), 1, "mg/dL", today=today)
    assert caught.value.field == "measured_on"


def test_a_pharmacist_does_not_record_results(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    with pytest.raises(Forbidden):
        add_creatinine(users["pharmacist"], patient.pk, today, 1.0, "mg/dL", today=today)


def test_no_result_warns_that_no_baseline_is_known(patient: Any, today: dt.date) -> None:
    plan = courses.plan_for(patient, _course(today))
    assert "renal-function-missing" in _codes(plan)
    assert plan.renal.egfr is None


def test_the_latest_result_is_planned_with(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    nurse = users["nurse"]
    add_creatinine(nurse, patient.pk, today - dt.timedelta(days=20), 1.0, "mg/dL", today=today)
    # the latest, in mg/dL as on the report: 12 mg/dL is a dialysis value (eGFR about 4)
    add_creatinine(nurse, patient.pk, today - dt.timedelta(days=2), 12, "mg/dL", today=today)
    assert latest_creatinine(patient).value == 12  # type: ignore[union-attr]
    plan = courses.plan_for(patient, _course(today))
    renal = plan.as_dict()["renal"]
    assert renal["inputs"]["creatinine"] == 12
    assert renal["inputs"]["creatinine_unit"] == "mg/dL"
    assert renal["formula"] == "CKD-EPI 2021"
    assert renal["egfr"] < 15
    assert renal["measured_on"] == (today - dt.timedelta(days=2)).isoformat()
    assert renal["max_age_days"] == DEFAULT_MAX_AGE_DAYS
    assert "renal-risk" in _codes(plan)
    assert "renal-function-missing" not in _codes(plan)
    # the findings the web and API show carry no CLI option (issue 14 item 15)
    assert not any("--" in f.message for f in plan.findings)
    assert any("eGFR threshold" in name for name in plan.unverified)


def test_an_egfr_given_with_the_course_comes_before_the_records(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    add_creatinine(users["nurse"], patient.pk, today, 12, "mg/dL", today=today)
    plan = courses.plan_for(patient, _course(today, egfr=75))
    assert plan.renal.basis == "egfr"
    assert plan.renal.egfr == 75


def test_a_creatinine_given_with_the_course_needs_its_unit(patient: Any, today: dt.date) -> None:
    with pytest.raises(InvalidInput) as caught:
        courses.plan_for(patient, _course(today, creatinine=1.2))
    assert caught.value.field == "creatinine_unit"
    plan = courses.plan_for(patient, _course(today, creatinine=1.2, creatinine_unit="mg/dL"))
    assert plan.renal.creatinine == 1.2


@pytest.mark.parametrize(
    ("days_old", "limit", "old"),
    [
        # the age is counted at the first dose (the course starts today here)
        (90, None, False),  # the default limit, 90 days: not older
        (91, None, True),
        (31, 30, True),  # a service that asks for a monthly result
        (30, 30, False),
    ],
)
def test_a_result_older_than_the_service_limit_warns(
    users: dict[str, Any],
    patient: Any,
    today: dt.date,
    settings: Any,
    days_old: int,
    limit: int | None,
    old: bool,
) -> None:
    if limit is not None:
        settings.IVIG_CREATININE_MAX_AGE_DAYS = limit
    measured = today - dt.timedelta(days=days_old)
    add_creatinine(users["nurse"], patient.pk, measured, 1.0, "mg/dL", today=today)
    plan = courses.plan_for(patient, _course(today))
    assert ("renal-function-old" in _codes(plan)) is old
    assert plan.as_dict()["renal"]["age_days"] == days_old


def test_a_result_is_corrected_or_voided_never_overwritten(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    from ivig.records.services import corrections

    nurse = users["nurse"]
    row = add_creatinine(nurse, patient.pk, today, 1.2, "mg/dL", today=today)
    with pytest.raises(OutOfRange):  # the unit alone changed: 1.2 umol/L is implausible
        corrections.correct(nurse, "creatinine", row.pk, {"unit": "umol/L"}, "unit")
    fixed = corrections.correct(nurse, "creatinine", row.pk, {"value": 1.4}, "misread report")
    assert (fixed.value, fixed.unit) == (1.4, "mg/dL")  # type: ignore[attr-defined]
    assert latest_creatinine(patient) == fixed
    row.refresh_from_db()
    assert (row.value, row.unit) == (1.2, "mg/dL")  # the original is kept as it was
    corrections.void(nurse, "creatinine", fixed.pk, "another patient's result")
    assert latest_creatinine(patient) is None
    assert "renal-function-missing" in _codes(courses.plan_for(patient, _course(today)))
