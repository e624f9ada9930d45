"""Nurses see on the bookings page (issue 18) whether the patient was reminded and has done the
day-before check; pharmacists and prescribers see the bookings without it. The patient sets
the address the reminders go to on their own page (``/me/reminders/``)."""

from __future__ import annotations

import datetime as dt
import re
import smtplib
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
import textstat
from django.test import Client
from django.utils import timezone

from ivig.errors import Forbidden
from ivig.records.models import AuditEvent, DayBeforeCheck
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


# --- the patient sets the address (/me/reminders/) ---------------------------------------------


def _words(html: bytes) -> str:
    page = html.decode()
    main = page[page.index("<main") : page.index("</main>")]
    blocks = re.split(r"</(?:p|h1|label|button|div)>", main)
    return " ".join(
        w if w[-1] in ".?!:" else w + "."
        for w in (" ".join(unescape(re.sub(r"<[^>]+>", " ", b)).split()) for b in blocks)
        if w
    )


def test_the_patient_sets_and_removes_the_address(
    booked_tomorrow: Any,
    me: Any,
    users: dict[str, Any],
    client_for: Callable[[str | None], Client],
    today: dt.date,
) -> None:
    tomorrow = today + dt.timedelta(days=1)
    own = Client()
    own.force_login(me)
    page = own.get("/me/reminders/")
    assert page.status_code == 200
    assert "We have no e-mail address for you." in page.content.decode()
    assert textstat.flesch_kincaid_grade(_words(page.content)) <= 8
    refused = own.post("/me/reminders/", {"email": "not an address"})
    assert refused.status_code == 200
    assert "Enter a valid email address." in refused.content.decode()
    saved = own.post("/me/reminders/", {"email": " edward@example.org "})
    assert saved["Location"] == "/me/reminders/"
    assert (
        "We send it to <strong>edward@example.org</strong>"
        in own.get(saved["Location"]).content.decode()
    )
    assert [d.to for d in reminders.due(tomorrow)] == ["edward@example.org"]
    event = AuditEvent.objects.filter(entity="patient-account", action="update").get()
    assert (event.before, event.after) == ({"email": ""}, {"email": "e***@example.org"})
    assert event.patient_id == booked_tomorrow.order.patient_id
    own.post("/me/reminders/", {"email": ""})
    assert reminders.due(tomorrow) == []
    assert client_for("nurse").get("/me/reminders/").status_code == 404
    with pytest.raises(Forbidden):
        reminders.set_address(users["nurse"], "a@example.org")
