"""Units (infusion centre, day ward, home-infusion team), their chairs or visiting nurses and
their opening hours (issue 18). The administrator edits them; every write is audited."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from ivig.core.booking_length import MAX_SETUP_MINUTES
from ivig.errors import Conflict, InvalidInput
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import Chair, ChairKind, OpeningHours, Role, Unit, UnitKind
from ivig.records.services.access import require
from ivig.records.services.common import get, locked

__all__ = [
    "NAME_MAX",
    "WEEKDAYS",
    "add_chair",
    "close_day",
    "create_unit",
    "hours_on",
    "set_hours",
    "update_unit",
]

NAME_MAX = 100
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _name(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"give the {what}'s name", field="name")
    if len(value) > NAME_MAX or "\x00" in value:
        raise InvalidInput(
            f"the {what}'s name is at most {NAME_MAX} characters, no NUL", field="name"
        )
    return value


def _setup(minutes: int) -> int:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise InvalidInput("the set-up time is a whole number of minutes", field="setup_minutes")
    if not 0 <= minutes <= MAX_SETUP_MINUTES:
        raise InvalidInput(
            f"the set-up time is 0 to {MAX_SETUP_MINUTES} minutes", field="setup_minutes"
        )
    return minutes


def _kind(value: str, choices: type[UnitKind] | type[ChairKind]) -> str:
    if value not in choices.values:
        raise InvalidInput(f"the kind is one of {', '.join(choices.values)}", field="kind")
    return value


def create_unit(actor: Actor, name: str, kind: str, setup_minutes: int) -> Unit:
    """A new unit; a home-infusion team's chairs are its visiting nurses."""
    actor = require(actor, "adding a unit", Role.admin)
    values = {
        "name": _name(name, "unit"),
        "kind": _kind(kind, UnitKind),
        "setup_minutes": _setup(setup_minutes),
    }
    with transaction.atomic():
        if Unit.objects.filter(name__iexact=values["name"]).exists():
            raise Conflict(f"a unit is already named {values['name']}")
        unit = Unit.objects.create(**values)
        audit.record(actor, "create", "unit", unit.pk, after=audit.snapshot(unit))
    return unit


def update_unit(actor: Actor, unit_id: int, name: str, kind: str, setup_minutes: int) -> Unit:
    """Rename a unit or change its kind or set-up time (bookings made keep their lengths)."""
    actor = require(actor, "changing a unit", Role.admin)
    values = {
        "name": _name(name, "unit"),
        "kind": _kind(kind, UnitKind),
        "setup_minutes": _setup(setup_minutes),
    }
    with transaction.atomic():
        unit = locked(Unit, unit_id, "unit")
        if Unit.objects.filter(name__iexact=values["name"]).exclude(pk=unit.pk).exists():
            raise Conflict(f"a unit is already named {values['name']}")
        before = audit.snapshot(unit)
        for field, value in values.items():
            setattr(unit, field, value)
        unit.save()
        audit.record(actor, "update", "unit", unit.pk, before=before, after=audit.snapshot(unit))
    return unit


def add_chair(actor: Actor, unit_id: int, name: str, kind: str = ChairKind.chair) -> Chair:
    """A chair of the unit, or a visiting nurse (``kind="nurse"``) of a home-infusion team."""
    actor = require(actor, "adding a chair", Role.admin)
    values = {"name": _name(name, "chair"), "kind": _kind(kind, ChairKind)}
    try:
        with transaction.atomic():
            unit = locked(Unit, unit_id, "unit")
            chair = Chair.objects.create(unit=unit, **values)
            audit.record(actor, "create", "chair", chair.pk, after=audit.snapshot(chair))
    except IntegrityError:
        raise Conflict(f"the unit already has a chair named {values['name']}") from None
    return chair


def _hours(row: OpeningHours) -> dict[str, object]:
    """The hours as the audit keeps them (times as ``HH:MM``)."""
    return {
        "unit_id": row.unit_id,
        "weekday": row.weekday,
        "opens": row.opens.strftime("%H:%M"),
        "closes": row.closes.strftime("%H:%M"),
        "closed": row.closed,
    }


def _weekday(weekday: int) -> int:
    if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise InvalidInput("the weekday is 0 (Monday) to 6 (Sunday)", field="weekday")
    return weekday


def set_hours(
    actor: Actor, unit_id: int, weekday: int, opens: dt.time, closes: dt.time
) -> OpeningHours:
    """The unit's hours on a weekday (0 Monday .. 6 Sunday), replacing any it had."""
    actor = require(actor, "setting opening hours", Role.admin)
    weekday = _weekday(weekday)
    if opens.tzinfo is not None or closes.tzinfo is not None:
        raise InvalidInput("give the hours in the service's local time", field="opens")
    if closes <= opens:
        raise InvalidInput("the unit must close after it opens", field="closes")
    with transaction.atomic():
        unit = locked(Unit, unit_id, "unit")
        row = OpeningHours.objects.filter(unit=unit, weekday=weekday).first()
        before = _hours(row) if row is not None else None
        if row is None:
            row = OpeningHours.objects.create(
                unit=unit, weekday=weekday, opens=opens, closes=closes
            )
        else:
            row.opens, row.closes, row.closed = opens, closes, False
            row.save()
        audit.record(actor, "set-hours", "unit", unit.pk, before=before, after=_hours(row))
    return row


def close_day(actor: Actor, unit_id: int, weekday: int) -> None:
    """The unit is closed on this weekday (its hours kept, marked closed: never deleted)."""
    actor = require(actor, "setting opening hours", Role.admin)
    weekday = _weekday(weekday)
    with transaction.atomic():
        unit = locked(Unit, unit_id, "unit")
        row = OpeningHours.objects.filter(unit=unit, weekday=weekday).first()
        if row is None or row.closed:
            return
        before = _hours(row)
        row.closed = True
        row.save()
        audit.record(actor, "close-day", "unit", unit.pk, before=before, after=_hours(row))


def hours_on(unit_id: int, day: dt.date) -> OpeningHours | None:
    """The unit's hours on ``day``, or ``None``: closed that day."""
    get(Unit, unit_id, "unit")
    return OpeningHours.objects.filter(unit_id=unit_id, weekday=day.weekday(), closed=False).first()
