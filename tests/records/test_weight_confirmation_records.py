"""Weights at the records (issue 14 item 8): a weight changed by 10 % or more from the weight
in use awaits a prescriber's confirmation with a reason before a dose is planned on it (Group
Health nursing orders: "notify the physician if it changes by 10% or more"; requirement 52);
weights dated before birth or in the future are refused.

The ``patient`` fixture: born 1966-05-01, 180 cm, 100 kg weighed 5 days before the suite's date
(dosing weight 85 kg)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from ivig.errors import CapExceeded, Conflict, Forbidden, InvalidInput
from ivig.records.models import AuditEvent
from ivig.records.services import corrections, courses
from ivig.records.services.patients import add_weight, confirm_weight, latest_weight

INDUCTION = courses.CourseInput(
    indication="lems", phase="induction", product="privigen-us", place="hospital",
    start=timezone.localdate(), days=2,
)  # fmt: skip


@pytest.fixture
def patient(make_patient: Callable[..., Any]) -> Any:
    """The suite's patient as these tests knew it, 180 cm and 100 kg: the 10 % examples."""
    return make_patient(180, 100)


def test_an_implausible_weight_does_not_raise_the_cap(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    """Issue 14 item 8: a nurse records 250 kg for a 100 kg patient; a second course was then
    accepted on it. Now no course is planned on it until a prescriber confirms it."""
    courses.prescribe(users["prescriber"], patient.pk, INDUCTION)  # 2 x 85 g on 85 kg
    typo = add_weight(users["nurse"], patient.pk, today, 250, today=today)
    assert (typo.needs_confirmation, typo.awaiting_confirmation) == (True, True)
    assert typo.change_percent == 150.0
    assert typo.compared_with.weight_kg == 100
    second = courses.CourseInput(
        indication="lems", phase="maintenance", product="privigen-us", place="hospital",
        start=today + dt.timedelta(days=7), dose_g_per_kg=0.4, every_weeks=4, count=1,
    )  # fmt: skip
    with pytest.raises(Conflict, match=r"250 kg on .* is \+150 % from 100 kg") as caught:
        courses.prescribe(users["prescriber"], patient.pk, second)
    assert caught.value.field == "weight_kg"
    assert "must confirm it" in caught.value.message
    with pytest.raises(Conflict, match="must confirm it"):  # the preview too
        courses.plan_for(patient, second)
    # voided (typed 250 for 100): planned on 100 kg again, the cap refuses the second course
    corrections.void(users["nurse"], "weight", typo.pk, "typed 250 for 100", now=timezone.now())
    with pytest.raises(CapExceeded, match="the cap is 2 g/kg in any 28 days"):
        courses.prescribe(users["prescriber"], patient.pk, second)


@pytest.mark.parametrize(
    ("new_kg", "awaits"),
    [
        # Group Health nursing orders: "changes by 10% or more" from 100 kg
        (110, True),
        (90, True),
        (109.9, False),
        (90.1, False),
    ],
)
def test_a_change_of_10_percent_or_more_awaits_confirmation(
    users: dict[str, Any], patient: Any, today: dt.date, new_kg: float, awaits: bool
) -> None:
    row = add_weight(users["nurse"], patient.pk, today, new_kg, today=today)
    assert row.awaiting_confirmation is awaits
    if awaits:
        with pytest.raises(Conflict):
            courses.plan_for(patient, INDUCTION)
    else:
        assert courses.plan_for(patient, INDUCTION).dosing_weight.actual_kg == new_kg


def test_a_prescriber_confirms_with_a_reason(
    users: dict[str, Any], patient: Any, today: dt.date, now: dt.datetime
) -> None:
    """Only a prescriber, only with a reason, once; audited with before and after; then the
    plan uses the weight."""
    row = add_weight(users["nurse"], patient.pk, today, 120, today=today)
    with pytest.raises(Forbidden):
        confirm_weight(users["nurse"], row.pk, "re-weighed", now=now)
    with pytest.raises(InvalidInput) as caught:
        confirm_weight(users["prescriber"], row.pk, "  ", now=now)
    assert caught.value.field == "reason"
    done = confirm_weight(users["prescriber"], row.pk, "re-weighed on the ward scale", now=now)
    assert (done.confirmed_by_id, done.confirmed_at) == (users["prescriber"].pk, now)
    assert not done.awaiting_confirmation
    with pytest.raises(Conflict, match="confirmed already"):
        confirm_weight(users["prescriber"], row.pk, "again", now=now)
    event = AuditEvent.objects.get(action="confirm", entity="weight")
    assert event.reason == "re-weighed on the ward scale"
    assert (event.before["confirmed_at"], event.patient_id) == (None, patient.pk)
    assert courses.plan_for(patient, INDUCTION).dosing_weight.actual_kg == 120


def test_a_weight_within_10_percent_needs_no_confirmation(
    users: dict[str, Any], patient: Any, today: dt.date, now: dt.datetime
) -> None:
    row = add_weight(users["nurse"], patient.pk, today, 101, today=today)
    with pytest.raises(Conflict, match="needs no confirmation"):
        confirm_weight(users["prescriber"], row.pk, "fine", now=now)


def test_a_new_weight_is_compared_with_the_weight_in_use(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    """A weight awaiting confirmation is not the weight in use: the next one is compared with
    the last weight that needs no confirmation or has one."""
    add_weight(users["nurse"], patient.pk, today - dt.timedelta(days=1), 250, today=today)
    row = add_weight(users["nurse"], patient.pk, today, 101, today=today)
    assert row.compared_with.weight_kg == 100
    assert not row.awaiting_confirmation
    assert courses.plan_for(patient, INDUCTION).dosing_weight.actual_kg == 101


def test_a_correction_is_compared_again(
    users: dict[str, Any], patient: Any, today: dt.date, now: dt.datetime
) -> None:
    """A corrected weight is checked as a new one: 250 corrected to 102 needs no confirmation;
    a confirmed weight corrected by 10 % or more needs it again."""
    typo = add_weight(users["nurse"], patient.pk, today, 250, today=today)
    fixed = corrections.correct(users["nurse"], "weight", typo.pk, {"weight_kg": 102},
                                "typed 250 for 102", now=now)  # fmt: skip
    assert not fixed.awaiting_confirmation
    big = add_weight(users["nurse"], patient.pk, today, 120, today=today)
    confirm_weight(users["prescriber"], big.pk, "re-weighed", now=now)
    again = corrections.correct(users["nurse"], "weight", big.pk, {"weight_kg": 140},
                                "140 on the scale", now=now)  # fmt: skip
    assert again.awaiting_confirmation
    assert again.confirmed_at is None
    with pytest.raises(Conflict, match="corrected or voided"):
        confirm_weight(users["prescriber"], big.pk, "the old one", now=now)


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (1, "in the future"),  # tomorrow
        (None, "before the date of birth"),  # the day before the patient was born
    ],
)
def test_a_weight_is_dated_between_birth_and_today(
    users: dict[str, Any],
    patient: Any,
    today: dt.date,
    now: dt.datetime,
    days: int | None,
    message: str,
) -> None:
    on = today + dt.timedelta(days=days) if days else patient.date_of_birth - dt.timedelta(days=1)
    with pytest.raises(InvalidInput, match=message) as caught:
        add_weight(users["nurse"], patient.pk, on, 100, today=today)
    assert caught.value.field == "measured_on"
    weight = latest_weight(patient)
    assert weight is not None
    with pytest.raises(InvalidInput, match=message):  # a correction is checked the same way
        corrections.correct(users["nurse"], "weight", weight.pk,
                            {"measured_on": on.isoformat()}, "date", now=now)  # fmt: skip
