"""The unit's board (issue 18): a row per day and chair with the day's hours, each booking a
block from its start for its stored length, its status (booked, no longer fits, cancelled),
today's live state from the chairs board's service, a week's span and a closed day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from ivig.errors import Forbidden, InvalidInput, NotFound
from ivig.records.models import Booking, InfusionSession, Order, Reaction
from ivig.records.services import bookings, courses, units


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def unit(users: dict[str, Any], today: dt.date) -> Any:
    """A day ward open 08:00-18:00 (17:00 tomorrow), closed the day after; chairs A and B."""
    admin = users["admin"]
    made = units.create_unit(admin, "Day ward", "day-ward", 15)
    for weekday in range(7):
        units.set_hours(admin, made.pk, weekday, dt.time(8), dt.time(18))
    tomorrow = today + dt.timedelta(days=1)
    units.set_hours(admin, made.pk, tomorrow.weekday(), dt.time(8), dt.time(17))
    units.close_day(admin, made.pk, (today + dt.timedelta(days=2)).weekday())
    units.add_chair(admin, made.pk, "B")
    units.add_chair(admin, made.pk, "A")
    return made


def _induction(users: dict[str, Any], patient: Any, today: dt.date) -> list[Order]:
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today, days=2,
        ),
    )  # fmt: skip
    return list(course.orders.order_by("sequence"))


@pytest.fixture
def booked(
    users: dict[str, Any], unit: Any, patient: Any, make_patient: Any, today: dt.date
) -> Any:
    """Lambert's day 1 on A at 08:00 and day 2 on B at 09:00; Other's day 1 on B at 08:30."""
    nurse = users["nurse"]
    mine = _induction(users, patient, today)
    other = make_patient(170, 70, mrn="MRN0002", family_name="Other", given_name="Olive")
    theirs = _induction(users, other, today)
    a, b = unit.chairs.get(name="A"), unit.chairs.get(name="B")
    return {
        "first": bookings.book(nurse, mine[0].pk, a.pk, at(today, 8)),
        "second": bookings.book(nurse, mine[1].pk, b.pk, at(today + dt.timedelta(days=1), 9)),
        "other": bookings.book(nurse, theirs[0].pk, b.pk, at(today, 8, 30)),
    }


def test_a_day_has_a_row_per_chair_with_its_blocks_in_time_order(
    users: dict[str, Any], unit: Any, booked: Any, today: dt.date
) -> None:
    rows = bookings.board(users["pharmacist"], unit.pk, today)
    assert [(r.chair.name, r.day) for r in rows] == [("A", today), ("B", today)]
    assert (rows[0].opens, rows[0].closes) == (dt.time(8), dt.time(18))
    (block,) = rows[0].blocks
    first = booked["first"]
    assert block.booking.pk == first.pk
    assert block.start == at(today, 8)
    assert block.end == at(today, 8) + dt.timedelta(minutes=first.length_minutes)
    assert first.length_minutes == (
        first.setup_minutes + first.pump_minutes + first.observation_minutes
    )
    assert (block.status, block.live) == ("booked", None)
    assert [b.booking.pk for b in rows[1].blocks] == [booked["other"].pk]  # not tomorrow's


def test_statuses_no_longer_fits_and_cancelled(
    users: dict[str, Any], unit: Any, booked: Any, today: dt.date
) -> None:
    Booking.objects.filter(pk=booked["first"].pk).update(no_longer_fits=True)
    bookings.cancel(users["nurse"], booked["other"].pk, None, "the patient is unwell")
    rows = bookings.board(users["nurse"], unit.pk, today)
    assert [b.status for b in rows[0].blocks] == ["no-longer-fits"]
    assert [(b.status, b.live) for b in rows[1].blocks] == [("cancelled", None)]


def _session(order: Order, status: str, state: str, **values: Any) -> None:
    """The order's infusion in ``state``, written directly (the states' own services are
    tested with them; here: how the board reads each)."""
    Order.objects.filter(pk=order.pk).update(status=status)
    InfusionSession.objects.update_or_create(
        order=order, defaults={"state": state, "checked_at": timezone.now(), **values}
    )


@pytest.mark.parametrize(
    ("status", "state", "started", "reaction", "live"),
    [
        ("dispensed", "not-started", False, False, "checked-in"),
        ("in-progress", "running", True, False, "running"),
        ("in-progress", "paused", True, False, "paused"),
        ("in-progress", "paused", True, True, "reaction"),
        ("in-progress", "stopped", True, True, "reaction"),
        ("in-progress", "ended", True, False, "observation"),
        ("completed", "closed", True, False, "finished"),
    ],
)
def test_today_carries_the_live_state_of_the_chairs_board(
    users: dict[str, Any],
    unit: Any,
    booked: Any,
    today: dt.date,
    now: dt.datetime,
    status: str,
    state: str,
    started: bool,
    reaction: bool,
    live: str,
) -> None:
    order = booked["first"].order
    values: dict[str, Any] = {}
    if started:
        values = {"started_at": now - dt.timedelta(hours=1), "started_by": users["nurse"]}
    if state in ("ended", "closed"):
        values |= {"ended_at": now - dt.timedelta(minutes=5), "observation_minutes": 60}
    _session(order, status, state, **values)
    if reaction:
        Reaction.objects.create(
            session=order.session, at=now - dt.timedelta(minutes=10), symptoms=["headache"],
            severity="mild", recommended={}, action_taken="paused", recorded_by=users["nurse"],
        )  # fmt: skip
    rows = bookings.board(users["nurse"], unit.pk, today, now=now)
    assert rows[0].blocks[0].live == live
    assert rows[1].blocks[0].live is None  # planned, not dispensed


def test_the_live_state_is_today_only(
    users: dict[str, Any], unit: Any, booked: Any, today: dt.date, now: dt.datetime
) -> None:
    _session(booked["first"].order, "dispensed", "not-started")
    tomorrow = now + dt.timedelta(days=1)
    rows = bookings.board(users["nurse"], unit.pk, today, now=tomorrow)
    assert rows[0].blocks[0].live is None


def test_a_week_spans_its_days_with_the_hours_of_each_and_a_closed_day(
    users: dict[str, Any], unit: Any, booked: Any, today: dt.date
) -> None:
    rows = bookings.board(users["admin"], unit.pk, today, 7)
    days = [today + dt.timedelta(days=n) for n in range(7)]
    assert [(r.day, r.chair.name) for r in rows] == [(d, c) for d in days for c in "AB"]
    tomorrow, closed = rows[2:4], rows[4:6]
    assert {(r.opens, r.closes) for r in tomorrow} == {(dt.time(8), dt.time(17))}
    assert {(r.opens, r.closes) for r in closed} == {(None, None)}
    assert [b.booking.pk for b in tomorrow[1].blocks] == [booked["second"].pk]
    assert sum(len(r.blocks) for r in rows) == 3


def test_another_unit_shows_none_of_these(
    users: dict[str, Any], booked: Any, today: dt.date
) -> None:
    other = units.create_unit(users["admin"], "Home team", "home-team", 10)
    units.add_chair(users["admin"], other.pk, "Nurse Ada", "nurse")
    rows = bookings.board(users["admin"], other.pk, today, 7)
    assert len(rows) == 7
    assert all(not r.blocks and r.opens is None for r in rows)


def test_the_days_the_unit_and_the_reader_are_checked(
    users: dict[str, Any], unit: Any, today: dt.date
) -> None:
    for days in (0, 15, True):
        with pytest.raises(InvalidInput):
            bookings.board(users["admin"], unit.pk, today, days)
    with pytest.raises(NotFound):
        bookings.board(users["admin"], 999_999, today)
    nobody = User.objects.create_user("noroles")  # no role: not staff
    with pytest.raises(Forbidden):
        bookings.board(nobody, unit.pk, today)
