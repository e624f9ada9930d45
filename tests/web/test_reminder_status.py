"""Nurses see on the bookings page (issue 18) whether the patient was reminded and has done the
day-before check; pharmacists and prescribers see the bookings without it."""

from __future__ import annotations

import datetime as dt
import smtplib
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import DayBeforeCheck
from ivig.records.services import reminders

pytestmark = pytest.mark.database


def _row(client: Client, day: dt.date) -> str:
    page = client.get(f"/bookings/?date={day.isoformat()}")
    assert page.status_code == 200
    html = page.content.decode()
    start = html.index("Lambert, Edward")
    return html[start : html.index("</tr>", start)]


def test_the_row_tells_reminder_and_check(
    booked_tomorrow: Any,
    reachable: Any,
    client_for: Callable[[str | None], Client],
    today: dt.date,
    now: dt.datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nurse = client_for("nurse")
    tomorrow = today + dt.timedelta(days=1)
    assert "check not done; reminder not sent yet" in _row(nurse, tomorrow)

    def refuse(*args: Any, **kwargs: Any) -> int:
        raise smtplib.SMTPRecipientsRefused({})

    monkeypatch.setattr(reminders, "send_mail", refuse)
    reminders.send_due(None, now=now, by="ivig remind")
    assert "reminder failed" in _row(nurse, tomorrow)
    monkeypatch.undo()
    reminders.send_due(None, now=now, by="ivig remind")
    DayBeforeCheck.objects.create(
        patient_id=booked_tomorrow.order.patient_id, order_id=booked_tomorrow.order_id,
        answers={}, submitted_by=reachable, submitted_at=now,
    )  # fmt: skip
    row = _row(client_for("admin"), tomorrow)
    local = timezone.localtime(now)
    assert f"check done {local:%a %H:%M}" in row
    assert f"reminder sent {local:%a %H:%M}" in row
    assert "reminder" not in _row(client_for("pharmacist"), tomorrow)


def test_no_address_no_reminder(
    booked_tomorrow: Any, client_for: Callable[[str | None], Client], today: dt.date
) -> None:
    row = _row(client_for("nurse"), today + dt.timedelta(days=1))
    assert "no reminder (no e-mail address)" in row
