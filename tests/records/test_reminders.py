"""Reminders (issue 18): who is due, one message per booking start (a re-run and a race send
nothing again, a moved booking gets a new one), failures recorded and retried, the audit, and
what the nurses see."""

from __future__ import annotations

import datetime as dt
import smtplib
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from ivig.errors import Forbidden, InvalidInput
from ivig.records import audit
from ivig.records.models import AuditEvent, DayBeforeCheck, Reminder
from ivig.records.services import bookings, reminders

pytestmark = pytest.mark.database


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def tomorrow(today: dt.date) -> dt.date:
    return today + dt.timedelta(days=1)


@pytest.fixture
def booked(booked_tomorrow: Any) -> Any:
    return booked_tomorrow


def test_due_is_a_booked_order_of_a_patient_with_an_address(
    booked: Any, me: Any, tomorrow: dt.date, today: dt.date
) -> None:
    assert reminders.due(tomorrow) == []  # an account without an address
    me.email = "edward.lambert@example.org"
    me.save()
    (item,) = reminders.due(tomorrow)
    assert (item.order_id, item.first_name, item.to) == (booked.order_id, "Edward", me.email)
    assert (item.start, item.place) == (at(tomorrow, 9), "Day ward, chair A")
    assert reminders.due(today) == []
    me.is_active = False
    me.save()
    assert reminders.due(tomorrow) == []


def test_no_account_no_reminder(booked: Any, tomorrow: dt.date) -> None:
    assert reminders.due(tomorrow) == []


def test_a_cancelled_booking_is_not_reminded(
    booked: Any, reachable: Any, users: dict[str, Any], tomorrow: dt.date
) -> None:
    bookings.cancel(users["nurse"], booked.pk, None, "the patient is unwell")
    assert reminders.due(tomorrow) == []


def test_one_message_recorded_and_audited(
    booked: Any, reachable: Any, now: dt.datetime, settings: Any
) -> None:
    settings.IVIG_BASE_URL = "https://ivig.example.org"
    before = AuditEvent.objects.count()
    (outcome,) = reminders.send_due(None, now=now, by="ivig remind, run by ops")
    assert (outcome.result, outcome.masked_to) == ("sent", "e***@example.org")
    (message,) = mail.outbox
    assert message.to == ["edward.lambert@example.org"]
    body = message.body
    assert "Hello Edward," in body
    assert "09:00" in body
    assert "Day ward, chair A" in body
    assert "https://ivig.example.org/me/check/" in body
    day = timezone.localtime(booked.start)
    assert f"on {day:%A} {day.day} {day:%B %Y} at 09:00, at the Day ward, chair A." in body
    for private in ("Lambert", "LEMS", "lems", "Privigen", "privigen", " g "):
        assert private not in body
    row = Reminder.objects.get()
    assert (row.status, row.to, row.attempts, row.by) == (
        "sent", "edward.lambert@example.org", 1, "ivig remind, run by ops",
    )  # fmt: skip
    (event,) = AuditEvent.objects.filter(entity="reminder")
    assert AuditEvent.objects.count() == before + 1
    assert (event.action, event.actor, event.patient_id) == (
        "send",
        "system",
        booked.order.patient_id,
    )
    assert event.after["to"] == "e***@example.org"
    assert event.after["order"] == booked.order_id
    assert "edward.lambert" not in str(event.after)
    assert "Hello" not in str(event.after)
    assert audit.verify_chain().ok


def test_a_second_run_sends_nothing(booked: Any, reachable: Any, now: dt.datetime) -> None:
    reminders.send_due(None, now=now, by="ivig remind")
    (again,) = reminders.send_due(None, now=now, by="ivig remind")
    assert again.result == "already"
    assert len(mail.outbox) == 1
    assert Reminder.objects.count() == 1


def test_a_moved_booking_gets_a_new_reminder(
    booked: Any, reachable: Any, users: dict[str, Any], now: dt.datetime, tomorrow: dt.date
) -> None:
    reminders.send_due(None, now=now, by="ivig remind")
    bookings.move(users["nurse"], booked.pk, None, booked.chair_id, at(tomorrow, 11))
    (moved,) = reminders.send_due(None, now=now, by="ivig remind")
    assert moved.result == "sent"
    assert "11:00" in mail.outbox[1].body
    assert Reminder.objects.count() == 2


def test_a_refused_message_is_recorded_then_retried(
    booked: Any, reachable: Any, now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise smtplib.SMTPServerDisconnected("edward.lambert@example.org: the server went away")

    monkeypatch.setattr(reminders, "send_mail", refuse)
    (failed,) = reminders.send_due(None, now=now, by="ivig remind")
    assert failed.result == "failed"
    assert "SMTPServerDisconnected" in failed.error
    row = Reminder.objects.get()
    assert (row.status, row.attempts) == ("failed", 1)
    assert "went away" in row.error
    assert "edward.lambert" not in row.error  # the error is audited: the address masked
    assert list(AuditEvent.objects.filter(entity="reminder").values_list("action", flat=True)) == [
        "fail"
    ]
    monkeypatch.undo()
    (sent,) = reminders.send_due(None, now=now, by="ivig remind")
    row.refresh_from_db()
    assert (sent.result, row.status, row.attempts, row.error) == ("sent", "sent", 2, "")
    assert len(mail.outbox) == 1
    assert audit.verify_chain().ok


def test_dry_run_sends_and_records_nothing(booked: Any, reachable: Any, now: dt.datetime) -> None:
    (would,) = reminders.send_due(None, now=now, dry_run=True)
    assert would.result == "would send"
    assert mail.outbox == []
    assert not Reminder.objects.exists()


def test_roles_and_past_days(
    booked: Any, reachable: Any, users: dict[str, Any], now: dt.datetime, today: dt.date
) -> None:
    with pytest.raises(Forbidden):
        reminders.send_due(users["nurse"], now=now)
    with pytest.raises(InvalidInput):
        reminders.send_due(None, today - dt.timedelta(days=1), now=now)
    (sent,) = reminders.send_due(users["admin"], now=now)
    assert sent.result == "sent"
    event = AuditEvent.objects.get(entity="reminder")
    assert (event.actor, Reminder.objects.get().by) == ("admin", "admin")
    with pytest.raises(Forbidden):
        reminders.day_status(users["pharmacist"], today)


def test_nurses_see_the_reminder_and_the_check(
    booked: Any, reachable: Any, users: dict[str, Any], now: dt.datetime, tomorrow: dt.date
) -> None:
    (state,) = reminders.day_status(users["nurse"], tomorrow)
    assert (state.reminder, state.masked_to, state.check_done_at) == (
        "due",
        "e***@example.org",
        None,
    )
    reminders.send_due(None, now=now, by="ivig remind")
    DayBeforeCheck.objects.create(
        patient_id=booked.order.patient_id, order_id=booked.order_id, answers={},
        submitted_by=reachable, submitted_at=now,
    )  # fmt: skip
    (state,) = reminders.day_status(users["nurse"], tomorrow)
    assert (state.reminder, state.reminded_at, state.check_done_at) == ("sent", now, now)


def test_two_runs_at_once_send_one_message(
    live_records: None, booked: Any, reachable: Any, now: dt.datetime,
    race: Callable[..., list[Any]],
) -> None:  # fmt: skip
    def run() -> list[str]:
        return [o.result for o in reminders.send_due(None, now=now, by="ivig remind")]

    results = race(run, run)
    assert sorted(r[0] for r in results) == ["already", "sent"], results
    assert len(mail.outbox) == 1
    assert Reminder.objects.count() == 1
    assert AuditEvent.objects.filter(entity="reminder").count() == 1
    assert audit.verify_chain().ok
