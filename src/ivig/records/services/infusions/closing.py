"""The end of the infusion and the post-infusion observation (63): its length from the
history, and the day closed once it has run its course and is documented."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from ivig.core.monitoring import ObservationPeriod, observation_close_at, observation_minutes
from ivig.errors import Conflict
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import InfusionSession, Order, OrderStatus, RateAction, Role
from ivig.records.services.access import require
from ivig.records.services.common import locked
from ivig.records.services.infusions._common import (
    S,
    change,
    clinical_time,
    clock,
    history,
    not_before,
    open_session,
    standing_vitals,
)
from ivig.records.services.infusions.pump import check_pump_time, pump_row
from ivig.records.services.orders import transition

__all__ = ["end_infusion", "finish_observation", "observation_for"]


def observation_for(order: Order) -> ObservationPeriod:
    """The observation after this infusion: 20 minutes, or 60 after a first infusion, a product
    switch or a long gap (computed from the history, never typed in: requirement 63)."""
    first, previous, last = history(order)
    return observation_minutes(
        first_infusion=first,
        product_switch=previous is not None and previous != order.course.product_id,
        gap_days=(order.date - last).days if last else None,
        protocol=current_library().monitoring,
    )


def end_infusion(
    actor: Actor, order_id: int, at: dt.datetime, *, now: dt.datetime
) -> InfusionSession:
    """The pump stops (a ``stop`` row when it was running); the observation starts, its length
    from the history (63)."""
    actor = require(actor, "ending an infusion", Role.nurse)
    at = clinical_time(at, now)
    with transaction.atomic():
        order, session = open_session(order_id)
        check_pump_time(session, at)
        if session.state == S.running:
            pump_row(actor, session, order, at, RateAction.stop, note="end of infusion")
        period = observation_for(order)
        session = change(
            actor, "end", session, order,
            state=S.ended, ended_at=at, observation_minutes=period.minutes,
        )  # fmt: skip
    return session


def finish_observation(
    actor: Actor, order_id: int, version: int, at: dt.datetime, notes: str, *, now: dt.datetime
) -> InfusionSession:
    """Close the day (63): only after the full observation period, and once it is documented
    (a note, or vital signs recorded after the end); the order is then completed."""
    actor = require(actor, "closing the observation", Role.nurse)
    at = clinical_time(at, now)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or session.ended_at is None:
            raise Conflict(f"the infusion of order {order.pk} has not ended")
        if session.state == S.closed:
            raise Conflict(f"the observation of order {order.pk} is closed already")
        not_before(at, session.ended_at, "the end of the infusion")
        due = session.ended_at + dt.timedelta(minutes=session.observation_minutes or 0)
        if at < due:  # the minute shown is rounded up: an entry at it is always accepted
            shown = observation_close_at(session.ended_at, session.observation_minutes or 0)
            raise Conflict(
                f"the observation lasts {session.observation_minutes} minutes: it can close at "
                f"{clock(shown)} ({shown.isoformat(timespec='minutes')})",
                field="at",
            )
        seen = standing_vitals(session).filter(at__gte=session.ended_at).exists()
        if not notes.strip() and not seen:
            raise Conflict(
                "document the observation: write a note, or record the vital signs taken after "
                "the end of the infusion",
                field="notes",
            )
        transition(actor, order_id, OrderStatus.completed, version)
        session = change(
            actor, "observation-end", session, order,
            state=S.closed, observation_ended_at=at, observation_notes=notes.strip(),
        )  # fmt: skip
    return session
