"""``GET /api/bookings/board`` (issue 18): the board's rows (a row per day and chair, the
day's hours, blocks with the length's parts, status and today's live state), every staff
role, a read event per patient listed, bad queries refused with the error tree's JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import AuditEvent, Booking, InfusionSession, Order
from ivig.records.services import bookings, courses, units


@pytest.fixture
def unit(users: dict[str, Any], today: dt.date) -> Any:
    admin = users["admin"]
    made = units.create_unit(admin, "Centre", "infusion-centre", 15)
    for weekday in range(7):
        units.set_hours(admin, made.pk, weekday, dt.time(8), dt.time(18))
    units.close_day(admin, made.pk, (today + dt.timedelta(days=1)).weekday())
    units.add_chair(admin, made.pk, "C2")
    units.add_chair(admin, made.pk, "C1")
    return made


@pytest.fixture
def booking(users: dict[str, Any], unit: Any, patient: Any, today: dt.date) -> Booking:
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today, days=2,
        ),
    )  # fmt: skip
    start = dt.datetime.combine(today, dt.time(9), tzinfo=timezone.get_current_timezone())
    chair = unit.chairs.get(name="C2")
    return bookings.book(users["nurse"], course.orders.get(date=today).pk, chair.pk, start)


@pytest.mark.parametrize("role", ["admin", "prescriber", "pharmacist", "nurse"])
def test_the_day_rows_and_blocks(
    client_for: Callable[[str | None], Client],
    unit: Any,
    booking: Booking,
    today: dt.date,
    role: str,
) -> None:
    client = client_for(role)
    answer = client.get(f"/api/bookings/board?unit={unit.pk}")
    assert answer.status_code == 200, answer.content
    rows = answer.json()
    assert [(r["date"], r["chair"], r["opens"], r["closes"]) for r in rows] == [
        (today.isoformat(), "C1", "08:00", "18:00"),
        (today.isoformat(), "C2", "08:00", "18:00"),
    ]
    assert rows[0]["blocks"] == []
    (block,) = rows[1]["blocks"]
    assert block["booking_id"] == booking.pk
    assert (block["mrn"], block["initials"], block["product"]) == ("MRN0001", "EL", "privigen-us")
    assert (
        block["length_minutes"]
        == booking.length_minutes
        == (block["setup_minutes"] + block["pump_minutes"] + block["observation_minutes"])
    )
    start = dt.datetime.fromisoformat(block["start"])
    end = dt.datetime.fromisoformat(block["end"])
    assert timezone.localtime(start).time() == dt.time(9)
    assert end - start == dt.timedelta(minutes=booking.length_minutes)
    assert (block["status"], block["live"]) == ("booked", None)


def test_a_week_the_live_state_and_the_read_audit(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    unit: Any,
    booking: Booking,
    today: dt.date,
    now: dt.datetime,
) -> None:
    order = Order.objects.get(pk=booking.order_id)
    Order.objects.filter(pk=order.pk).update(status="dispensed")
    InfusionSession.objects.create(order=order, checked_at=now, checked_by=users["nurse"])
    client = client_for("pharmacist")
    reads = AuditEvent.objects.filter(action="read", patient_id=order.patient_id)
    answer = client.get(f"/api/bookings/board?unit={unit.pk}&start={today.isoformat()}&days=7")
    assert answer.status_code == 200, answer.content
    rows = answer.json()
    assert len(rows) == 14
    assert rows[1]["blocks"][0]["live"] == "checked-in"
    assert {(r["opens"], r["closes"]) for r in rows[2:4]} == {(None, None)}  # closed tomorrow
    assert reads.count() == 1
    assert reads.get().entity == "medication/infusion"


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("", 422, "unit"),
        ("unit=0", 422, "unit"),
        ("unit={unit}&days=0", 422, "days"),
        ("unit={unit}&days=15", 422, "days"),
        ("unit={unit}&start=someday", 422, "start"),
        ("unit={unit}&start=9999-12-31&days=2", 422, "start"),
        ("unit=999999", 422, "unit"),  # a query's unknown record: bad input, not a 404
    ],
)
def test_bad_queries_are_refused(
    client_for: Callable[[str | None], Client], unit: Any, query: str, status: int, field: str
) -> None:
    answer = client_for("nurse").get("/api/bookings/board?" + query.format(unit=unit.pk))
    assert answer.status_code == status, answer.content
    error = answer.json()["error"]
    if field is not None:
        assert error["field"] == field


@pytest.mark.parametrize("start", ["0001-01-01", "9999-12-31"])
def test_the_calendar_edges_are_no_server_error(
    client_for: Callable[[str | None], Client], unit: Any, start: str
) -> None:
    answer = client_for("nurse").get(f"/api/bookings/board?unit={unit.pk}&start={start}&days=7")
    assert answer.status_code in (200, 422), answer.content
