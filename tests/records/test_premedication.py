"""What carries to the next dose (issue 16 item 6): premedication ordered and given, the last
reaction on the next run sheet, and the prescriber's decision capping the next doses' rates.

Day 1 is the ``dispensed`` order (steps 25.5, 51, 102, 204, 408 mL/h, 30 minutes each),
started at 13:00 today; a mild reaction at 51 mL/h 40 minutes in: the last tolerated rate is
25.5 mL/h. Day 2 is the course's second order, tomorrow."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ivig.errors import Conflict, Forbidden, HardLimit, InvalidInput, InvalidTime
from ivig.records.models import AuditEvent, Course, Order, PrescriberTask, Reaction
from ivig.records.services import courses, infusions, orders, premedication

PARACETAMOL = premedication.PremedicationInput("paracetamol", "1 g", "oral", "30 min before")
NORMAL = {"pulse_per_min": 74, "systolic_mm_hg": 124, "diastolic_mm_hg": 76}


def _day1_reaction(
    users: dict[str, Any], order: Order, start_chair: Any, now: dt.datetime, **options: Any
) -> Reaction:
    start = now - dt.timedelta(hours=5)
    start_chair(order, start)
    nurse = users["nurse"]
    at30 = start + dt.timedelta(minutes=30)
    infusions.record_vitals(nurse, order.pk, at30, infusions.VitalsInput(**NORMAL), now=now)
    version = Order.objects.get(pk=order.pk).session.version
    infusions.record_rate(nurse, order.pk, version, at30, 51, now=now)
    version = Order.objects.get(pk=order.pk).session.version
    return infusions.record_reaction(
        nurse,
        order.pk,
        version,
        start + dt.timedelta(minutes=40),
        ["headache", "chills"],
        "pump paused",
        now=now,
        **options,
    )


def _day2(users: dict[str, Any], day1: Order, tomorrow_9: dt.datetime) -> Order:
    """Day 2 re-planned by the prescriber after the decision, verified and dispensed."""
    course = Course.objects.get(pk=day1.course_id)
    if course.replan_needed:  # a capped ramp: the later doses are planned again with the cap
        courses.replan(users["prescriber"], course.pk, course.version, "capped after day 1")
    order = day1.course.orders.get(sequence=2)
    midnight = tomorrow_9.replace(hour=0)
    order = orders.verify(users["pharmacist"], order.pk, order.version, now=midnight)
    expiry = day1.date + dt.timedelta(days=400)
    lots = [orders.LotInput("P1", expiry, 40, 2), orders.LotInput("P2", expiry, 5, 1)]
    return orders.dispense(users["pharmacist"], order.pk, order.version, lots, now=midnight)


@pytest.fixture
def tomorrow_9(chair_now: dt.datetime) -> dt.datetime:
    return (chair_now + dt.timedelta(days=1)).replace(hour=9)


def test_the_last_reaction_shows_on_the_next_dose(
    users: dict[str, Any], dispensed: Order, start_chair: Any, chair_now: dt.datetime
) -> None:
    reaction = _day1_reaction(users, dispensed, start_chair, chair_now)
    day2 = dispensed.course.orders.get(sequence=2)
    last = premedication.last_reaction(day2)
    assert last is not None
    assert last.reaction.pk == reaction.pk
    assert (last.rate_ml_per_h, last.tolerated_ml_per_h) == (51, 25.5)
    assert last.order.pk == dispensed.pk
    assert last.symptoms == "headache, chills"
    assert last.decision is None
    assert premedication.last_reaction(dispensed) is None  # not the day's own reaction
    assert premedication.rate_cap(day2) is None  # no decision yet: no cap


def test_a_capped_ramp_caps_the_next_doses_rates(
    users: dict[str, Any],
    dispensed: Order,
    start_chair: Any,
    chair_now: dt.datetime,
    tomorrow_9: dt.datetime,
) -> None:
    reaction = _day1_reaction(users, dispensed, start_chair, chair_now)
    decided = premedication.decide(
        users["prescriber"],
        reaction.pk,
        premedication.Decision("capped", note="slower"),
        now=chair_now,
    )
    assert decided.max_ml_per_h == 25.5
    assert AuditEvent.objects.filter(entity="reaction-decision", action="create").count() == 1
    day2 = _day2(users, dispensed, tomorrow_9)
    cap = premedication.rate_cap(day2)
    assert cap is not None
    assert cap.max_ml_per_h == 25.5
    later = tomorrow_9 + dt.timedelta(hours=9)
    start_chair(day2, tomorrow_9, now=later)
    nurse = users["nurse"]
    at31 = tomorrow_9 + dt.timedelta(minutes=31)
    infusions.record_vitals(nurse, day2.pk, at31, infusions.VitalsInput(**NORMAL), now=later)
    version = Order.objects.get(pk=day2.pk).session.version
    with pytest.raises(HardLimit, match=f"cap after the reaction on {dispensed.date}") as caught:
        infusions.record_rate(nurse, day2.pk, version, at31, 51, now=later)
    assert caught.value.rule == "above-last-tolerated"
    infusions.record_rate(nurse, day2.pk, version, at31, 25.5, now=later)  # at the cap: fine


def test_the_start_runs_at_the_cap_when_the_first_step_is_above_it(
    users: dict[str, Any],
    dispensed: Order,
    start_chair: Any,
    chair_now: dt.datetime,
    tomorrow_9: dt.datetime,
) -> None:
    reaction = _day1_reaction(users, dispensed, start_chair, chair_now)
    premedication.decide(
        users["prescriber"],
        reaction.pk,
        premedication.Decision("capped", max_ml_per_h=20),
        now=chair_now,
    )
    day2 = _day2(users, dispensed, tomorrow_9)
    session = start_chair(day2, tomorrow_9, now=tomorrow_9 + dt.timedelta(hours=9))
    assert session.rate_changes.get().rate_ml_per_h == 20


def test_the_same_ramp_sets_no_cap_and_a_decision_is_made_once(
    users: dict[str, Any], dispensed: Order, start_chair: Any, chair_now: dt.datetime
) -> None:
    reaction = _day1_reaction(users, dispensed, start_chair, chair_now)
    with pytest.raises(Forbidden):
        premedication.decide(
            users["nurse"], reaction.pk, premedication.Decision("same"), now=chair_now
        )
    with pytest.raises(InvalidInput, match=r"at most the tolerated 25\.5"):
        premedication.decide(
            users["prescriber"],
            reaction.pk,
            premedication.Decision("capped", max_ml_per_h=30),
            now=chair_now,
        )
    premedication.decide(
        users["prescriber"], reaction.pk, premedication.Decision("same"), now=chair_now
    )
    assert premedication.rate_cap(dispensed.course.orders.get(sequence=2)) is None
    with pytest.raises(Conflict, match="recorded already"):
        premedication.decide(
            users["prescriber"], reaction.pk, premedication.Decision("capped"), now=chair_now
        )


def test_closing_the_reaction_task_records_the_decision(
    users: dict[str, Any], dispensed: Order, start_chair: Any, chair_now: dt.datetime
) -> None:
    _day1_reaction(users, dispensed, start_chair, chair_now, medicines_given="paracetamol 1 g")
    task = PrescriberTask.objects.get()
    decision = premedication.Decision("capped", premedicate=True, note="premedicate day 2")
    infusions.acknowledge_task(
        users["prescriber"], task.pk, "seen", decision=decision, now=chair_now
    )
    last = premedication.last_reaction(dispensed.course.orders.get(sequence=2))
    assert last is not None
    assert last.decision is not None
    assert (last.decision.ramp, last.decision.premedicate) == ("capped", True)


def test_premedication_ordered_for_the_rest_of_the_course_and_given(
    users: dict[str, Any],
    dispensed: Order,
    chair_now: dt.datetime,
    tomorrow_9: dt.datetime,
) -> None:
    with pytest.raises(Forbidden):
        premedication.order_premedication(
            users["nurse"], dispensed.course_id, PARACETAMOL, now=chair_now
        )
    with pytest.raises(InvalidInput, match="give the dose"):
        premedication.order_premedication(
            users["prescriber"],
            dispensed.course_id,
            premedication.PremedicationInput("paracetamol", " ", "oral", "30 min before"),
            now=chair_now,
        )
    ordered = premedication.order_premedication(
        users["prescriber"], dispensed.course_id, PARACETAMOL, now=chair_now
    )
    assert ordered.from_date == timezone.localdate(chair_now)
    day2 = _day2(users, dispensed, tomorrow_9)
    assert list(premedication.premedications_for(day2)) == [ordered]
    assert list(premedication.premedications_for(dispensed)) == [ordered]  # today's too
    later = tomorrow_9 + dt.timedelta(hours=1)
    with pytest.raises(Forbidden):
        premedication.record_given(users["prescriber"], day2.pk, ordered.pk, tomorrow_9, now=later)
    with pytest.raises(InvalidTime, match="given that day"):
        premedication.record_given(users["nurse"], day2.pk, ordered.pk, chair_now, now=later)
    with pytest.raises(InvalidTime, match="future"):
        premedication.record_given(users["nurse"], day2.pk, ordered.pk, later, now=tomorrow_9)
    given = premedication.record_given(
        users["nurse"], day2.pk, ordered.pk, tomorrow_9, note="with water", now=later
    )
    assert list(premedication.given_for(day2)) == [given]
    assert AuditEvent.objects.filter(entity="premedication-given").count() == 1
    assert AuditEvent.objects.filter(entity="premedication").count() == 1
    with pytest.raises(Conflict, match="already"):
        premedication.record_given(users["nurse"], day2.pk, ordered.pk, tomorrow_9, now=later)


def test_premedication_for_one_infusion_only(
    users: dict[str, Any], dispensed: Order, chair_now: dt.datetime
) -> None:
    day2 = dispensed.course.orders.get(sequence=2)
    ordered = premedication.order_premedication(
        users["prescriber"], dispensed.course_id, PARACETAMOL, order_id=day2.pk, now=chair_now
    )
    assert list(premedication.premedications_for(day2)) == [ordered]
    assert not premedication.premedications_for(dispensed).exists()
