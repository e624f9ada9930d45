"""The reminders API (issue 18): the administrator sends tomorrow's reminders (once), nurses
read who was reminded and who did the check; addresses masked; roles refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from ivig.records.models import AuditEvent, DayBeforeCheck

pytestmark = pytest.mark.database


def _send(client: Client, body: dict[str, Any]) -> Any:
    return client.post("/api/reminders/send", body, content_type="application/json")


def test_send_then_read(
    booked_tomorrow: Any,
    reachable: Any,
    client_for: Callable[[str | None], Client],
    today: dt.date,
    now: dt.datetime,
) -> None:
    admin, nurse = client_for("admin"), client_for("nurse")
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    before = nurse.get(f"/api/reminders?date={tomorrow}")
    assert before.status_code == 200, before.content
    (row,) = before.json()["reminders"]
    assert (row["reminder"], row["to"], row["reachable"]) == ("due", "e***@example.org", True)
    dry = _send(admin, {"dry_run": True})
    assert [r["result"] for r in dry.json()["reminders"]] == ["would send"]
    assert mail.outbox == []
    sent = _send(admin, {})
    assert sent.status_code == 200, sent.content
    assert sent.json()["date"] == tomorrow
    (out,) = sent.json()["reminders"]
    assert (out["result"], out["to"], out["place"]) == (
        "sent",
        "e***@example.org",
        "Day ward, chair A",
    )
    assert len(mail.outbox) == 1
    event = AuditEvent.objects.get(entity="reminder")
    assert (event.action, event.actor) == ("send", "admin")
    again = _send(admin, {"date": tomorrow})
    assert [r["result"] for r in again.json()["reminders"]] == ["already"]
    DayBeforeCheck.objects.create(
        patient_id=booked_tomorrow.order.patient_id, order_id=booked_tomorrow.order_id,
        answers={}, submitted_by=reachable, submitted_at=now,
    )  # fmt: skip
    (row,) = nurse.get("/api/reminders").json()["reminders"]
    assert row["reminder"] == "sent"
    assert row["reminded_at"] is not None
    assert row["check_done_at"] is not None
    assert "edward.lambert" not in str(row)


def test_roles(booked_tomorrow: Any, client_for: Callable[[str | None], Client]) -> None:
    assert client_for("pharmacist").get("/api/reminders").status_code == 403
    assert client_for("prescriber").get("/api/reminders").status_code == 403
    assert _send(client_for("nurse"), {}).status_code == 403
    assert _send(client_for(None), {}).status_code == 401
    assert mail.outbox == []


def test_a_passed_day_is_refused(
    booked_tomorrow: Any, client_for: Callable[[str | None], Client]
) -> None:
    refused = _send(client_for("admin"), {"date": "2000-01-01"})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "date"
