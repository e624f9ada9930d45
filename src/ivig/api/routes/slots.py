"""Suggested slots (issue 18): the places of a unit's day where an order's infusion keeps the
unit's occupancy level (``core.slots``), best first, with first-fit's earliest slot beside
them. Read-only; the roles that book (nurses, prescribers, administrators); a read of the
order's patient, audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from ivig.api.auth import rule
from ivig.api.schemas import Id, In
from ivig.records.services import bookings

router = Router(tags=["bookings"])


class SlotQuery(In):
    unit: int = Field(..., ge=1, description="the unit's id")
    date: dt.date | None = Field(None, description="the order's date (empty: it)")
    n: int = Field(5, ge=1, le=bookings.MAX_SUGGESTIONS, description="how many suggestions")


class SlotOut(Schema):
    chair_id: int
    chair: str
    start: dt.datetime
    end: dt.datetime
    peak: int = Field(..., description="chairs in use at once at the day's busiest, with it")
    reason: str


class SlotSuggestionsOut(Schema):
    order_id: int
    unit_id: int
    unit: str
    date: dt.date
    length_minutes: int = Field(..., description="setup + pump + observation")
    setup_minutes: int
    pump_minutes: int
    observation_minutes: int
    observation_reason: str
    chairs: int
    peak: int = Field(..., description="chairs in use at once at the day's busiest, before")
    slots: list[SlotOut] = Field(..., description="best first")
    first_fit: SlotOut | None = Field(..., description="the earliest slot, for comparison")


def _slot(found: bookings.Suggestion) -> dict[str, Any]:
    return {
        "chair_id": found.chair.pk, "chair": found.chair.name, "start": found.start,
        "end": found.end, "peak": found.peak, "reason": found.reason,
    }  # fmt: skip


@router.get(
    "/orders/{order_id}/slots",
    response=SlotSuggestionsOut,
    **rule(*bookings.BOOKERS, errors=(400, 409)),
)
def slots(request: HttpRequest, order_id: Id, filters: Query[SlotQuery]) -> dict[str, Any]:
    """The ``n`` slots of the unit's day that keep its occupancy level for the order, and the
    first-fit slot: 400 on another day than the order's or a closed day, 409 for an order that
    cannot be booked."""
    found = bookings.suggest(request.user, order_id, filters.date, filters.unit, filters.n)
    length = found.length
    return {
        "order_id": found.order.pk, "unit_id": found.unit.pk, "unit": found.unit.name,
        "date": found.day, "length_minutes": length.minutes,
        "setup_minutes": length.setup_minutes, "pump_minutes": length.pump_minutes,
        "observation_minutes": length.observation_minutes,
        "observation_reason": length.observation.reason, "chairs": found.chairs,
        "peak": found.peak, "slots": [_slot(s) for s in found.slots],
        "first_fit": _slot(found.first_fit) if found.first_fit is not None else None,
    }  # fmt: skip
