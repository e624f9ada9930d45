"""What every stage at the chair shares: clinical times and their guards (35), the session
row changed at a version and audited (32), the rows in force (11-13) and the history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ivig.errors import Conflict, InvalidInput, InvalidTime, StaleVersion
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import (
    InfusionSession,
    Order,
    OrderStatus,
    Reaction,
    SessionState,
    Vitals,
)
from ivig.records.services.common import CLOCK_SKEW, locked, save_versioned
from ivig.records.services.corrections import current
from ivig.records.services.limits import hard_stops

S = SessionState


def clock(moment: dt.datetime) -> str:
    """A time as the nurse reads it: local ``HH:MM``."""
    return timezone.localtime(moment).strftime("%H:%M")


def clinical_time(at: dt.datetime, now: dt.datetime, field: str = "at") -> dt.datetime:
    """A clinical time: with its zone, and not in the future beyond the clock skew (35)."""
    if at.tzinfo is None:
        raise InvalidInput("give the time with its time zone", field=field)
    if at > now + CLOCK_SKEW:
        raise InvalidTime(
            f"{clock(at)} is in the future (now {clock(now)}; clocks may differ by 2 minutes "
            "at most)",
            field=field,
        )
    return at


def not_before(at: dt.datetime, earliest: dt.datetime, what: str, field: str = "at") -> None:
    """Refuse a time before what it records (35): exactly equal is accepted."""
    if at < earliest:
        raise InvalidTime(
            f"{clock(at)} is before {what} ({clock(earliest)})",
            field=field,
        )


def standing_vitals(session: InfusionSession) -> QuerySet[Vitals]:
    """The vital signs in force: neither superseded by a correction nor voided (11-13)."""
    return current(Vitals.objects.filter(session=session))


def standing_reactions(session: InfusionSession) -> QuerySet[Reaction]:
    """The reactions in force: neither superseded by a correction nor voided (11-13)."""
    return current(Reaction.objects.filter(session=session))


def history(order: Order) -> tuple[bool, str | None, dt.date | None]:
    """First infusion?, the previous product and the date of the last infusion before this."""
    last = (
        Order.objects.filter(
            patient_id=order.patient_id,
            date__lt=order.date,
            status__in=(OrderStatus.completed, OrderStatus.in_progress),
        )
        .select_related("course")
        .order_by("-date", "-id")
        .first()
    )
    if last is None:
        return True, None, None
    return False, last.course.product_id, last.date


def blocking_findings(session: InfusionSession) -> list[dict[str, Any]]:
    """The check's findings that block the start without a prescriber's override."""
    return [f for f in session.check_findings if f.get("severity") == "block"]


def change(
    actor: Actor,
    action: str,
    session: InfusionSession,
    order: Order,
    *,
    version: int | None = None,
    reason: str = "",
    **changes: Any,
) -> InfusionSession:
    """Update the session at ``version`` (any, when ``None``), bump its version and audit it
    (before and after), in the caller's transaction."""
    before = audit.snapshot(session)
    session = save_versioned(session, version, f"the infusion of order {order.pk}", **changes)
    audit.record(actor, action, "infusion", session.pk, patient_id=order.patient_id,
                 before=before, after=audit.snapshot(session), reason=reason)  # fmt: skip
    return session


def fresh(session: InfusionSession, version: int, order: Order) -> None:
    """Refuse a stale session version before anything else (32: the loser of a race is told
    that the infusion changed, not some later consequence of the winner's change)."""
    if session.version != version:
        raise StaleVersion(f"the infusion of order {order.pk}", version, session.version)


def patient_of(order_id: int) -> int | None:
    """The order's patient (``None`` for an unknown order), for a hard stop counted outside
    the transaction that it rolls back."""
    found: int | None = (
        Order.objects.filter(pk=order_id).values_list("patient_id", flat=True).first()
    )
    return found


@contextmanager
def guarded(
    actor: Actor, entity: str, order_id: int, session_version: int
) -> Iterator[tuple[Order, InfusionSession]]:
    """A change to a running infusion in one transaction: the order locked and its open
    session at ``session_version`` (32); a hard limit raised inside is counted as ``entity``
    outside the transaction it rolls back (48-50)."""
    with (
        hard_stops(actor, entity, patient_id=patient_of(order_id), order_id=order_id),
        transaction.atomic(),
    ):
        order, session = open_session(order_id)
        fresh(session, session_version, order)
        yield order, session


def open_session(order_id: int) -> tuple[Order, InfusionSession]:
    """The order (locked) and its started, not yet ended session."""
    order = locked(Order, order_id, "order")
    session = InfusionSession.objects.filter(order=order).first()
    if order.status != OrderStatus.in_progress or session is None or session.started_at is None:
        raise Conflict(f"order {order.pk} is {order.status}: no infusion is running")
    if session.state in (S.ended, S.closed) or session.ended_at is not None:
        raise Conflict(f"the infusion of order {order.pk} has ended")
    return order, session
