"""A prescriber's cap after a reaction plans the later doses (issue 16's closing note): the
decision marks them "re-plan needed", the re-plan plans them with the cap as a ramp input (the
steps, the end and the booking's length follow), the cap is stored with the course's regimen
and the pharmacist's recomputation agrees.

Day 1 is the ``dispensed`` order of a 2-day Privigen induction (85 g, steps 25.5, 51, 102, 204,
408 mL/h), started at 13:00 today; a reaction at 51 mL/h 40 minutes in: tolerated 25.5 mL/h.
Day 2 is tomorrow."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ivig.errors import Conflict
from ivig.records.models import AuditEvent, Course, Order, Reaction
from ivig.records.services import bookings, courses, infusions, orders, premedication, units

NORMAL = {"pulse_per_min": 74, "systolic_mm_hg": 124, "diastolic_mm_hg": 76}
CAP_WORDS = "prescriber's cap after the reaction of {day}: 25.5 mL/h"


def _reaction(users: dict[str, Any], order: Order, start_chair: Any, now: dt.datetime) -> Reaction:
    start = now - dt.timedelta(hours=5)
    start_chair(order, start)
    at30 = start + dt.timedelta(minutes=30)
    nurse = users["nurse"]
    infusions.record_vitals(nurse, order.pk, at30, infusions.VitalsInput(**NORMAL), now=now)
    version = Order.objects.get(pk=order.pk).session.version
    infusions.record_rate(nurse, order.pk, version, at30, 51, now=now)
    version = Order.objects.get(pk=order.pk).session.version
    return infusions.record_reaction(
        nurse, order.pk, version, start + dt.timedelta(minutes=40), ["headache"], "paused",
        now=now,
    )  # fmt: skip


def _decide(users: dict[str, Any], reaction: Reaction, now: dt.datetime) -> None:
    premedication.decide(
        users["prescriber"], reaction.pk, premedication.Decision("capped"), now=now
    )


def _book(users: dict[str, Any], order: Order) -> Any:
    admin = users["admin"]
    unit = units.create_unit(admin, "Day ward", "day-ward", 15)
    for weekday in range(7):
        units.set_hours(admin, unit.pk, weekday, dt.time(8), dt.time(18))
    chair = units.add_chair(admin, unit.pk, "A")
    start = dt.datetime.combine(order.date, dt.time(9), tzinfo=timezone.get_current_timezone())
    return bookings.book(users["nurse"], order.pk, chair.pk, start)


def test_a_capped_decision_marks_the_later_dose_and_the_replan_caps_its_steps(
    users: dict[str, Any], dispensed: Order, start_chair: Any, chair_now: dt.datetime
) -> None:
    day2 = dispensed.course.orders.get(sequence=2)
    planned = [s["rate_ml_per_h"] for s in day2.steps]
    assert planned == [25.5, 51, 102, 204, 408]
    booking = _book(users, day2)
    assert not booking.no_longer_fits
    words = CAP_WORDS.format(day=dispensed.date.isoformat())
    _decide(users, _reaction(users, dispensed, start_chair, chair_now), chair_now)

    # the decision marks day 2 "re-plan needed", with the reason: nothing changed yet
    course = Course.objects.get(pk=dispensed.course_id)
    assert course.replan_needed["why"] == words
    [row] = course.replan_needed["orders"]
    assert row["id"] == day2.pk
    assert row["differences"] == ["rate steps 25.5 mL/h, not 25.5, 51, 102, 204, 408 mL/h"]
    assert row["steps_only"] is True
    marked = AuditEvent.objects.get(action="replan-needed", entity_id=str(course.pk))
    assert marked.reason == words
    assert [s["rate_ml_per_h"] for s in Order.objects.get(pk=day2.pk).steps] == planned
    with pytest.raises(Conflict, match="a prescriber must re-plan the course first"):
        orders.verify(users["pharmacist"], day2.pk, day2.version)

    # the re-plan plans day 2 with the cap as a ramp input
    done = courses.replan(users["prescriber"], course.pk, course.version, "capped after day 1")
    assert [o.pk for o in done.replanned] == [day2.pk]
    day2 = Order.objects.get(pk=day2.pk)
    assert [(s["rate_ml_per_h"], s["basis"]) for s in day2.steps] == [(25.5, words)]
    assert day2.steps[-1]["end_min"] == pytest.approx(850 / 25.5 * 60, abs=0.1)  # 33 h 20 min
    assert sum(s["volume_ml"] for s in day2.steps) == pytest.approx(day2.volume_ml)
    assert (day2.dose_g, day2.volume_ml) == (85, 850)  # the dose is the prescriber's, unchanged
    course = Course.objects.get(pk=course.pk)
    assert course.replan_needed == {}
    assert course.regimen["rate_ceiling_ml_per_h"] == 25.5
    assert course.regimen["rate_ceiling_after"] == dispensed.date.isoformat()
    [finding] = [f for f in course.plan["findings"] if f["code"] == "rate-ceiling"]
    assert (
        finding["message"]
        == f"dose 2 ({day2.date.isoformat()}): the rate steps go no higher than the {words}"
    )
    assert "NHS Borders" in finding["source"]
    assert "prescriber's decision" in finding["source"]
    replanned = AuditEvent.objects.get(action="replan", entity="order", entity_id=str(day2.pk))
    assert replanned.reason == "capped after day 1"
    # the booking's length follows the steps: 33 hours no longer fit the day ward's day
    booking.refresh_from_db()
    assert booking.no_longer_fits

    # the pharmacist's recomputation from the stored inputs agrees; the verification passes
    assert orders.recomputed_differences(day2) == []
    orders.verify(users["pharmacist"], day2.pk, day2.version)


def test_a_dispensed_next_dose_gets_the_new_steps_and_keeps_its_vials(
    users: dict[str, Any], dispensed: Order, start_chair: Any, chair_now: dt.datetime
) -> None:
    day2 = dispensed.course.orders.get(sequence=2)
    midnight = chair_now.replace(hour=0)
    day2 = orders.verify(users["pharmacist"], day2.pk, day2.version, now=midnight)
    expiry = day2.date + dt.timedelta(days=400)
    lots = [orders.LotInput("P1", expiry, 40, 2), orders.LotInput("P2", expiry, 5, 1)]
    day2 = orders.dispense(users["pharmacist"], day2.pk, day2.version, lots, now=midnight)
    _decide(users, _reaction(users, dispensed, start_chair, chair_now), chair_now)

    course = Course.objects.get(pk=dispensed.course_id)
    [row] = course.replan_needed["orders"]
    assert (row["dispensed"], row["steps_only"]) == (True, True)
    tomorrow_9 = (chair_now + dt.timedelta(days=1)).replace(hour=9)
    with pytest.raises(Conflict, match="a prescriber must re-plan the course first"):
        start_chair(day2, tomorrow_9, now=tomorrow_9)

    done = courses.replan(users["prescriber"], course.pk, course.version, "capped after day 1")
    assert (done.replanned, [o.pk for o in done.restepped]) == ((), [day2.pk])
    assert "new rate steps for the dispensed dose of" in done.summary
    day2 = Order.objects.get(pk=day2.pk)
    assert day2.status == "dispensed"
    assert [s["rate_ml_per_h"] for s in day2.steps] == [25.5]
    assert day2.lots.count() == 2  # the vials made up stand
    assert Course.objects.get(pk=course.pk).replan_needed == {}
    assert orders.recomputed_differences(day2) == []
    session = start_chair(day2, tomorrow_9, now=tomorrow_9)
    assert session.rate_changes.get().rate_ml_per_h == 25.5


def test_a_new_course_after_a_capped_decision_is_planned_with_the_cap(
    users: dict[str, Any], dispensed: Order, start_chair: Any, chair_now: dt.datetime
) -> None:
    _decide(users, _reaction(users, dispensed, start_chair, chair_now), chair_now)
    Order.objects.filter(course_id=dispensed.course_id, sequence=2).update(status="cancelled")
    later = courses.prescribe(
        users["prescriber"],
        dispensed.patient_id,
        courses.CourseInput(
            indication="lems", phase="maintenance", product="privigen-us", place="hospital",
            start=dispensed.date + dt.timedelta(days=28), dose_g_per_kg=0.4, every_weeks=4,
            count=1,
        ),
    )  # fmt: skip
    order = later.orders.get()
    assert max(s["rate_ml_per_h"] for s in order.steps) == 25.5
    assert later.regimen["rate_ceiling_ml_per_h"] == 25.5
    assert orders.recomputed_differences(order) == []
