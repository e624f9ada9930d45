"""Units, their chairs (or visiting nurses) and opening hours (issue 18): the administrator
edits them; every staff role reads them (a booking names a chair)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Path, Router, Schema, Status

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import Id, In
from ivig.records.models import Chair, ChairKind, OpeningHours, Role, Unit, UnitKind
from ivig.records.services import units
from ivig.records.services.common import get

router = Router(tags=["units"])

Weekday = Annotated[int, Path(..., ge=0, le=6, description="0 Monday .. 6 Sunday")]


class UnitIn(In):
    name: str = Field(..., min_length=1, max_length=units.NAME_MAX)
    kind: UnitKind
    setup_minutes: int = Field(15, ge=0, le=240, description="part of every booking's length")


class ChairIn(In):
    name: str = Field(..., min_length=1, max_length=units.NAME_MAX)
    kind: ChairKind = Field(ChairKind.chair, description="a home team's visiting nurse: nurse")


class HoursIn(In):
    opens: dt.time = Field(..., description="local time, e.g. 08:00")
    closes: dt.time = Field(..., description="local time, after opens")


class ChairOut(Schema):
    id: int
    unit_id: int
    name: str
    kind: str


class HoursOut(Schema):
    weekday: int = Field(..., description="0 Monday .. 6 Sunday; a weekday not listed: closed")
    opens: dt.time
    closes: dt.time


class UnitOut(Schema):
    id: int
    name: str
    kind: str
    setup_minutes: int
    chairs: list[ChairOut]
    hours: list[HoursOut]


def _chair(chair: Chair) -> dict[str, Any]:
    return {"id": chair.pk, "unit_id": chair.unit_id, "name": chair.name, "kind": chair.kind}


def _hours(row: OpeningHours) -> dict[str, Any]:
    return {"weekday": row.weekday, "opens": row.opens, "closes": row.closes}


def unit_out(unit: Unit) -> dict[str, Any]:
    return {
        "id": unit.pk,
        "name": unit.name,
        "kind": unit.kind,
        "setup_minutes": unit.setup_minutes,
        "chairs": [_chair(c) for c in unit.chairs.order_by("name")],
        "hours": [_hours(h) for h in unit.hours.filter(closed=False).order_by("weekday")],
    }


@router.get("/units", response=list[UnitOut], **rule(*EVERYONE))
def list_units(request: HttpRequest) -> list[dict[str, Any]]:
    """Every unit with its chairs and opening hours."""
    return [unit_out(u) for u in Unit.objects.order_by("name")]


@router.post("/units", response={201: UnitOut}, **rule(Role.admin))
def create_unit(request: HttpRequest, data: UnitIn) -> Status[dict[str, Any]]:
    unit = units.create_unit(request.user, data.name, data.kind, data.setup_minutes)
    return Status(201, unit_out(unit))


@router.put("/units/{unit_id}", response=UnitOut, **rule(Role.admin))
def update_unit(request: HttpRequest, unit_id: Id, data: UnitIn) -> dict[str, Any]:
    """Rename a unit, or change its kind or set-up time (bookings made keep their lengths)."""
    return unit_out(
        units.update_unit(request.user, unit_id, data.name, data.kind, data.setup_minutes)
    )


@router.post("/units/{unit_id}/chairs", response={201: ChairOut}, **rule(Role.admin))
def add_chair(request: HttpRequest, unit_id: Id, data: ChairIn) -> Status[dict[str, Any]]:
    return Status(201, _chair(units.add_chair(request.user, unit_id, data.name, data.kind)))


@router.put("/units/{unit_id}/hours/{weekday}", response=UnitOut, **rule(Role.admin))
def set_hours(request: HttpRequest, unit_id: Id, weekday: Weekday, data: HoursIn) -> dict[str, Any]:
    """The unit's hours on a weekday, replacing any it had."""
    units.set_hours(request.user, unit_id, weekday, data.opens, data.closes)
    return unit_out(get(Unit, unit_id, "unit"))


@router.post("/units/{unit_id}/hours/{weekday}/close", response=UnitOut, **rule(Role.admin))
def close_day(request: HttpRequest, unit_id: Id, weekday: Weekday) -> dict[str, Any]:
    """The unit is closed on this weekday."""
    units.close_day(request.user, unit_id, weekday)
    return unit_out(get(Unit, unit_id, "unit"))
