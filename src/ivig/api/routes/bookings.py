"""Bookings (issue 18): an order's chair and start time, its length computed (set-up + pump +
observation). Nurses, prescribers and administrators book, move and cancel; pharmacists read
too (the day's list, for the doses to prepare)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from ivig.api.auth import rule
from ivig.api.schemas import Id, In, Versioned
from ivig.records.models import Booking
from ivig.records.services import bookings, reads

router = Router(tags=["bookings"])


class BookIn(In):
    order_id: int = Field(..., ge=1)
    chair_id: int = Field(..., ge=1)
    start: dt.datetime = Field(..., description="with its time zone, on the order's date")


class MoveIn(Versioned):
    chair_id: int = Field(..., ge=1)
    start: dt.datetime = Field(..., description="with its time zone, on the order's date")


class CancelIn(Versioned):
    reason: str = Field(..., min_length=1, max_length=1000)


class DayQuery(In):
    date: dt.date | None = Field(None, description="the day; empty: today")
    unit_id: int | None = Field(None, ge=1)


class BookingOut(Schema):
    id: int
    version: int
    order_id: int
    patient_id: int
    chair_id: int
    start: dt.datetime
    end: dt.datetime
    length_minutes: int = Field(..., description="setup + pump + observation")
    setup_minutes: int
    pump_minutes: int
    observation_minutes: int
    observation_reason: str
    status: str
    no_longer_fits: bool = Field(..., description="a re-plan made it overlap or pass closing")


class ChairDayOut(Schema):
    chair_id: int
    chair: str
    unit_id: int
    unit: str
    bookings: list[BookingOut]


def booking_out(row: Booking) -> dict[str, Any]:
    return {
        "id": row.pk, "version": row.version, "order_id": row.order_id,
        "patient_id": row.order.patient_id, "chair_id": row.chair_id, "start": row.start,
        "end": row.start + dt.timedelta(minutes=row.length_minutes),
        "length_minutes": row.length_minutes, "setup_minutes": row.setup_minutes,
        "pump_minutes": row.pump_minutes, "observation_minutes": row.observation_minutes,
        "observation_reason": row.observation_reason, "status": row.status,
        "no_longer_fits": row.no_longer_fits,
    }  # fmt: skip


@router.get("/bookings", response=list[ChairDayOut], **rule(*bookings.READERS))
def day(request: HttpRequest, filters: Query[DayQuery]) -> list[dict[str, Any]]:
    """Every chair (of one unit, or all) with its bookings on the day, in time order; a read
    event per patient listed (as ``GET /api/orders``)."""
    when = filters.date or timezone.localdate()
    rows = bookings.day_list(request.user, when, filters.unit_id)
    patients = (b.order.patient_id for row in rows for b in row.bookings)
    reads.listed(request, "medication/infusion", patients)  # one read event each, as orders
    return [
        {
            "chair_id": row.chair.pk,
            "chair": row.chair.name,
            "unit_id": row.chair.unit_id,
            "unit": row.chair.unit.name,
            "bookings": [booking_out(b) for b in row.bookings],
        }
        for row in rows
    ]


@router.post("/bookings", response={201: BookingOut}, **rule(*bookings.BOOKERS))
def book(request: HttpRequest, data: BookIn) -> Status[dict[str, Any]]:
    """Book an order on a chair: 409 on an overlap or an order not to be given, 400 outside the
    opening hours or on another day than the order's."""
    row = bookings.book(request.user, data.order_id, data.chair_id, data.start)
    return Status(201, booking_out(row))


@router.post("/bookings/{booking_id}/move", response=BookingOut, **rule(*bookings.BOOKERS))
def move(request: HttpRequest, booking_id: Id, data: MoveIn) -> dict[str, Any]:
    """Move a booking to another chair or time of its day; its length is computed again."""
    row = bookings.move(request.user, booking_id, data.version, data.chair_id, data.start)
    return booking_out(row)


@router.post("/bookings/{booking_id}/cancel", response=BookingOut, **rule(*bookings.BOOKERS))
def cancel(request: HttpRequest, booking_id: Id, data: CancelIn) -> dict[str, Any]:
    return booking_out(bookings.cancel(request.user, booking_id, data.version, data.reason))
