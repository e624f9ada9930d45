"""The safety report (requirements 57 and 61; ISMP CQI for smart-pump drug libraries).

For the infusions started in a period (one infusion session per order, by the day it started,
in the service's time zone):

- **within the library**: the share of infusions whose order met no drug-library limit at all:
  no soft limit overridden and no hard stop attempted on that order, at any time;
- **overrides per 100 infusions**: soft-limit overrides recorded in the period, overall, by
  user (over all the period's infusions) and by unit (the course's place of treatment: over
  that unit's infusions; an override not tied to an order, such as one made when prescribing
  a course, has no unit);
- **hard-stop attempts**: refusals recorded in the period, with the count of each rule;
- **late checkpoints**: of the vital-sign checkpoints whose time has come (``done`` or
  ``overdue``), the share recorded late: overdue (not recorded within the late window), or
  recorded more than the window after it was due. The window is ``late_window_minutes`` in
  monitoring.toml (15 minutes by default, requirement 61).

Every figure carries its numerator and denominator, so that the reader can check it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from ivig.errors import InvalidInput
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import InfusionSession, LimitEvent, LimitKind, Place, Role
from ivig.records.services.access import require
from ivig.records.services.infusions import Checkpoint, session_state

__all__ = ["NO_UNIT", "Figure", "safety_report"]

NO_UNIT = "no infusion named"
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Figure:
    """``numerator`` of ``denominator`` times 100 (``scale``: a percentage, or a rate per 100
    infusions); the value is ``None`` when the denominator is 0 (never a made-up 0 %)."""

    numerator: int
    denominator: int
    scale: str = "%"

    @property
    def value(self) -> float | None:
        if self.denominator == 0:
            return None
        return round(self.numerator * 100 / self.denominator, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "numerator": self.numerator,
            "denominator": self.denominator,
            "value": self.value,
            "scale": self.scale,
        }


PER_100 = "per 100 infusions"


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period from the start of ``start`` to the end of ``end``, in local time."""
    if end < start:
        raise InvalidInput("the end of the period is before its start", field="end")
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(f"give a period of at most {MAX_DAYS} days", field="end")
    low = timezone.make_aware(dt.datetime.combine(start, dt.time.min))
    high = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    return low, high


def _late(checkpoint: Checkpoint, window: dt.timedelta) -> bool | None:
    """Late (True), on time (False), or not yet counted (None: upcoming or still due)."""
    if checkpoint.status == "overdue":
        return True
    if checkpoint.status != "done":
        return None
    recorded = checkpoint.recorded_at
    return recorded is not None and recorded - checkpoint.due_at > window


def _checkpoints(sessions: list[InfusionSession], now: dt.datetime) -> dict[str, Any]:
    window_minutes = int(current_library().monitoring.late_window_minutes.value)
    window = dt.timedelta(minutes=window_minutes)
    late = counted = 0
    for session in sessions:
        for checkpoint in session_state(session.order, now=now).checkpoints:
            verdict = _late(checkpoint, window)
            if verdict is not None:
                counted += 1
                late += verdict
    return {**Figure(late, counted).as_dict(), "window_minutes": window_minutes}


def _unit(event: LimitEvent) -> str:
    return event.order.course.place if event.order is not None else NO_UNIT


def safety_report(
    actor: Actor, *, start: dt.date, end: dt.date, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The safety report of the infusions started from ``start`` to ``end`` (both included);
    for the admin and the pharmacist."""
    actor = require(actor, "the safety report", Role.admin, Role.pharmacist)
    low, high = _bounds(start, end)
    moment = now or timezone.now()
    sessions = list(
        InfusionSession.objects.filter(started_at__gte=low, started_at__lt=high)
        .select_related("order__course")
        .order_by("started_at", "id")
    )
    infusions = len(sessions)
    order_ids = {s.order_id for s in sessions}
    limited = set(
        LimitEvent.objects.filter(order_id__in=order_ids).values_list("order_id", flat=True)
    )
    events = list(
        LimitEvent.objects.filter(at__gte=low, at__lt=high)
        .select_related("user", "order__course")
        .order_by("at", "id")
    )
    overrides = [e for e in events if e.kind == LimitKind.soft]
    hard = [e for e in events if e.kind == LimitKind.hard]

    by_user = Counter(e.user.username if e.user else "system" for e in overrides)
    per_unit = Counter(s.order.course.place for s in sessions)
    by_unit = Counter(_unit(e) for e in overrides)
    units = [*(p for p in Place.values if p in per_unit or p in by_unit)]
    if NO_UNIT in by_unit:
        units.append(NO_UNIT)
    return {
        "start": start,
        "end": end,
        "generated_at": moment,
        "infusions": infusions,
        "within_library": Figure(infusions - len(limited), infusions).as_dict(),
        "overrides": Figure(len(overrides), infusions, PER_100).as_dict(),
        "overrides_by_user": [
            {"user": name, **Figure(n, infusions, PER_100).as_dict()}
            for name, n in sorted(by_user.items(), key=lambda item: (-item[1], item[0]))
        ],
        "overrides_by_unit": [
            {"unit": unit, **Figure(by_unit[unit], per_unit[unit], PER_100).as_dict()}
            for unit in units
        ],
        "hard_stops": {
            **Figure(len(hard), infusions, PER_100).as_dict(),
            "by_rule": [
                {"rule": rule, "count": n}
                for rule, n in sorted(
                    Counter(e.rule for e in hard).items(), key=lambda item: (-item[1], item[0])
                )
            ],
        },
        "late_checkpoints": _checkpoints(sessions, moment),
    }
