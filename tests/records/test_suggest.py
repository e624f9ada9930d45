"""Suggested slots for an order (issue 18): the core's ranking on the unit's day, with the
order's length at the unit and the day's live bookings; first-fit's slot beside it; read-only;
refused for a reader who does not book, another day, a closed day and an order not to be
given."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ivig.errors import Conflict, Forbidden, InvalidInput, InvalidTime, NotFound
from ivig.records.models import AuditEvent, Order
from ivig.records.services import bookings, courses, orders, units


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def ward(users: dict[str, Any]) -> Any:
    """A day ward open 08:00-18:00 every day, set-up 15 minutes, chairs A, B and C."""
    admin = users["admin"]
    made = units.create_unit(admin, "Day ward", "day-ward", 15)
    for weekday in range(7):
        units.set_hours(admin, made.pk, weekday, dt.time(8), dt.time(18))
    for name in "ABC":
        units.add_chair(admin, made.pk, name)
    return made


def _induction(users: dict[str, Any], patient_id: int, today: dt.date) -> Order:
    """Day 1 (today) of a 2-day Privigen (US) LEMS induction."""
    course = courses.prescribe(
        users["prescriber"],
        patient_id,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today, days=2,
        ),
    )  # fmt: skip
    return course.orders.get(date=today)


@pytest.fixture
def day(users: dict[str, Any], ward: Any, make_patient: Any, today: dt.date) -> dict[str, Any]:
    """Two other patients booked at 08:00 on chairs A and B; ours not booked yet."""
    chairs = {c.name: c for c in ward.chairs.all()}
    others = []
    for i, chair in enumerate("AB", start=2):
        other = make_patient(170, 70, mrn=f"MRN000{i}", family_name=f"Other{i}")
        order = _induction(users, other.pk, today)
        bookings.book(users["nurse"], order.pk, chairs[chair].pk, at(today, 8))
        others.append(order)
    ours = make_patient(190, 86.4)
    return {"chairs": chairs, "ours": _induction(users, ours.pk, today), "others": others}


def test_suggestions_level_the_day_and_first_fit_does_not(
    users: dict[str, Any], ward: Any, day: dict[str, Any], today: dt.date
) -> None:
    nurse = users["nurse"]
    events = AuditEvent.objects.count()
    found = bookings.suggest(nurse, day["ours"].pk, None, ward.pk)
    assert AuditEvent.objects.count() == events  # read-only
    assert (found.day, found.peak, found.chairs) == (today, 2, 3)
    length = bookings.length_for(day["ours"], ward)
    assert found.length == length
    early = found.first_fit
    assert early is not None
    assert (early.chair.name, early.start, early.peak) == ("C", at(today, 8), 3)
    assert "raises the peak to 3 of 3 chairs" in early.reason
    assert len(found.slots) == 5
    best = found.slots[0]
    assert best.peak == 2
    assert "keeps the peak at 2 of 3 chairs" in best.reason
    assert all(s.end - s.start == dt.timedelta(minutes=length.minutes) for s in found.slots)
    # every suggestion is a slot the booking service accepts: book the best one
    booked = bookings.book(nurse, day["ours"].pk, best.chair.pk, best.start)
    assert (booked.chair_id, booked.start) == (best.chair.pk, best.start)
    # moving it: its own booking is left out, so its place is among the suggestions again
    again = bookings.suggest(nurse, day["ours"].pk, today, ward.pk, n=20)
    assert (best.chair, best.start) in [(s.chair, s.start) for s in again.slots]


def test_nothing_fits_in_short_hours(
    users: dict[str, Any], ward: Any, day: dict[str, Any], today: dt.date
) -> None:
    units.set_hours(users["admin"], ward.pk, today.weekday(), dt.time(8), dt.time(10))
    found = bookings.suggest(users["prescriber"], day["ours"].pk, today, ward.pk)
    assert (found.slots, found.first_fit) == ((), None)


def test_refusals(users: dict[str, Any], ward: Any, day: dict[str, Any], today: dt.date) -> None:
    ours = day["ours"]
    with pytest.raises(Forbidden):
        bookings.suggest(users["pharmacist"], ours.pk, None, ward.pk)
    with pytest.raises(InvalidTime, match="book it on that day"):
        bookings.suggest(users["nurse"], ours.pk, today + dt.timedelta(days=1), ward.pk)
    with pytest.raises(InvalidInput):
        bookings.suggest(users["nurse"], ours.pk, None, ward.pk, n=0)
    with pytest.raises(NotFound):
        bookings.suggest(users["nurse"], ours.pk, None, ward.pk + 100)
    with pytest.raises(NotFound):
        bookings.suggest(users["nurse"], ours.pk + 100, None, ward.pk)
    units.close_day(users["admin"], ward.pk, today.weekday())
    with pytest.raises(InvalidTime, match="closed"):
        bookings.suggest(users["nurse"], ours.pk, None, ward.pk)
    orders.cancel(users["prescriber"], ours.pk, ours.version, "stopped")
    with pytest.raises(Conflict, match="cannot be booked"):
        bookings.suggest(users["nurse"], ours.pk, None, ward.pk)


def test_a_start_with_seconds_is_never_overlapped(
    users: dict[str, Any], ward: Any, make_patient: Any, today: dt.date
) -> None:
    """A booking from 08:00:30 (the API takes seconds) ends 30 seconds into a minute: no
    suggestion starts in that minute on its chair."""
    chair = ward.chairs.get(name="A")
    other = make_patient(170, 70, mrn="MRN0009", family_name="Seconds")
    taken = bookings.book(
        users["nurse"], _induction(users, other.pk, today).pk, chair.pk,
        at(today, 8) + dt.timedelta(seconds=30),
    )  # fmt: skip
    ends = taken.start + dt.timedelta(minutes=taken.length_minutes)
    ours = make_patient(180, 80, mrn="MRN0010", family_name="Ours")
    found = bookings.suggest(
        users["nurse"], _induction(users, ours.pk, today).pk, None, ward.pk, 20
    )
    on_a = [s for s in found.slots if s.chair == chair]
    assert on_a
    assert all(s.start >= ends or s.end <= taken.start for s in on_a)
    assert any(s.start == ends + dt.timedelta(seconds=30) for s in on_a)  # flush, next minute
