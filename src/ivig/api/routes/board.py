"""The unit's board (issue 18): ``GET /api/bookings/board?unit=&start=&days=``, the rows of
the day and week board pages (``bookings.board``): a row per day and chair with the day's
opening hours and its bookings as blocks (start, end, the length's parts, status; today's live
state from the chairs board). Every staff role reads it; a read event per patient listed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from ivig.api.auth import rule
from ivig.api.schemas import In
from ivig.errors import InvalidInput, NotFound
from ivig.records.services import bookings, reads
from ivig.records.services.bookings import BOARD_MAX_DAYS, BoardBlock, BoardRow

__all__ = ["router"]

router = Router(tags=["bookings"])


class BoardQuery(In):
    unit: int = Field(..., ge=1, description="the unit's id")
    start: dt.date | None = Field(None, description="the first day; empty: today")
    days: int = Field(1, ge=1, le=BOARD_MAX_DAYS, description="1 (a day) to 14; 7: a week")


class BoardBlockOut(Schema):
    booking_id: int
    version: int
    order_id: int
    patient_id: int
    mrn: str
    initials: str
    product: str
    dose_g: float
    start: dt.datetime
    end: dt.datetime
    length_minutes: int = Field(..., description="setup + pump + observation")
    setup_minutes: int
    pump_minutes: int
    observation_minutes: int
    observation_reason: str
    status: str = Field(..., description="booked, no-longer-fits or cancelled")
    live: str | None = Field(
        None, description="today only: " + ", ".join(bookings.LIVE_STATES) + "; else null"
    )


class BoardRowOut(Schema):
    date: dt.date
    chair_id: int
    chair: str
    chair_kind: str = Field(..., description="chair, or nurse (a home-infusion team's)")
    opens: str | None = Field(None, description="HH:MM; null: closed that day")
    closes: str | None = None
    blocks: list[BoardBlockOut]


def _block(block: BoardBlock) -> dict[str, Any]:
    b, order = block.booking, block.booking.order
    patient = order.patient
    return {
        "booking_id": b.pk, "version": b.version, "order_id": order.pk,
        "patient_id": patient.pk, "mrn": patient.mrn,
        "initials": f"{patient.given_name[:1]}{patient.family_name[:1]}".upper(),
        "product": order.course.product_id, "dose_g": order.dose_g,
        "start": block.start, "end": block.end, "length_minutes": b.length_minutes,
        "setup_minutes": b.setup_minutes, "pump_minutes": b.pump_minutes,
        "observation_minutes": b.observation_minutes,
        "observation_reason": b.observation_reason, "status": block.status, "live": block.live,
    }  # fmt: skip


def _row(row: BoardRow) -> dict[str, Any]:
    return {
        "date": row.day,
        "chair_id": row.chair.pk,
        "chair": row.chair.name,
        "chair_kind": row.chair.kind,
        "opens": row.opens.strftime("%H:%M") if row.opens else None,
        "closes": row.closes.strftime("%H:%M") if row.closes else None,
        "blocks": [_block(b) for b in row.blocks],
    }


@router.get("/bookings/board", response=list[BoardRowOut], **rule(*bookings.READERS))
def board(request: HttpRequest, query: Query[BoardQuery]) -> list[dict[str, Any]]:
    """The unit's board from ``start`` (today) for ``days`` days: a row per day and chair,
    days in order, chairs by name; cancelled bookings included (``status``). An unknown unit
    is bad input (422, ``unit``)."""
    start = query.start or timezone.localdate()
    try:
        rows = bookings.board(request.user, query.unit, start, query.days)
    except NotFound:  # a query names no record as a path does: bad input (422), not a 404
        raise InvalidInput(f"no unit {query.unit}", field="unit") from None
    patients = (b.booking.order.patient_id for r in rows for b in r.blocks)
    reads.listed(request, "medication/infusion", patients)  # one read event each
    return [_row(r) for r in rows]
