"""``GET /api/orders/{id}/slots`` (issue 18): the levelled suggestions of a unit's day with
first-fit's slot beside them, for the roles that book; a read of the order's patient; the
error tree's JSON for another day, a closed day and a bad query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import AuditEvent
from ivig.records.services import bookings, courses, units


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


def _induction(users: dict[str, Any], patient_id: int, today: dt.date) -> Any:
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
def ward(users: dict[str, Any], make_patient: Any, patient: Any, today: dt.date) -> Any:
    """Chairs C1 and C2 open 08:00-18:00 every day; another patient on C1 from 08:00."""
    admin = users["admin"]
    unit = units.create_unit(admin, "Centre", "infusion-centre", 15)
    for weekday in range(7):
        units.set_hours(admin, unit.pk, weekday, dt.time(8), dt.time(18))
    c1 = units.add_chair(admin, unit.pk, "C1")
    units.add_chair(admin, unit.pk, "C2")
    other = make_patient(170, 70, mrn="MRN0002", family_name="Other")
    bookings.book(users["nurse"], _induction(users, other.pk, today).pk, c1.pk, at(today, 8))
    return unit


def test_slots_level_the_day(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    ward: Any,
    patient: Any,
    today: dt.date,
) -> None:
    order = _induction(users, patient.pk, today)
    nurse = client_for("nurse")
    before = AuditEvent.objects.filter(action="read", patient_id=patient.pk).count()
    answer = nurse.get(f"/api/orders/{order.pk}/slots?unit={ward.pk}&n=3")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    length = bookings.length_for(order, ward)
    assert (body["order_id"], body["unit"], body["date"]) == (order.pk, "Centre", str(today))
    assert (
        body["length_minutes"]
        == length.minutes
        == (body["setup_minutes"] + body["pump_minutes"] + body["observation_minutes"])
    )
    assert (body["chairs"], body["peak"]) == (2, 1)
    assert len(body["slots"]) == 3
    first_fit = body["first_fit"]
    assert (first_fit["chair"], first_fit["peak"]) == ("C2", 2)
    assert dt.datetime.fromisoformat(first_fit["start"]) == at(today, 8)
    best = body["slots"][0]
    assert best["peak"] == 1
    assert "keeps the peak at 1 of 2 chairs" in best["reason"]
    start, end = (dt.datetime.fromisoformat(best[k]) for k in ("start", "end"))
    assert end - start == dt.timedelta(minutes=length.minutes)
    # a read of the patient's record (the order's length comes from it)
    assert AuditEvent.objects.filter(action="read", patient_id=patient.pk).count() == before + 1
    # the suggestion books
    booked = nurse.post(
        "/api/bookings",
        {"order_id": order.pk, "chair_id": best["chair_id"], "start": best["start"]},
        content_type="application/json",
    )
    assert booked.status_code == 201, booked.content


def test_refusals(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    ward: Any,
    patient: Any,
    today: dt.date,
) -> None:
    order = _induction(users, patient.pk, today)
    url = f"/api/orders/{order.pk}/slots"
    assert client_for("pharmacist").get(f"{url}?unit={ward.pk}").status_code == 403
    assert client_for(None).get(f"{url}?unit={ward.pk}").status_code == 401
    nurse = client_for("prescriber")
    tomorrow = today + dt.timedelta(days=1)
    other_day = nurse.get(f"{url}?unit={ward.pk}&date={tomorrow}")
    assert other_day.status_code == 400
    assert other_day.json()["error"]["code"] == "invalid_time"
    for bad in ("", "?unit=0", f"?unit={ward.pk}&n=0", f"?unit={ward.pk}&n=21"):
        assert nurse.get(f"{url}{bad}").status_code == 422, bad
    assert nurse.get(f"{url}?unit={ward.pk + 50}").status_code == 404
    units.close_day(users["admin"], ward.pk, today.weekday())
    closed = nurse.get(f"{url}?unit={ward.pk}")
    assert closed.status_code == 400
    assert "closed" in closed.json()["error"]["message"]
