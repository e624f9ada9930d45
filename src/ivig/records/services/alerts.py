"""The worklist of what patients reported that needs someone to act (issue 16, item 9).

Two kinds of alert, from the patient's own pages (``patient_reports``):

- ``diary``: a serious diary entry (a symptom that may mean a severe reaction, a clot or
  kidney trouble, or any severe symptom);
- ``day-before``: a day-before check with an answer that calls for a review before the
  infusion starts (fever, an infection, feeling unwell, a recent vaccine, less urine, a leg).

Each stays open until a nurse or prescriber closes it with the action taken (``ACTIONS``)
and a note (required for "no action needed", to say why, and for "other"). Closing is
audited (``close``, with the action and the note as the reason). Closing a day-before alert
is its review: the run sheet's "Review before starting" goes with it.

Closing records what was done; it does not defer or cancel the dose itself (that is the
course's own action, on the patient page and the run sheet).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from ivig.errors import Conflict, InvalidInput, NotFound
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import DayBeforeCheck, DiaryEntry, Role
from ivig.records.services.access import require
from ivig.records.services.common import locked
from ivig.records.services.patient_reports import symptom_words

__all__ = [
    "ACTIONS",
    "ALERT_ROLES",
    "KINDS",
    "NOTE_REQUIRED",
    "Alert",
    "close_alert",
    "open_count",
    "worklist",
]

ALERT_ROLES = (Role.nurse, Role.prescriber)
KINDS = ("diary", "day-before")

# The action taken: code -> words (the form, the worklist, the API).
ACTIONS: dict[str, str] = {
    "called": "called the patient",
    "deferred": "deferred the dose",
    "emergency": "advised emergency care",
    "no_action": "no action needed",
    "other": "other",
}
NOTE_REQUIRED = frozenset({"no_action", "other"})  # say why / say what

CLOSED_DAYS = 14  # the worklist shows the alerts closed in the last 14 days under the open ones


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as the worklist and the API show it."""

    kind: str
    id: int
    patient_id: int
    patient: str  # "Family, Given (MRN)"
    order_id: int | None
    order_date: dt.date | None
    reported_at: dt.datetime
    headline: str  # "serious symptoms in the diary" / "the day-before check"
    reported: tuple[str, ...]  # what the patient said, in words
    patient_note: str
    closed_at: dt.datetime | None
    closed_by: str
    action: str
    action_words: str
    note: str

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.id}"


def _who(patient: object) -> str:
    return f"{patient.family_name}, {patient.given_name} ({patient.mrn})"  # type: ignore[attr-defined]


def _from_diary(e: DiaryEntry) -> Alert:
    return Alert(
        kind="diary",
        id=e.pk,
        patient_id=e.patient_id,
        patient=_who(e.patient),
        order_id=e.order_id,
        order_date=e.order.date if e.order is not None else None,
        reported_at=e.submitted_at,
        headline=f"serious symptoms in the diary for {e.day:%A} {e.day.day} {e.day:%B}",
        reported=tuple(f"{s['name']} ({s['severity']})" for s in symptom_words(e.symptoms)),
        patient_note=e.note,
        closed_at=e.acknowledged_at,
        closed_by=str(e.acknowledged_by) if e.acknowledged_by_id else "",
        action=e.action,
        action_words=ACTIONS.get(e.action, e.action),
        note=e.action_note,
    )


def _from_check(c: DayBeforeCheck) -> Alert:
    return Alert(
        kind="day-before",
        id=c.pk,
        patient_id=c.patient_id,
        patient=_who(c.patient),
        order_id=c.order_id,
        order_date=c.order.date,
        reported_at=c.submitted_at,
        headline=f"the day-before check for {c.order.date:%A} {c.order.date.day} {c.order.date:%B}",
        reported=tuple(c.flags),
        patient_note="",
        closed_at=c.reviewed_at,
        closed_by=str(c.reviewed_by) if c.reviewed_by_id else "",
        action=c.action,
        action_words=ACTIONS.get(c.action, c.action) if c.action else "reviewed",
        note=c.review_note,
    )


def open_count() -> int:
    """How many alerts are open: two counts on partial indexes (the menu shows it on every
    page of the roles that act on them)."""
    return (
        DiaryEntry.objects.filter(serious=True, acknowledged_at=None).count()
        + DayBeforeCheck.objects.filter(needs_review=True, reviewed_at=None).count()
    )


def worklist(*, now: dt.datetime, patient_id: int | None = None) -> list[Alert]:
    """The open alerts, newest first, then those closed in the last ``CLOSED_DAYS`` days,
    the latest closed first; of one patient when ``patient_id`` is given."""
    since = now - dt.timedelta(days=CLOSED_DAYS)
    diary = DiaryEntry.objects.filter(serious=True).select_related(
        "patient", "order", "acknowledged_by"
    )
    checks = DayBeforeCheck.objects.filter(needs_review=True).select_related(
        "patient", "order", "reviewed_by"
    )
    if patient_id is not None:
        diary, checks = diary.filter(patient_id=patient_id), checks.filter(patient_id=patient_id)
    opened = [_from_diary(e) for e in diary.filter(acknowledged_at=None)] + [
        _from_check(c) for c in checks.filter(reviewed_at=None)
    ]
    closed = [_from_diary(e) for e in diary.filter(acknowledged_at__gte=since)] + [
        _from_check(c) for c in checks.filter(reviewed_at__gte=since)
    ]
    opened.sort(key=lambda a: (a.reported_at, a.kind, a.id), reverse=True)
    closed.sort(key=lambda a: (a.closed_at, a.kind, a.id), reverse=True)
    return opened + closed


FIELDS = {
    "diary": ("acknowledged_by", "acknowledged_at", "action", "action_note"),
    "day-before": ("reviewed_by", "reviewed_at", "action", "review_note"),
}


def close_alert(
    actor: Actor, kind: str, alert_id: int, action: str, note: str, *, now: dt.datetime
) -> Alert:
    """Close one alert with the action taken and a note; audited. :class:`Conflict` when it
    was closed already (by someone else a moment ago: nothing is overwritten)."""
    actor = require(actor, "closing a patient alert", *ALERT_ROLES)
    if kind not in KINDS:
        raise NotFound("kind of alert", kind)
    if action not in ACTIONS:
        raise InvalidInput(f"choose the action taken: {', '.join(ACTIONS)}", field="action")
    note = note.strip()
    if action in NOTE_REQUIRED and not note:
        why = "say why no action is needed" if action == "no_action" else "say what you did"
        raise InvalidInput(why, field="note")
    if len(note) > 1000:
        raise InvalidInput("the note is longer than 1000 characters", field="note")
    fields = FIELDS[kind]
    with transaction.atomic():
        row: DiaryEntry | DayBeforeCheck
        if kind == "diary":
            entry = locked(DiaryEntry, alert_id, "diary alert")
            if not entry.serious:
                raise NotFound("diary alert", alert_id)
            row, closed = entry, entry.acknowledged_at
        else:
            check = locked(DayBeforeCheck, alert_id, "day-before alert")
            if not check.needs_review:
                raise NotFound("day-before alert", alert_id)
            row, closed = check, check.reviewed_at
        if closed is not None:
            raise Conflict("this alert was closed already", field="action")
        before = audit.snapshot(row, fields)
        for name, value in zip(fields, (actor, now, action, note), strict=True):
            setattr(row, name, value)
        row.save(update_fields=list(fields))
        audit.record(
            actor,
            "close",
            "diary entry" if kind == "diary" else "day-before check",
            row.pk,
            patient_id=row.patient_id,
            before=before,
            after=audit.snapshot(row, fields),
            reason=f"{ACTIONS[action]}: {note}" if note else ACTIONS[action],
        )
    if isinstance(row, DiaryEntry):
        return _from_diary(DiaryEntry.objects.select_related("patient", "order").get(pk=row.pk))
    return _from_check(DayBeforeCheck.objects.select_related("patient", "order").get(pk=row.pk))
