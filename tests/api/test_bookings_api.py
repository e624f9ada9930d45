"""The units and bookings API (issue 18): the administrator sets up a unit, a nurse books,
moves and cancels; refusals answer with the error tree's JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import AuditEvent
from ivig.records.services import courses


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def _put(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.put(url, body, content_type="application/json")


@pytest.fixture
def unit(client_for: Callable[[str | None], Client]) -> dict[str, Any]:
    admin = client_for("admin")
    made = _post(admin, "/api/units", {"name": "Centre", "kind": "infusion-centre"})
    assert made.status_code == 201, made.content
    unit_id = made.json()["id"]
    for weekday in range(7):
        hours = _put(
            admin, f"/api/units/{unit_id}/hours/{weekday}", {"opens": "08:00", "closes": "18:00"}
        )
        assert hours.status_code == 200, hours.content
    for name in ("C1", "C2"):
        assert _post(admin, f"/api/units/{unit_id}/chairs", {"name": name}).status_code == 201
    listed = admin.get("/api/units").json()
    assert [c["name"] for c in listed[0]["chairs"]] == ["C1", "C2"]
    assert len(listed[0]["hours"]) == 7
    assert listed[0]["setup_minutes"] == 15
    return listed[0]


@pytest.fixture
def order(users: dict[str, Any], patient: Any, today: dt.date) -> Any:
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today, days=2,
        ),
    )  # fmt: skip
    return course.orders.order_by("sequence").first()


def _start(day: dt.date, hour: int) -> str:
    tz = timezone.get_current_timezone()
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz).isoformat()


def test_book_list_move_cancel(
    client_for: Callable[[str | None], Client], unit: dict[str, Any], order: Any, today: dt.date
) -> None:
    nurse = client_for("nurse")
    c1, c2 = (c["id"] for c in unit["chairs"])
    made = _post(
        nurse, "/api/bookings", {"order_id": order.pk, "chair_id": c1, "start": _start(today, 9)}
    )
    assert made.status_code == 201, made.content
    body = made.json()
    parts = body["setup_minutes"] + body["pump_minutes"] + body["observation_minutes"]
    assert body["length_minutes"] == parts
    assert (body["setup_minutes"], body["observation_minutes"]) == (15, 60)  # first infusion
    assert body["observation_reason"] == "first infusion"
    again = _post(
        nurse, "/api/bookings", {"order_id": order.pk, "chair_id": c2, "start": _start(today, 9)}
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"

    pharmacist = client_for("pharmacist")
    before = AuditEvent.objects.filter(action="read").count()
    day = pharmacist.get(f"/api/bookings?date={today.isoformat()}")
    assert day.status_code == 200
    assert [(r["chair"], len(r["bookings"])) for r in day.json()] == [("C1", 1), ("C2", 0)]
    assert AuditEvent.objects.filter(action="read").count() == before + 1  # one patient listed

    late = _post(
        nurse,
        f"/api/bookings/{body['id']}/move",
        {"version": body["version"], "chair_id": c2, "start": _start(today, 17)},
    )
    assert late.status_code == 400
    assert late.json()["error"] == {
        **late.json()["error"],
        "code": "invalid_time",
        "field": "start",
    }
    moved = _post(
        nurse,
        f"/api/bookings/{body['id']}/move",
        {"version": body["version"], "chair_id": c2, "start": _start(today, 10)},
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["chair_id"] == c2
    stale = _post(
        nurse, f"/api/bookings/{body['id']}/cancel", {"version": body["version"], "reason": "x"}
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_version"
    gone = _post(
        nurse,
        f"/api/bookings/{body['id']}/cancel",
        {"version": moved.json()["version"], "reason": "unwell"},
    )
    assert gone.json()["status"] == "cancelled"
    assert pharmacist.get(f"/api/bookings?date={today.isoformat()}").json()[1]["bookings"] == []


def test_refusals(
    client_for: Callable[[str | None], Client], unit: dict[str, Any], order: Any, today: dt.date
) -> None:
    c1 = unit["chairs"][0]["id"]
    book = {"order_id": order.pk, "chair_id": c1, "start": _start(today, 9)}
    assert _post(client_for("pharmacist"), "/api/bookings", book).status_code == 403
    naive = _post(
        client_for("nurse"), "/api/bookings", {**book, "start": f"{today.isoformat()}T09:00:00"}
    )
    assert naive.status_code == 400
    assert _post(client_for("nurse"), "/api/bookings", {**book, "chair_id": 999}).status_code == 404
    early = _post(client_for("nurse"), "/api/bookings", {**book, "start": _start(today, 6)})
    assert early.status_code == 400
    assert "open 08:00-18:00" in early.json()["error"]["message"]
    unit_id = unit["id"]
    admin = client_for("admin")
    closed = _post(admin, f"/api/units/{unit_id}/hours/{today.weekday()}/close", {})
    assert closed.status_code == 200
    assert len(closed.json()["hours"]) == 6
    shut = _post(client_for("prescriber"), "/api/bookings", book)
    assert shut.status_code == 400
    assert "closed" in shut.json()["error"]["message"]
    assert (
        _post(client_for("nurse"), "/api/units", {"name": "X", "kind": "day-ward"}).status_code
        == 403
    )
    assert (
        _put(
            admin, f"/api/units/{unit_id}/hours/1", {"opens": "18:00", "closes": "08:00"}
        ).status_code
        == 422  # InvalidInput: the closing time
    )
    renamed = _put(
        admin,
        f"/api/units/{unit_id}",
        {"name": "Centre 2", "kind": "day-ward", "setup_minutes": 30},
    )
    assert renamed.json()["setup_minutes"] == 30
