"""What patients report (issue 7): the day-before check flags the next infusion for review and
cancels nothing; a patient reports only on their own next order; the diary's serious symptoms
raise an alert until a nurse or prescriber closes it (tests/records/test_alerts.py); the MG-ADL
check-in is saved as a patient-reported outcome. Every write is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from ivig.errors import Forbidden, InvalidInput, NotFound
from ivig.records.models import (
    AuditEvent,
    DayBeforeCheck,
    DiaryEntry,
    InfusionSession,
    Order,
    OrderStatus,
    Outcome,
    RateChange,
)
from ivig.records.services import alerts, courses
from ivig.records.services import patient_reports as reports

NO = {q.key: False for q in reports.CHECK_QUESTIONS}


def _events(after: int, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=after, action=action).order_by("seq"))


def _last() -> int:
    return int(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


@pytest.fixture
def tomorrow_order(dispensed: Order) -> Order:
    """Day 2 of the course, dated tomorrow, planned: the patient's next infusion."""
    order = dispensed.course.orders.get(sequence=2)
    assert order.date == timezone.localdate() + dt.timedelta(days=1)
    return order


@pytest.fixture
def other(users: dict[str, Any], make_patient: Callable[..., Any]) -> Order:
    """Another patient's order dated tomorrow."""
    today = timezone.localdate()
    someone = make_patient(
        165, 70, weighed=today, mrn="MRN0002", family_name="Other", given_name="Olive",
        date_of_birth=dt.date(1970, 1, 1), sex="female",
    )  # fmt: skip
    course = courses.prescribe(
        users["prescriber"],
        someone.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today + dt.timedelta(days=1), days=2,
        ),
    )  # fmt: skip
    return course.orders.get(sequence=1)


def _check(me: User, order: Order, **yes: bool) -> DayBeforeCheck:
    now = timezone.now()
    return reports.day_before_check(
        me, order.pk, {**NO, **yes}, today=timezone.localdate(now), now=now
    )


@pytest.mark.parametrize("key", [q.key for q in reports.CHECK_QUESTIONS if q.review])
def test_each_answer_that_calls_for_it_flags_the_infusion_and_cancels_nothing(
    me: User, tomorrow_order: Order, key: str
) -> None:
    before = Order.objects.get(pk=tomorrow_order.pk)
    start = _last()
    check = _check(me, tomorrow_order, **{key: True})
    assert check.needs_review
    question = next(q for q in reports.CHECK_QUESTIONS if q.key == key)
    assert check.flags == [question.flag]
    after = Order.objects.get(pk=tomorrow_order.pk)
    assert (after.status, after.version, after.date) == (before.status, before.version, before.date)
    [event] = _events(start, "create")
    assert (event.entity, event.patient_id, event.actor) == (
        "day-before check", tomorrow_order.patient_id, "edward",
    )  # fmt: skip


def test_all_no_or_new_medicines_alone_need_no_review_but_show_the_medicines(
    me: User, tomorrow_order: Order
) -> None:
    assert not _check(me, tomorrow_order).needs_review
    meds = _check(me, tomorrow_order, new_medicines=True)
    assert not meds.needs_review
    assert meds.flags == ["new medicines"]
    both = _check(me, tomorrow_order, new_medicines=True, fever=True)
    assert both.needs_review
    assert both.flags == ["fever", "new medicines"]
    assert reports.latest_check(tomorrow_order) == both


def test_only_the_patients_own_next_order(
    me: User, dispensed: Order, tomorrow_order: Order, other: Order
) -> None:
    assert reports.next_order(tomorrow_order.patient, timezone.localdate()) == tomorrow_order
    with pytest.raises(NotFound):
        _check(me, other, fever=True)  # another patient's order: as if it did not exist
    with pytest.raises(InvalidInput):
        _check(me, dispensed, fever=True)  # today's order is not the next one
    Order.objects.filter(pk=tomorrow_order.pk).update(status=OrderStatus.cancelled)
    assert reports.next_order(tomorrow_order.patient, timezone.localdate()) is None
    with pytest.raises(InvalidInput):
        _check(me, tomorrow_order, fever=True)
    assert not DayBeforeCheck.objects.exists()


def test_staff_cannot_answer_as_a_patient(users: dict[str, Any], tomorrow_order: Order) -> None:
    with pytest.raises(Forbidden):
        _check(users["nurse"], tomorrow_order, fever=True)


@pytest.mark.parametrize(
    ("symptoms", "expected"),
    [
        ({"headache": "mild", "nausea": "moderate"}, False),
        ({"headache": "severe"}, True),
        ({"breathing": "mild"}, True),
        ({"chest_pain": "mild"}, True),
        ({"less_urine": "mild"}, True),
        ({"leg": "moderate"}, True),
        ({"leg": "none", "breathing": "none"}, False),
        ({}, False),
    ],
)
def test_what_is_serious(symptoms: dict[str, str], expected: bool) -> None:
    assert reports.serious(symptoms) is expected


@pytest.fixture
def given(dispensed: Order, users: dict[str, Any]) -> Order:
    """Today's infusion, given at up to 336 mL/h and completed."""
    now = timezone.now()
    session = InfusionSession.objects.create(order=dispensed, state="closed", started_at=now)
    for rate in (50, 336, 200):
        RateChange.objects.create(
            session=session, at=now, rate_ml_per_h=rate, recorded_by=users["nurse"]
        )
    Order.objects.filter(pk=dispensed.pk).update(status=OrderStatus.completed)
    return Order.objects.get(pk=dispensed.pk)


def _diary(me: User, symptoms: dict[str, str], day: dt.date | None = None) -> DiaryEntry:
    now = timezone.now()
    today = timezone.localdate(now)
    return reports.diary_entry(me, day or today, symptoms, today=today, now=now)


def test_a_serious_entry_alerts_until_closed(me: User, users: dict[str, Any], given: Order) -> None:
    patient = given.patient
    mild = _diary(me, {"headache": "mild"})
    assert not mild.serious
    assert mild.order == given
    assert reports.open_alerts(patient) == []
    start = _last()
    entry = _diary(me, {"leg": "mild"})
    assert entry.serious
    assert [a["entry"] for a in reports.open_alerts(patient)] == [entry]
    assert reports.patients_with_alerts([patient.pk]) == {patient.pk}
    assert [e.entity for e in _events(start, "create")] == ["diary entry"]
    alerts.close_alert(users["prescriber"], "diary", entry.pk, "called", "", now=timezone.now())
    assert reports.open_alerts(patient) == []
    assert reports.patients_with_alerts([patient.pk]) == set()
    [closed] = _events(start, "close")
    assert (closed.entity, closed.actor, closed.patient_id) == (
        "diary entry",
        "prescriber",
        patient.pk,
    )


def test_the_diary_days_and_answers(me: User, given: Order) -> None:
    today = timezone.localdate()
    with pytest.raises(InvalidInput):
        _diary(me, {"headache": "awful"})
    with pytest.raises(InvalidInput):
        _diary(me, {"toothache": "mild"})
    with pytest.raises(InvalidInput):
        _diary(me, {}, day=today - dt.timedelta(days=1))  # before the infusion
    with pytest.raises(InvalidInput):
        _diary(me, {}, day=today + dt.timedelta(days=1))  # the future
    Order.objects.filter(pk=given.pk).update(date=today - dt.timedelta(days=8))
    with pytest.raises(InvalidInput):
        _diary(me, {"headache": "mild"})  # no infusion in the last 7 days


def test_mild_symptoms_show_at_the_next_check_and_by_rate(
    me: User, given: Order, tomorrow_order: Order
) -> None:
    _diary(me, {"headache": "mild"})
    _diary(me, {"headache": "moderate", "nausea": "mild"})
    shown = reports.mild_since_last(tomorrow_order)
    assert shown is not None
    assert shown["order"] == given
    assert [(s["key"], s["severity"]) for s in shown["symptoms"]] == [
        ("headache", "moderate"), ("nausea", "mild"),
    ]  # fmt: skip
    [row] = reports.symptoms_by_rate(given.patient)
    assert row["top_rate"] == 336
    assert row["symptoms"][0]["name"] == "headache"
    assert reports.mild_since_last(given) is None  # nothing before the first infusion


def test_the_check_in_is_a_patient_reported_mg_adl(me: User, patient: Any) -> None:
    answers = {key: 1 for key, _, _ in reports.MGADL_ITEMS}
    answers["talking"] = 3
    start = _last()
    row = reports.checkin(me, answers, today=timezone.localdate())
    stored = Outcome.objects.get(pk=row.pk)
    assert (stored.measure, stored.value, stored.patient_reported, stored.patient_id) == (
        "mg-adl", 10.0, True, patient.pk,
    )  # fmt: skip
    assert len(reports.MGADL_ITEMS) == 8
    assert [e.entity for e in _events(start, "create")] == ["outcome"]
    [event] = _events(start, "check-in")
    assert event.after["total"] == 10.0
    with pytest.raises(InvalidInput):
        reports.checkin(me, {**answers, "talking": 4}, today=timezone.localdate())
    with pytest.raises(InvalidInput):
        reports.checkin(me, {"talking": 1}, today=timezone.localdate())
