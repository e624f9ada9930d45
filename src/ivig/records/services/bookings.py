"""Bookings (issue 18): an order's chair (or visiting nurse) and start time. The length is
computed, never typed: the unit's set-up time + the planned pump time of the order's rate steps
+ the observation the infusion needs (``core.booking_length``, the monitoring protocol's rule,
counting the patient's earlier infusions not cancelled or deferred as given, as the patient's
plan does). Refused: an overlap on the chair (any overlap of [start, start + length)), a start
before opening or an end after closing (or a closed day), a start on another day than the
order's, and an order that is not planned, verified or dispensed (deferred, cancelled, in
progress or completed). Every write is audited; the chair's row is locked while a booking is
checked and written, so of two bookings racing for one slot one wins.

Roles: nurses, prescribers and administrators book, move and cancel; pharmacists read too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ivig.core import slots as levelled
from ivig.core.booked import BookedSlot
from ivig.core.booking_length import BookingLength, booking_length
from ivig.core.places import check_place
from ivig.errors import Conflict, InvalidInput, InvalidTime, StaleVersion
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import (
    Booking,
    BookingStatus,
    Chair,
    OpeningHours,
    Order,
    OrderStatus,
    Role,
    Unit,
)
from ivig.records.services.access import require
from ivig.records.services.common import get, locked
from ivig.records.services.units import hours_on

__all__ = [
    "BOOKABLE",
    "BOOKERS",
    "LIVE_STATES",
    "MAX_SUGGESTIONS",
    "READERS",
    "BoardBlock",
    "BoardRow",
    "ChairDay",
    "Suggestion",
    "Suggestions",
    "board",
    "book",
    "booked_slot",
    "booked_slots",
    "cancel",
    "day_list",
    "flag_unfit",
    "length_for",
    "move",
    "release_for",
    "slot_of",
    "suggest",
]

BOOKABLE = (OrderStatus.planned, OrderStatus.verified, OrderStatus.dispensed)
BOOKERS = (Role.nurse, Role.prescriber, Role.admin)
READERS = (Role.nurse, Role.prescriber, Role.pharmacist, Role.admin)
_COUNTED = (
    OrderStatus.planned,
    OrderStatus.verified,
    OrderStatus.dispensed,
    OrderStatus.in_progress,
    OrderStatus.completed,
)


def length_for(order: Order, unit: Unit) -> BookingLength:
    """The order's booking length at ``unit``: set-up + pump + observation (first infusion,
    product switch, long gap: from the patient's earlier infusions not cancelled or deferred)."""
    last = (
        Order.objects.filter(patient_id=order.patient_id, date__lt=order.date, status__in=_COUNTED)
        .select_related("course")
        .order_by("-date", "-id")
        .first()
    )
    return booking_length(
        setup_minutes=unit.setup_minutes,
        steps=order.steps,
        first_infusion=last is None,
        product_switch=last is not None and last.course.product_id != order.course.product_id,
        gap_days=(order.date - last.date).days if last is not None else None,
        protocol=current_library().monitoring,
    )


def _local(start: dt.datetime) -> dt.datetime:
    if timezone.is_naive(start):
        raise InvalidTime("give the start with its time zone", field="start")
    try:
        return timezone.localtime(start)
    except (OverflowError, ValueError):  # year 1 or 9999 moved into the service's zone
        raise InvalidTime("the start is not a time of the order's day", field="start") from None


def _end(booking: Booking) -> dt.datetime:
    return booking.start + dt.timedelta(minutes=booking.length_minutes)


def _check_hours(chair: Chair, start: dt.datetime, minutes: int) -> None:
    local = _local(start)
    hours = OpeningHours.objects.filter(
        unit_id=chair.unit_id, weekday=local.weekday(), closed=False
    ).first()
    if hours is None:
        raise InvalidTime(f"{chair.unit.name} is closed on {local:%A}s", field="start")
    end = local + dt.timedelta(minutes=minutes)
    opens = local.replace(hour=hours.opens.hour, minute=hours.opens.minute, second=0)
    closes = local.replace(hour=hours.closes.hour, minute=hours.closes.minute, second=0)
    if local < opens or end > closes:
        raise InvalidTime(
            f"{chair.unit.name} is open {hours.opens:%H:%M}-{hours.closes:%H:%M} on "
            f"{local:%A}s: a booking of {minutes} minutes from {local:%H:%M} ends at {end:%H:%M}",
            field="start",
        )


def _clashes(chair: Chair, start: dt.datetime, minutes: int, *, but: int | None) -> list[Booking]:
    """The chair's live bookings overlapping [start, start + minutes)."""
    end = start + dt.timedelta(minutes=minutes)
    near = Booking.objects.filter(
        chair=chair,
        status=BookingStatus.booked,
        start__lt=end,
        start__gt=start - dt.timedelta(days=1),
    )
    return [b for b in near if _end(b) > start and b.pk != but]


def _order(order_id: int) -> Order:
    order = locked(Order, order_id, "order")
    if order.status not in BOOKABLE:
        raise Conflict(f"order {order.pk} is {order.status}: it cannot be booked")
    return order


def _place(order: Order, chair: Chair, start: dt.datetime, but: int | None) -> BookingLength:
    """Check that the order fits the chair at ``start``; its length."""
    local = _local(start)
    if local.date() != order.date:
        raise InvalidTime(
            f"order {order.pk} is dated {order.date.isoformat()}: book it on that day",
            field="start",
        )
    length = length_for(order, chair.unit)
    _check_unit(order, chair.unit, length)
    _check_hours(chair, start, length.minutes)
    clash = _clashes(chair, start, length.minutes, but=but)
    if clash:
        other = clash[0]
        raise Conflict(
            f"{chair.name} is booked {timezone.localtime(other.start):%H:%M}-"
            f"{timezone.localtime(_end(other)):%H:%M}: a booking of {length.minutes} minutes "
            f"from {local:%H:%M} overlaps it"
        )
    return length


def _check_unit(order: Order, unit: Unit, length: BookingLength) -> None:
    """The unit's kind gives the course's place; a home team no infusion with a reaction risk
    (``core.places``)."""
    reason = length.observation.reason
    risk = "" if reason == "after every infusion" else reason  # monitoring: the extended one
    check_place(order.course.place, unit.kind, unit.name, reaction_risk=risk)


def _parts(length: BookingLength) -> dict[str, object]:
    return {
        "length_minutes": length.minutes,
        "setup_minutes": length.setup_minutes,
        "pump_minutes": length.pump_minutes,
        "observation_minutes": length.observation_minutes,
        "observation_reason": length.observation.reason[:200],
    }


def book(actor: Actor, order_id: int, chair_id: int, start: dt.datetime) -> Booking:
    """Book the order on the chair from ``start`` (an aware datetime on the order's date)."""
    actor = require(actor, "booking an infusion", *BOOKERS)
    with transaction.atomic():
        chair = locked(Chair, chair_id, "chair")  # one booking at a time per chair
        order = _order(order_id)
        existing = Booking.objects.filter(order=order).first()
        if existing is not None and existing.status == BookingStatus.booked:
            raise Conflict(f"order {order.pk} is already booked: move the booking instead")
        length = _place(order, chair, start, but=None)
        values = {"chair": chair, "start": start, "no_longer_fits": False, **_parts(length)}
        if existing is None:
            booking = Booking(order=order, booked_by=actor, **values)
            return _save(actor, "book", booking, None, patient_id=order.patient_id)
        # booked again after a cancellation: the same row
        values |= {"status": BookingStatus.booked, "booked_by": actor}
        before = audit.snapshot(existing)
        return _save(actor, "book", existing, before, patient_id=order.patient_id, values=values)


def _save(
    actor: Actor,
    action: str,
    booking: Booking,
    before: dict[str, Any] | None,
    *,
    patient_id: int,
    values: dict[str, Any] | None = None,
    reason: str = "",
) -> Booking:
    """The tail of every change of a booking: ``values`` set, a version counted on a stored row
    (``before``: its snapshot; ``None`` for a new row, inserted), saved, and audited as
    ``action`` with its before and after."""
    for field, value in (values or {}).items():
        setattr(booking, field, value)
    if before is not None:
        booking.version += 1
    booking.save()
    after = audit.snapshot(booking)
    audit.record(
        actor,
        action,
        "booking",
        booking.pk,
        patient_id=patient_id,
        before=before,
        after=after,
        reason=reason,
    )
    return booking


def _live(booking_id: int, version: int | None) -> Booking:
    booking = locked(Booking, booking_id, "booking")
    if version is not None and booking.version != version:
        raise StaleVersion(f"booking {booking.pk}", version, booking.version)
    if booking.status != BookingStatus.booked:
        raise Conflict(f"booking {booking.pk} is {booking.status}")
    return booking


def move(
    actor: Actor, booking_id: int, version: int | None, chair_id: int, start: dt.datetime
) -> Booking:
    """Move a booking to another chair or time on its day; the length is computed again."""
    actor = require(actor, "moving a booking", *BOOKERS)
    with transaction.atomic():
        chair = locked(Chair, chair_id, "chair")
        booking = _live(booking_id, version)
        order = _order(booking.order_id)
        length = _place(order, chair, start, but=booking.pk)
        values = {"chair": chair, "start": start, "no_longer_fits": False, **_parts(length)}
        before = audit.snapshot(booking)
        return _save(actor, "move", booking, before, patient_id=order.patient_id, values=values)


def cancel(actor: Actor, booking_id: int, version: int | None, reason: str) -> Booking:
    """Cancel a booking (the order stays as it is); a reason is required."""
    actor = require(actor, "cancelling a booking", *BOOKERS)
    why = (reason or "").strip()
    if not why or "\x00" in why:
        raise InvalidInput("give the reason for cancelling", field="reason")
    with transaction.atomic():
        booking = _live(booking_id, version)
        return _save(
            actor,
            "cancel",
            booking,
            audit.snapshot(booking),
            patient_id=Order.objects.get(pk=booking.order_id).patient_id,
            values={"status": BookingStatus.cancelled},
            reason=why[:1000],
        )


def flag_unfit(actor: Actor, order: Order) -> Booking | None:
    """After a re-plan: the order's live booking gets its new length; ``no_longer_fits`` when
    it now overlaps the chair's next booking or runs past closing (the booking stays where it
    is, for a person to move). Audited when anything changed; runs in the re-plan's
    transaction."""
    booking = (
        Booking.objects.select_related("chair__unit")
        .filter(order_id=order.pk, status=BookingStatus.booked)
        .first()
    )
    if booking is None:
        return None
    order = Order.objects.select_related("course").get(pk=order.pk)
    length = length_for(order, booking.chair.unit)
    if length.minutes == booking.length_minutes:
        return booking
    before = audit.snapshot(booking)
    fits = True
    try:
        _check_hours(booking.chair, booking.start, length.minutes)
    except InvalidTime:
        fits = False
    if _clashes(booking.chair, booking.start, length.minutes, but=booking.pk):
        fits = False
    return _save(
        actor,
        "replan",
        booking,
        before,
        patient_id=order.patient_id,
        values={"no_longer_fits": not fits, **_parts(length)},
        reason="the order was planned again" + ("" if fits else ": the booking no longer fits"),
    )


@dataclass(frozen=True, slots=True)
class ChairDay:
    """One chair's live bookings on a day, in time order."""

    chair: Chair
    bookings: tuple[Booking, ...]


def day_list(actor: Actor, day: dt.date, unit_id: int | None = None) -> list[ChairDay]:
    """Every chair (of one unit, or all) with its live bookings on ``day``, in time order."""
    require(actor, "reading the bookings", *READERS)
    tz = timezone.get_current_timezone()
    begin = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    chairs: Iterable[Chair] = Chair.objects.select_related("unit").order_by("unit__name", "name")
    if unit_id is not None:
        chairs = [c for c in chairs if c.unit_id == unit_id]
    rows = (
        Booking.objects.filter(status=BookingStatus.booked, start__gte=begin, start__lt=end)
        .select_related("order__patient", "order__course", "chair")
        .order_by("start", "id")
    )
    by_chair: dict[int, list[Booking]] = {}
    for row in rows:
        by_chair.setdefault(row.chair_id, []).append(row)
    return [ChairDay(c, tuple(by_chair.get(c.pk, ()))) for c in chairs]


# Suggested slots (issue 18): the core's ranking (``core.slots``) on the unit's day.
GRANULARITY_MINUTES = 15
# The shortest pump time counted as bookable (a sliver shorter than set-up + this + the
# standard observation is lost): two 30-minute ramp steps, before any label's top rate.
SHORTEST_PUMP_MINUTES = 60
MAX_SUGGESTIONS = 20


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A suggested place: the chair, start and end (aware), the day's peak with it (chairs in
    use at once), and why, in words."""

    chair: Chair
    start: dt.datetime
    end: dt.datetime
    peak: int
    reason: str


@dataclass(frozen=True, slots=True)
class Suggestions:
    """The order's length at the unit, the best slots (best first), first-fit's earliest slot
    for comparison, the day's peak before the booking and the unit's number of chairs."""

    order: Order
    unit: Unit
    day: dt.date
    length: BookingLength
    slots: tuple[Suggestion, ...]
    first_fit: Suggestion | None
    peak: int
    chairs: int


def _span(booking: Booking) -> tuple[int, int]:
    """A booking's minutes from local midnight, widened to whole minutes (a start given with
    seconds takes the minute it starts in and the one it ends in)."""
    local = timezone.localtime(booking.start)
    start = local.hour * 60 + local.minute
    part = 1 if local.second or local.microsecond else 0
    return start, start + booking.length_minutes + part


def suggest(
    actor: Actor, order_id: int, day: dt.date | None, unit_id: int, n: int = 5
) -> Suggestions:
    """The ``n`` slots of the unit's day that keep its occupancy level for the order (its
    length at the unit, its own booking left out when it has one), and first-fit's earliest
    slot. ``day``: the order's date (``None`` for it; another day is refused, as booking it
    would be). Read-only."""
    require(actor, "suggesting slots", *BOOKERS)
    if isinstance(n, bool) or not 1 <= n <= MAX_SUGGESTIONS:
        raise InvalidInput(f"ask for 1 to {MAX_SUGGESTIONS} suggestions", field="n")
    order = get(Order, order_id, "order")
    if order.status not in BOOKABLE:
        raise Conflict(f"order {order.pk} is {order.status}: it cannot be booked")
    day = order.date if day is None else day
    if day != order.date:
        raise InvalidTime(
            f"order {order.pk} is dated {order.date.isoformat()}: book it on that day",
            field="date",
        )
    unit = get(Unit, unit_id, "unit")
    length = length_for(order, unit)
    _check_unit(order, unit, length)  # no slot where the order may not be booked
    hours = hours_on(unit.pk, day)
    if hours is None:
        raise InvalidTime(f"{unit.name} is closed on {day:%A}s", field="date")
    opens = hours.opens.hour * 60 + hours.opens.minute
    closes = hours.closes.hour * 60 + hours.closes.minute
    chairs = list(Chair.objects.filter(unit=unit).order_by("name", "id"))
    tz = timezone.get_current_timezone()
    begin = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    busy: dict[int, list[tuple[int, int]]] = {c.pk: [] for c in chairs}
    for row in Booking.objects.filter(
        chair__unit=unit,
        status=BookingStatus.booked,
        start__gte=begin,
        start__lt=begin + dt.timedelta(days=1),
    ).exclude(order_id=order.pk):
        busy[row.chair_id].append(_span(row))
    free = [
        levelled.ChairFree(c.name, levelled.free_intervals(opens, closes, busy[c.pk]))
        for c in chairs
    ]
    shortest = min(
        length.minutes,
        unit.setup_minutes
        + current_library().monitoring.observation_minutes.value
        + SHORTEST_PUMP_MINUTES,
    )

    def place(slot: levelled.Slot) -> Suggestion:
        at = dt.datetime.combine(day, dt.time(slot.start // 60, slot.start % 60), tzinfo=tz)
        end = at + dt.timedelta(minutes=length.minutes)
        return Suggestion(chairs[slot.chair], at, end, slot.peak, slot.reason)

    found = levelled.suggest(
        opens,
        closes,
        free,
        length.minutes,
        n=n,
        granularity=GRANULARITY_MINUTES,
        shortest=shortest,
    )
    early = levelled.first_fit(opens, closes, free, length.minutes, shortest=shortest)
    return Suggestions(
        order=order,
        unit=unit,
        day=day,
        length=length,
        slots=tuple(place(s) for s in found),
        first_fit=place(early) if early is not None else None,
        peak=max(levelled.profile(opens, closes, free), default=0),
        chairs=len(chairs),
    )


# --- the booked time and place, for every reader; the release of an ended order --------------


def slot_of(booking: Booking) -> BookedSlot:
    """The booked time and place of one booking (its chair and unit loaded with it)."""
    chair = booking.chair
    return BookedSlot(
        booking_id=booking.pk,
        order_id=booking.order_id,
        unit=chair.unit.name,
        unit_kind=chair.unit.kind,
        chair=chair.name,
        chair_kind=chair.kind,
        start=timezone.localtime(booking.start),
        length_minutes=booking.length_minutes,
        setup_minutes=booking.setup_minutes,
        pump_minutes=booking.pump_minutes,
        observation_minutes=booking.observation_minutes,
        observation_reason=booking.observation_reason,
        version=booking.version,
        no_longer_fits=booking.no_longer_fits,
    )


def booked_slots(order_ids: Iterable[int]) -> dict[int, BookedSlot]:
    """The live bookings of these orders by order id, in one query (an order not booked, or
    whose booking is cancelled, is not in it). A moved booking gives its new time here, so
    every page and document that reads it shows the move with no write of its own."""
    ids = list(order_ids)
    if not ids:
        return {}
    rows = Booking.objects.filter(order_id__in=ids, status=BookingStatus.booked).select_related(
        "chair__unit"
    )
    return {row.order_id: slot_of(row) for row in rows}


def booked_slot(order: Order) -> BookedSlot | None:
    """When and where the order is booked (the unit, the chair or nurse, the start, the end,
    the length and its parts, in the service's time zone); ``None`` when it is not booked."""
    return booked_slots([order.pk]).get(order.pk)


def release_for(actor: Actor, order: Order, reason: str) -> Booking | None:
    """The order ended (deferred, cancelled, its course cancelled): its live booking is
    cancelled with the order's reason, audited, in the caller's transaction (the caller checked
    the role of ending the order). ``None`` when it had none."""
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update()
            .filter(order_id=order.pk, status=BookingStatus.booked)
            .first()
        )
        if booking is None:
            return None
        before = audit.snapshot(booking)
        booking.status, booking.version = BookingStatus.cancelled, booking.version + 1
        booking.save()
        audit.record(
            actor,
            "cancel",
            "booking",
            booking.pk,
            patient_id=order.patient_id,
            before=before,
            after=audit.snapshot(booking),
            reason=f"order {order.pk} {order.status}: {reason}"[:1000],
        )
    return booking


# --- the unit's board: a day or a week of a unit, for the ward tablet and the desk -------------

BOARD_MAX_DAYS = 14
# Today's live state of a booked infusion, from the chairs board's service
# (``infusions.session_state``): checked in (the pre-infusion check done), the pump running or
# paused, on hold after a reaction (paused or stopped with a reaction recorded), the
# observation after the pump, finished (observation closed, order completed).
LIVE_STATES = ("checked-in", "running", "paused", "reaction", "observation", "finished")


@dataclass(frozen=True, slots=True)
class BoardBlock:
    """One booking on the board: local start and end, ``status`` (booked, no-longer-fits,
    cancelled) and, for an infusion of today, its ``live`` state (one of ``LIVE_STATES``)."""

    booking: Booking
    start: dt.datetime
    end: dt.datetime
    status: str
    live: str | None


@dataclass(frozen=True, slots=True)
class BoardRow:
    """A chair (or visiting nurse) on one day: the unit's hours that day (``None``: closed)
    and its bookings in time order, cancelled ones included (marked)."""

    chair: Chair
    day: dt.date
    opens: dt.time | None
    closes: dt.time | None
    blocks: tuple[BoardBlock, ...]


def _live_state(order: Order, now: dt.datetime) -> str | None:
    """The infusion's state now, as the chairs board reads it (``session_state``)."""
    from ivig.records.services.infusions.state import session_state  # infusions import us

    if order.status == OrderStatus.completed:
        return "finished"
    if order.status not in (OrderStatus.dispensed, OrderStatus.in_progress):
        return None
    view = session_state(order, now=now)
    if view.session is None:
        return None
    reacted = view.pump is not None and view.pump.reaction_at is not None
    state = view.state
    if state in ("paused", "stopped") and (reacted or state == "stopped"):
        return "reaction"
    if state in ("running", "paused"):
        return state
    if state == "ended":
        return "observation"
    if state == "closed":
        return "finished"
    return "checked-in" if view.session.get("checked_at") else None


def board(
    actor: Actor,
    unit_id: int,
    start: dt.date,
    days: int = 1,
    *,
    now: dt.datetime | None = None,
) -> list[BoardRow]:
    """The unit's board from ``start`` for ``days`` days (1 to ``BOARD_MAX_DAYS``): a row per
    day and chair (days in order, chairs by name), each with the day's opening hours
    (``units.hours_on``) and its bookings (cancelled ones marked ``cancelled``); the bookings
    of today carry their live state. Every staff role reads it; like ``day_list`` the service
    writes no read event: the page and the API name the patients shown (``reads.listed``)."""
    require(actor, "reading the unit's board", *READERS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= BOARD_MAX_DAYS:
        raise InvalidInput(f"the board shows 1 to {BOARD_MAX_DAYS} days", field="days")
    now = now or timezone.now()
    today = timezone.localdate(now)
    tz = timezone.get_current_timezone()
    try:
        last = start + dt.timedelta(days=days)
        begin = dt.datetime.combine(start, dt.time(0), tzinfo=tz)
        end = dt.datetime.combine(last, dt.time(0), tzinfo=tz)
    except OverflowError:
        raise InvalidInput("the board's days are outside the calendar", field="start") from None
    hours = {d: hours_on(unit_id, d) for d in (start + dt.timedelta(n) for n in range(days))}
    chairs = list(Chair.objects.filter(unit_id=unit_id).select_related("unit").order_by("name"))
    found = (
        Booking.objects.filter(chair__unit_id=unit_id, start__gte=begin, start__lt=end)
        .select_related("order__patient", "order__course", "order__session", "chair")
        .order_by("start", "id")
    )
    cells: dict[tuple[int, dt.date], list[BoardBlock]] = {}
    for row in found:
        local = timezone.localtime(row.start)
        if row.status == BookingStatus.cancelled:
            status, live = "cancelled", None
        else:
            status = "no-longer-fits" if row.no_longer_fits else "booked"
            live = _live_state(row.order, now) if local.date() == today else None
        block = BoardBlock(
            row, local, local + dt.timedelta(minutes=row.length_minutes), status, live
        )
        cells.setdefault((row.chair_id, local.date()), []).append(block)
    return [
        BoardRow(
            chair,
            day,
            h.opens if h is not None else None,
            h.closes if h is not None else None,
            tuple(cells.get((chair.pk, day), ())),
        )
        for day, h in hours.items()
        for chair in chairs
    ]
