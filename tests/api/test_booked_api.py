"""The place rule and the release of a booking through the API (issue 18): a unit whose kind
does not give the course's place answers 422 on ``chair_id``; deferring the order through the
API cancels its booking."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import Booking, BookingStatus
from ivig.records.services import courses, units


def test_place_refused_and_a_deferred_order_releases_its_chair(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    patient: Any,
    today: dt.date,
) -> None:
    admin = users["admin"]
    team = units.create_unit(admin, "Home team", "home-team", 0)
    ward = units.create_unit(admin, "Ward", "day-ward", 15)
    for unit in (team, ward):
        units.set_hours(admin, unit.pk, today.weekday(), dt.time(8), dt.time(18))
    nurse_visit = units.add_chair(admin, team.pk, "Nurse Jones", "nurse")
    chair = units.add_chair(admin, ward.pk, "1")
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today, days=2,
        ),
    )  # fmt: skip
    order = course.orders.get(date=today)
    start = dt.datetime.combine(today, dt.time(9), tzinfo=timezone.get_current_timezone())
    body = {"order_id": order.pk, "chair_id": nurse_visit.pk, "start": start.isoformat()}
    nurse = client_for("nurse")
    refused = nurse.post("/api/bookings", body, content_type="application/json")
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_input", "chair_id")
    assert "Home team is a home-infusion team" in error["message"]
    made = nurse.post(
        "/api/bookings", {**body, "chair_id": chair.pk}, content_type="application/json"
    )
    assert made.status_code == 201, made.content
    deferred = nurse.post(
        f"/api/orders/{order.pk}/defer",
        {"version": order.version, "reason": "fever"},
        content_type="application/json",
    )
    assert deferred.status_code == 200, deferred.content
    assert Booking.objects.get(pk=made.json()["id"]).status == BookingStatus.cancelled
