"""Reminders (issue 18): who was reminded of a day's infusions and who has done the day-before
check (nurses, administrators); sending the due reminders, as ``ivig remind`` does
(administrators). Addresses are masked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from ivig.api.auth import rule
from ivig.api.schemas import In
from ivig.records.services import reads, reminders

router = Router(tags=["reminders"])


class ReminderDayQuery(In):
    date: dt.date | None = Field(None, description="the infusions' day; empty: tomorrow")


class ReminderSendIn(In):
    date: dt.date | None = Field(None, description="the infusions' day; empty: tomorrow")
    dry_run: bool = Field(False, description="list who would get one; send nothing")


class ReminderStateOut(Schema):
    order_id: int
    patient_id: int
    start: dt.datetime
    place: str
    reachable: bool = Field(..., description="an active account with an e-mail address")
    to: str = Field(..., description="the address, masked (j***@example.org)")
    reminder: str = Field(..., description="sent, failed, due (not yet sent) or none")
    reminded_at: dt.datetime | None = Field(..., description="the last attempt")
    error: str = Field(..., description="the mail server's answer to a failed one")
    check_done_at: dt.datetime | None = Field(..., description="the day-before check, if done")


class ReminderDayOut(Schema):
    date: dt.date
    reminders: list[ReminderStateOut]


class ReminderSentOut(Schema):
    order_id: int
    patient_id: int
    start: dt.datetime
    place: str
    to: str = Field(..., description="the address, masked")
    result: str = Field(..., description="sent, failed, already or (dry run) would send")
    error: str


class ReminderRunOut(Schema):
    date: dt.date
    dry_run: bool
    reminders: list[ReminderSentOut]


@router.get("/reminders", response=ReminderDayOut, **rule(*reminders.READERS))
def day(request: HttpRequest, filters: Query[ReminderDayQuery]) -> dict[str, Any]:
    """Every live booking of the day with its reminder and the patient's day-before check; a
    read event per patient listed."""
    when = filters.date or reminders.default_day(timezone.now())
    rows = reminders.day_status(request.user, when)
    reads.listed(request, "medication/infusion", (r.patient_id for r in rows))
    return {
        "date": when,
        "reminders": [
            {
                "order_id": r.order_id, "patient_id": r.patient_id, "start": r.start,
                "place": r.place, "reachable": r.reachable, "to": r.masked_to,
                "reminder": r.reminder, "reminded_at": r.reminded_at, "error": r.error,
                "check_done_at": r.check_done_at,
            }
            for r in rows
        ],
    }  # fmt: skip


@router.post("/reminders/send", response=ReminderRunOut, **rule(*reminders.SENDERS))
def send(request: HttpRequest, data: ReminderSendIn) -> dict[str, Any]:
    """Send the day's due reminders not sent yet (as ``ivig remind``): each once, recorded and
    audited; a refused one is listed as failed and tried again by the next run."""
    now = timezone.now()
    when = data.date or reminders.default_day(now)
    done = reminders.send_due(request.user, when, now=now, dry_run=data.dry_run)
    return {
        "date": when,
        "dry_run": data.dry_run,
        "reminders": [
            {
                "order_id": o.due.order_id, "patient_id": o.due.patient_id,
                "start": o.due.start, "place": o.due.place, "to": o.masked_to,
                "result": o.result, "error": o.error,
            }
            for o in done
        ],
    }  # fmt: skip
