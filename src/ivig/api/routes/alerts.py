"""Patient alerts (issue 16, item 9): the worklist of what patients reported that needs a
nurse or prescriber to act, and closing one with the action taken (``services.alerts``)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema

from ivig.api.auth import rule
from ivig.api.schemas import Id, In
from ivig.records.models import Role
from ivig.records.services import alerts

router = Router(tags=["alerts"])

Kind = Literal["diary", "day-before"]
Action = Literal["called", "deferred", "emergency", "no_action", "other"]


class AlertOut(Schema):
    kind: Kind
    id: int
    patient_id: int
    patient: str = Field(..., description="family name, given name (MRN)")
    order_id: int | None
    order_date: dt.date | None
    reported_at: dt.datetime
    headline: str
    reported: list[str] = Field(..., description="what the patient said, in words")
    patient_note: str
    open: bool
    closed_at: dt.datetime | None
    closed_by: str
    action: str = Field(..., description="the action code; empty while open")
    action_words: str
    note: str


class CloseIn(In):
    action: Action = Field(
        ...,
        description=", ".join(f"{code}: {words}" for code, words in alerts.ACTIONS.items()),
    )
    note: str = Field(
        "", max_length=1000, description="required for no_action (why) and other (what)"
    )


def _out(a: alerts.Alert) -> AlertOut:
    return AlertOut(
        kind=a.kind,  # type: ignore[arg-type]
        id=a.id,
        patient_id=a.patient_id,
        patient=a.patient,
        order_id=a.order_id,
        order_date=a.order_date,
        reported_at=a.reported_at,
        headline=a.headline,
        reported=list(a.reported),
        patient_note=a.patient_note,
        open=a.open,
        closed_at=a.closed_at,
        closed_by=a.closed_by,
        action=a.action,
        action_words=a.action_words,
        note=a.note,
    )


@router.get("/alerts", response=list[AlertOut], **rule(Role.nurse, Role.prescriber))
def worklist(request: HttpRequest) -> list[AlertOut]:
    """The open alerts, newest first, then those closed in the last 14 days."""
    return [_out(a) for a in alerts.worklist(now=timezone.now())]


@router.post(
    "/alerts/{kind}/{alert_id}/close",
    response=AlertOut,
    **rule(Role.nurse, Role.prescriber),
)
def close(request: HttpRequest, kind: Kind, alert_id: Id, data: CloseIn) -> AlertOut:
    """Close one alert with the action taken and a note (once: 409 after)."""
    return _out(
        alerts.close_alert(request.user, kind, alert_id, data.action, data.note, now=timezone.now())
    )
