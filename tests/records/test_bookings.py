"""Bookings (issue 18): the computed length, overlaps, opening hours, order statuses, the audit,
the re-plan flag, and two bookings racing for one chair slot."""

from __future__ import annotations

import datetime as dt
import math
import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from ivig.errors import Conflict, Forbidden, InvalidInput, InvalidTime, StaleVersion
from ivig.records import audit
from ivig.records.models import AuditEvent, Booking, BookingStatus, Order
from ivig.records.services import bookings, courses, units


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def unit(users: dict[str, Any]) -> Any:
    """A day ward open 08:00-18:00 every day, set-up 15 minutes, chairs A and B."""
    admin = users["admin"]
    made = units.create_unit(admin, "Day ward", "day-ward", 15)
    for weekday in range(7):
        units.set_hours(admin, made.pk, weekday, dt.time(8), dt.time(18))
    units.add_chair(admin, made.pk, "A")
    units.add_chair(admin, made.pk, "B")
    return made


@pytest.fixture
def course(users: dict[str, Any], patient: Any, today: dt.date) -> Any:
    """A 2-day Privigen (US) induction from today (85 g a day)."""
    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems",
            phase="induction",
            product="privigen-us",
            place="hospital",
            start=today,
            days=2,
        ),
    )


def _orders(course: Any) -> list[Order]:
    return list(course.orders.order_by("sequence"))


def _other_order(users: dict[str, Any], make_patient: Any, today: dt.date) -> Order:
    """Day 1 of another patient's induction, today."""
    other = make_patient(170, 70, mrn="MRN0002", family_name="Other")
    theirs = courses.prescribe(
        users["prescriber"],
        other.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today, days=2,
        ),
    )  # fmt: skip
    return theirs.orders.get(date=today)


def _chair(unit: Any, name: str) -> Any:
    return unit.chairs.get(name=name)


def test_length_is_set_up_pump_and_observation(
    users: dict[str, Any], unit: Any, course: Any, today: dt.date
) -> None:
    first, second = _orders(course)
    made = bookings.book(users["nurse"], first.pk, _chair(unit, "A").pk, at(today, 9))
    pump = math.ceil(sum(s["end_min"] - s["start_min"] for s in first.steps))
    # monitoring.toml: 60 minutes after a first infusion, 20 after every other
    assert (made.setup_minutes, made.pump_minutes, made.observation_minutes) == (15, pump, 60)
    assert made.length_minutes == 15 + pump + 60
    assert made.observation_reason == "first infusion"
    nxt = bookings.book(
        users["prescriber"],
        second.pk,
        _chair(unit, "A").pk,
        at(today.replace() + dt.timedelta(days=1), 9),
    )
    assert nxt.observation_minutes == 20  # day 1 is planned: counted as given


def test_overlap_on_the_chair_is_refused(
    users: dict[str, Any], unit: Any, course: Any, make_patient: Any, today: dt.date
) -> None:
    first, _ = _orders(course)
    made = bookings.book(users["nurse"], first.pk, _chair(unit, "A").pk, at(today, 8))
    order = _other_order(users, make_patient, today)
    end = made.start + dt.timedelta(minutes=made.length_minutes)
    with pytest.raises(Conflict, match="overlaps"):  # starts one minute before the first ends
        bookings.book(users["nurse"], order.pk, _chair(unit, "A").pk, end - dt.timedelta(minutes=1))
    with pytest.raises(Conflict, match="overlaps"):  # starts inside the first
        bookings.book(users["nurse"], order.pk, _chair(unit, "A").pk, at(today, 9))
    assert Booking.objects.count() == 1
    # from the first one's end, or on the other chair: booked
    later = bookings.book(users["nurse"], order.pk, _chair(unit, "A").pk, timezone.localtime(end))
    assert later.start == end
    bookings.cancel(users["nurse"], later.pk, later.version, "test")
    assert (
        bookings.book(users["nurse"], order.pk, _chair(unit, "B").pk, at(today, 9)).pk == later.pk
    )


def test_opening_hours(users: dict[str, Any], unit: Any, course: Any, today: dt.date) -> None:
    first, _ = _orders(course)
    chair = _chair(unit, "A").pk
    with pytest.raises(InvalidTime, match="open 08:00-18:00"):
        bookings.book(users["nurse"], first.pk, chair, at(today, 7, 59))
    with pytest.raises(InvalidTime, match="ends at"):  # a 5-hour booking from 14:00
        bookings.book(users["nurse"], first.pk, chair, at(today, 14))
    units.close_day(users["admin"], unit.pk, today.weekday())
    with pytest.raises(InvalidTime, match="closed"):
        bookings.book(users["nurse"], first.pk, chair, at(today, 9))
    assert units.hours_on(unit.pk, today) is None
    units.set_hours(users["admin"], unit.pk, today.weekday(), dt.time(9), dt.time(17))  # reopened
    assert units.hours_on(unit.pk, today) is not None
    with pytest.raises(InvalidTime, match="open 09:00-17:00"):
        bookings.book(users["nurse"], first.pk, chair, at(today, 8))
    with pytest.raises(InvalidTime, match="book it on that day"):
        bookings.book(users["nurse"], first.pk, chair, at(today + dt.timedelta(days=1), 9))
    with pytest.raises(InvalidTime) as caught:
        bookings.book(users["nurse"], first.pk, chair, dt.datetime.combine(today, dt.time(9)))
    assert caught.value.field == "start"
    edge = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=14)))
    with pytest.raises(InvalidTime):  # not a server error at the calendar's edge
        bookings.book(users["nurse"], first.pk, chair, edge)
    assert not Booking.objects.exists()


def test_the_last_minute_before_closing_fits(
    users: dict[str, Any], unit: Any, course: Any, today: dt.date
) -> None:
    first, _ = _orders(course)
    length = bookings.length_for(first, unit).minutes
    start = at(today, 18) - dt.timedelta(minutes=length)
    assert bookings.book(users["nurse"], first.pk, _chair(unit, "A").pk, start).start == start


@pytest.mark.parametrize("status", ["deferred", "cancelled", "completed", "in-progress"])
def test_an_order_not_to_be_given_is_not_booked(
    users: dict[str, Any], unit: Any, course: Any, today: dt.date, status: str
) -> None:
    first, _ = _orders(course)
    Order.objects.filter(pk=first.pk).update(status=status)
    with pytest.raises(Conflict, match=status):
        bookings.book(users["nurse"], first.pk, _chair(unit, "A").pk, at(today, 9))


def test_roles(users: dict[str, Any], unit: Any, course: Any, today: dt.date) -> None:
    first, _ = _orders(course)
    with pytest.raises(Forbidden):
        bookings.book(users["pharmacist"], first.pk, _chair(unit, "A").pk, at(today, 9))
    with pytest.raises(Forbidden):
        units.create_unit(users["nurse"], "Home team", "home-team", 0)
    made = bookings.book(users["admin"], first.pk, _chair(unit, "A").pk, at(today, 9))
    with pytest.raises(Forbidden):
        bookings.cancel(users["pharmacist"], made.pk, made.version, "no")
    assert [len(c.bookings) for c in bookings.day_list(users["pharmacist"], today)] == [1, 0]
    with pytest.raises(Forbidden):
        bookings.day_list(None, today)


def test_move_cancel_and_their_audit(
    users: dict[str, Any], unit: Any, course: Any, today: dt.date
) -> None:
    first, _ = _orders(course)
    made = bookings.book(users["nurse"], first.pk, _chair(unit, "A").pk, at(today, 9))
    with pytest.raises(Conflict, match="already booked"):
        bookings.book(users["nurse"], first.pk, _chair(unit, "B").pk, at(today, 9))
    moved = bookings.move(
        users["nurse"], made.pk, made.version, _chair(unit, "B").pk, at(today, 10)
    )
    assert (moved.chair.name, moved.start) == ("B", at(today, 10))
    with pytest.raises(StaleVersion):
        bookings.move(users["nurse"], made.pk, made.version, _chair(unit, "A").pk, at(today, 9))
    with pytest.raises(InvalidInput):
        bookings.cancel(users["nurse"], made.pk, moved.version, " ")
    gone = bookings.cancel(users["nurse"], made.pk, moved.version, "patient unwell")
    assert gone.status == BookingStatus.cancelled
    with pytest.raises(Conflict, match="cancelled"):
        bookings.move(users["nurse"], made.pk, None, _chair(unit, "A").pk, at(today, 9))
    events = AuditEvent.objects.filter(entity="booking", entity_id=str(made.pk)).order_by("seq")
    assert [e.action for e in events] == ["book", "move", "cancel"]
    assert all(e.patient_id == first.patient_id for e in events)
    assert events[1].before["start"] != events[1].after["start"]
    assert events[2].reason == "patient unwell"
    again = bookings.book(users["nurse"], first.pk, _chair(unit, "A").pk, at(today, 11))
    assert (again.pk, again.status, again.version) == (
        made.pk, BookingStatus.booked, gone.version + 1,
    )  # fmt: skip
    rebooked = AuditEvent.objects.filter(entity="booking", entity_id=str(made.pk)).last()
    assert rebooked is not None
    assert rebooked.action == "book"
    assert rebooked.before["status"] == "cancelled"
    assert (rebooked.after["status"], rebooked.after["version"]) == ("booked", again.version)
    assert audit.verify_chain().ok


def test_units_are_audited_and_checked(users: dict[str, Any], unit: Any) -> None:
    admin = users["admin"]
    with pytest.raises(Conflict):
        units.create_unit(admin, "day WARD", "day-ward", 10)
    with pytest.raises(InvalidInput) as caught:
        units.create_unit(admin, "Home", "castle", 10)
    assert caught.value.field == "kind"
    with pytest.raises(InvalidInput) as caught:
        units.set_hours(admin, unit.pk, 1, dt.time(18), dt.time(8))
    assert caught.value.field == "closes"
    with pytest.raises(InvalidInput) as caught:
        units.set_hours(admin, unit.pk, 7, dt.time(8), dt.time(18))
    assert caught.value.field == "weekday"
    with pytest.raises(Conflict):
        units.add_chair(admin, unit.pk, "A")
    team = units.create_unit(admin, "Home team", "home-team", 0)
    nurse = units.add_chair(admin, team.pk, "Nurse Jones", "nurse")
    assert nurse.get_kind_display() == "Visiting nurse"
    actions = set(
        AuditEvent.objects.filter(entity__in=("unit", "chair")).values_list("action", flat=True)
    )
    assert actions == {"create", "set-hours"}


def test_a_replan_that_lengthens_flags_the_booking(
    users: dict[str, Any], unit: Any, course: Any, make_patient: Any, today: dt.date
) -> None:
    """The set-up time grows to 3 hours and the course is planned again: the 08:00 booking
    now overlaps the next one on the chair, booked from its end."""
    first, _ = _orders(course)
    made = bookings.book(users["nurse"], first.pk, _chair(unit, "A").pk, at(today, 8))
    end = made.start + dt.timedelta(minutes=made.length_minutes)
    nxt = bookings.book(
        users["nurse"], _other_order(users, make_patient, today).pk, _chair(unit, "A").pk, end
    )
    units.update_unit(users["admin"], unit.pk, "Day ward", "day-ward", 180)
    assert Booking.objects.get(pk=made.pk).length_minutes == made.length_minutes  # kept
    course.refresh_from_db()
    courses.replan(users["prescriber"], course.pk, course.version, "set-up changed")
    after = Booking.objects.get(pk=made.pk)
    assert after.setup_minutes == 180
    assert after.length_minutes == made.length_minutes + 165
    assert after.no_longer_fits
    event = AuditEvent.objects.filter(entity="booking", action="replan").get()
    assert "no longer fits" in event.reason
    moved = bookings.move(
        users["nurse"], made.pk, after.version, _chair(unit, "B").pk, at(today, 8)
    )
    assert not moved.no_longer_fits  # moved where it fits
    assert not Booking.objects.get(pk=nxt.pk).no_longer_fits


def test_a_replan_that_still_fits_does_not_flag(
    users: dict[str, Any], unit: Any, course: Any, today: dt.date
) -> None:
    first, _ = _orders(course)
    made = bookings.book(users["nurse"], first.pk, _chair(unit, "A").pk, at(today, 8))
    units.update_unit(users["admin"], unit.pk, "Day ward", "day-ward", 20)
    after = bookings.flag_unfit(users["prescriber"], Order.objects.get(pk=first.pk))
    assert after is not None
    assert (after.length_minutes, after.no_longer_fits) == (made.length_minutes + 5, False)


def test_two_bookings_racing_for_one_slot_one_wins(
    live_records: None, users: dict[str, Any], unit: Any, course: Any, make_patient: Any,
    today: dt.date,
) -> None:  # fmt: skip
    """Two nurses book the same chair at the same time for two patients: one booking, one 409."""
    first, _ = _orders(course)
    order = _other_order(users, make_patient, today)
    chair = _chair(unit, "A").pk
    barrier = threading.Barrier(2)
    results: list[str] = []

    def attempt(order_id: int) -> None:
        try:
            barrier.wait(timeout=10)
            bookings.book(users["nurse"], order_id, chair, at(today, 9))
            results.append("ok")
        except Conflict:
            results.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(o,)) for o in (first.pk, order.pk)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["conflict", "ok"]
    assert Booking.objects.filter(chair_id=chair).count() == 1
    assert audit.verify_chain().ok
