"""The end of the infusion and the post-infusion observation (63): its length from the
history, and the day closed once it has run its course and is documented."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from ivig.core.infused import SHORT_SHARE, grams_given, is_short
from ivig.core.monitoring import ObservationPeriod, observation_close_at, observation_minutes
from ivig.errors import Conflict, InvalidInput
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
from ivig.records.services.infusions.pump import (
    check_pump_time,
    concentration_of,
    pump_row,
    volume_given,
)
from ivig.records.services.orders import transition

__all__ = [
    "OVERFILL_SHARE",
    "end_infusion",
    "finish_observation",
    "observation_for",
    "pump_log_volume",
]

OVERFILL_SHARE = 1.1
"""A volume given above the dose's volume by more than this share is refused as a typing or
pump-reading slip (the bag holds the dose's vials, no more)."""


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


def pump_log_volume(order: Order, session: InfusionSession, at: dt.datetime) -> float:
    """What the End form offers (issue 16 item 4): the volume the pump log gave up to ``at``,
    never above the dose's volume, to 0.1 mL."""
    return round(min(volume_given(session, at), float(order.volume_ml)), 1)


def _given(
    order: Order,
    session: InfusionSession,
    at: dt.datetime,
    volume_ml: float | None,
    short_confirmed: bool,
    short_reason: str,
) -> tuple[float, float]:
    """The volume and grams given, checked: not negative, not above the dose's volume (with
    its overfill share), and a stop well short of the dose confirmed with a reason."""
    dose_ml = float(order.volume_ml)
    volume = pump_log_volume(order, session, at) if volume_ml is None else float(volume_ml)
    if not volume >= 0:
        raise InvalidInput("the volume given cannot be negative", field="volume_given_ml")
    if volume > dose_ml * OVERFILL_SHARE:
        raise InvalidInput(
            f"{volume:g} mL is more than this dose's {dose_ml:g} mL: read the volume infused "
            "on the pump again",
            field="volume_given_ml",
        )
    if is_short(volume, dose_ml) and not (short_confirmed and short_reason.strip()):
        share = round(100 * volume / dose_ml) if dose_ml else 0
        raise Conflict(
            f"{volume:g} of {dose_ml:g} mL given ({share} %), well short of the dose (less "
            f"than {round(SHORT_SHARE * 100)} %): confirm the early stop and say why",
            field="short_stop_reason",
        )
    grams = min(grams_given(volume, concentration_of(order)), float(order.dose_g))
    return volume, round(grams, 2)


def end_infusion(
    actor: Actor,
    order_id: int,
    at: dt.datetime,
    *,
    volume_given_ml: float | None = None,
    short_confirmed: bool = False,
    short_reason: str = "",
    now: dt.datetime,
) -> InfusionSession:
    """The pump stops (a ``stop`` row when it was running); the volume given is recorded (the
    nurse's, else the pump log's up to ``at``) with its grams (mL x concentration), which the
    28-day cap, the records and the exports count; a stop below 90 % of the dose's volume
    needs ``short_confirmed`` and a reason (issue 16 item 4). The observation starts, its
    length from the history (63)."""
    actor = require(actor, "ending an infusion", Role.nurse)
    at = clinical_time(at, now)
    with transaction.atomic():
        order, session = open_session(order_id)
        check_pump_time(session, at)
        volume, grams = _given(order, session, at, volume_given_ml, short_confirmed, short_reason)
        short = is_short(volume, float(order.volume_ml))
        if session.state == S.running:
            pump_row(actor, session, order, at, RateAction.stop, note="end of infusion")
        period = observation_for(order)
        session = change(
            actor, "end", session, order,
            state=S.ended, ended_at=at, observation_minutes=period.minutes,
            volume_given_ml=volume, given_g=grams,
            short_stop_reason=short_reason.strip() if short else "",
            reason=f"stopped short of the dose: {short_reason.strip()}" if short else "",
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
