"""Reactions (62): the protocol's advice, the pump paused or stopped for the day, a resume at
or below the last tolerated rate, and a prescriber's order to restart a stopped infusion."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from ivig.core.monitoring import (
    ReactionAction,
    ReactionAdvice,
    ReactionSeverity,
    classify_symptoms,
    recommended_action,
)
from ivig.errors import Conflict, InvalidInput
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import InfusionSession, RateAction, RateChange, Reaction, Role
from ivig.records.services.access import require
from ivig.records.services.common import CLOCK_SKEW
from ivig.records.services.infusions._common import (
    S,
    change,
    clinical_time,
    clock,
    fresh,
    guarded,
    open_session,
    standing_reactions,
    standing_vitals,
)
from ivig.records.services.infusions.pump import (
    above_tolerated,
    check_pump_time,
    current_rate,
    guard_rate,
    last_tolerated_rate,
    pump_row,
    steps_of,
)
from ivig.records.services.infusions.tasks import medicines_task

__all__ = [
    "order_restart",
    "reaction_advice",
    "record_reaction",
    "restart_limit",
    "resume_infusion",
]


def _advice(
    session: InfusionSession, grade: ReactionSeverity, reactions_today: int
) -> ReactionAdvice:
    """The protocol's advice at the rate the pump ran at, the highest lower rate given before
    it (0 mL/h pause rows skipped) as the last tolerated."""
    current = current_rate(session)
    earlier = [r.rate_ml_per_h for r in session.rate_changes.all() if 0 < r.rate_ml_per_h < current]
    return recommended_action(
        grade,
        current_rate_ml_per_h=current,
        last_tolerated_ml_per_h=max(earlier) if earlier else None,
        reactions_today=reactions_today,
        protocol=current_library().monitoring,
    )


def reaction_advice(session: InfusionSession, grade: ReactionSeverity) -> ReactionAdvice:
    """The protocol's advice for a reaction now: at the rate the pump ran at, with the highest
    lower rate given before it (0 mL/h pause rows skipped) as the last tolerated, counting the
    reactions that stand so far today."""
    return _advice(session, grade, standing_reactions(session).count())


def _restart_limit(session: InfusionSession, advice: ReactionAdvice) -> float:
    """The last tolerated rate after this reaction: the advice's restart rate, or (a stop for
    the day) the rate the protocol would allow a restart at, which a new prescriber order may
    not exceed."""
    if advice.restart_max_ml_per_h is not None:
        return advice.restart_max_ml_per_h
    fallback = _advice(session, ReactionSeverity.moderate, 0)
    assert fallback.restart_max_ml_per_h is not None
    return fallback.restart_max_ml_per_h


def record_reaction(
    actor: Actor,
    order_id: int,
    session_version: int,
    at: dt.datetime,
    symptoms: list[str],
    action_taken: str,
    *,
    severity: str | None = None,
    medicines_given: str = "",
    now: dt.datetime,
) -> Reaction:
    """A suspected reaction (62), with the protocol's advice beside the action taken: the pump
    pauses (a row at 0 mL/h); a second reaction today or a severe one stops it for the day.
    Protocol medicines given make a task for the prescriber to acknowledge."""
    actor = require(actor, "recording a reaction", Role.nurse)
    at = clinical_time(at, now)
    if not action_taken.strip():
        raise InvalidInput("say what was done", field="action_taken")
    if severity and severity not in ReactionSeverity.__members__:
        raise InvalidInput("severity must be mild, moderate or severe", field="severity")
    grade = (
        ReactionSeverity(severity)
        if severity
        else classify_symptoms(symptoms, protocol=current_library().monitoring)
    )
    with transaction.atomic():
        order, session = open_session(order_id)
        fresh(session, session_version, order)
        check_pump_time(session, at)
        advice = reaction_advice(session, grade)
        stops = grade is ReactionSeverity.severe or advice.action is ReactionAction.stop_no_restart
        row = Reaction.objects.create(
            session=session,
            at=at,
            symptoms=list(symptoms),
            severity=grade.value,
            recommended={
                "action": advice.action.value,
                "message": advice.message,
                "restart_max_ml_per_h": advice.restart_max_ml_per_h,
                "last_tolerated_ml_per_h": _restart_limit(session, advice),
                "call_prescriber": advice.call_prescriber,
                "basis": advice.basis,
                "source": advice.source,
                "verified": advice.verified,
            },
            action_taken=action_taken.strip(),
            medicines_given=medicines_given.strip(),
            recorded_by=actor,
        )
        audit.created(actor, "reaction", row, patient_id=order.patient_id)
        changes: dict[str, Any] = {"state": session.state}
        if stops and session.state in (S.running, S.paused):
            pump_row(
                actor, session, order, at, RateAction.stop, note="reaction: stopped for the day"
            )
            changes["state"] = S.stopped
        elif session.state == S.running:
            pump_row(actor, session, order, at, RateAction.pause, note="reaction: paused")
            changes["state"] = S.paused
        if changes["state"] == S.stopped:  # a restart order made before this one is void
            changes["restart_max_ml_per_h"] = None
        change(actor, "reaction", session, order, version=session_version,
                reason=f"{grade.value} reaction", **changes)  # fmt: skip
        if row.medicines_given:
            medicines_task(actor, session, order, row)
    return row


def _restart_order_stands(session: InfusionSession) -> bool:
    """A prescriber's restart order stands (62): made since the infusion stopped (a stop
    clears it) and not yet used (a resume uses it up)."""
    return (
        session.state == S.stopped
        and session.restart_order_at is not None
        and session.restart_max_ml_per_h is not None
    )


def restart_limit(session: InfusionSession) -> float | None:
    """The highest rate a resume may use now: paused, the last tolerated rate; stopped, the
    restart order's maximum (``None`` without one); otherwise ``None``."""
    if session.state == S.paused:
        return last_tolerated_rate(session)
    if session.state == S.stopped and _restart_order_stands(session):
        return session.restart_max_ml_per_h
    return None


def _ready_to_restart(
    session: InfusionSession, at: dt.datetime, symptoms_resolved: bool, reason: str
) -> str:
    """A restart needs vital signs recorded after the last reaction and the symptoms resolved,
    or a recorded reason (issue 16 item 7); the words kept with the pump's resume row."""
    last = standing_reactions(session).order_by("-at", "-id").first()
    since = last.at if last is not None else session.started_at
    assert since is not None
    vitals = (
        standing_vitals(session)
        .filter(at__gte=since, at__lte=at + CLOCK_SKEW)
        .order_by("-at", "-id")
        .first()
    )
    if vitals is not None and symptoms_resolved:
        return f"symptoms resolved; vital signs at {clock(vitals.at)}"
    if reason.strip():
        missing = [
            *(["vital signs after the reaction"] if vitals is None else []),
            *(["symptoms resolved"] if not symptoms_resolved else []),
        ]
        return f"restarted without {' and '.join(missing)}: {reason.strip()}"
    if vitals is None:
        raise Conflict(
            f"record the vital signs taken after the reaction at {clock(since)} before "
            "restarting, or say why they were not taken",
            field="vitals",
        )
    raise Conflict(
        "confirm that the symptoms have resolved before restarting, or say why it restarts anyway",
        field="symptoms_resolved",
    )


def resume_infusion(
    actor: Actor,
    order_id: int,
    session_version: int,
    at: dt.datetime,
    rate_ml_per_h: float,
    *,
    symptoms_resolved: bool = False,
    reason: str = "",
    now: dt.datetime,
) -> RateChange:
    """Restart the pump after a reaction (62): from paused, at or below the last tolerated
    rate; from stopped, only on a prescriber's restart order made after the stop, at or below
    its maximum. Above either is a hard limit (counted). The library's rate guards apply. It
    needs vital signs after the reaction and the symptoms resolved, or a reason (issue 16
    item 7), kept as the resume row's note."""
    actor = require(actor, "resuming an infusion", Role.nurse)
    at = clinical_time(at, now)
    with guarded(actor, "rate-change", order_id, session_version) as (order, session):
        if session.state == S.running:
            raise Conflict("the infusion is running: change the rate instead", field="state")
        if session.state == S.stopped and not _restart_order_stands(session):
            raise Conflict(
                "a stopped infusion cannot restart today without a new prescriber order",
                field="state",
            )
        check_pump_time(session, at)
        guard_rate(order, session, steps_of(order), at, rate_ml_per_h)
        limit = restart_limit(session)
        why = (
            "the last tolerated rate after today's reaction"
            if session.state == S.paused
            else "the maximum of the prescriber's restart order"
        )
        if limit is not None and rate_ml_per_h > limit + 1e-9:
            raise above_tolerated(rate_ml_per_h, limit, why)
        note = _ready_to_restart(session, at, symptoms_resolved, reason)
        row = pump_row(
            actor, session, order, at, RateAction.resume, rate_ml_per_h=rate_ml_per_h, note=note
        )
        used: dict[str, Any] = {"restart_max_ml_per_h": None} if session.state == S.stopped else {}
        change(actor, "resume", session, order, version=session_version, state=S.running,
                **used)  # fmt: skip
    return row


def order_restart(
    actor: Actor,
    order_id: int,
    session_version: int,
    reason: str,
    max_rate_ml_per_h: float,
    *,
    now: dt.datetime,
) -> InfusionSession:
    """A prescriber's new order to restart a stopped infusion today (62), with a reason and a
    maximum rate no higher than the last tolerated rate (a hard limit, counted)."""
    actor = require(actor, "ordering a restart", Role.prescriber)
    if not reason.strip():
        raise InvalidInput("say why the infusion may restart", field="reason")
    if not max_rate_ml_per_h > 0:
        raise InvalidInput("the maximum rate must be above 0 mL/h", field="max_rate_ml_per_h")
    with guarded(actor, "restart-order", order_id, session_version) as (order, session):
        if session.state != S.stopped:
            raise Conflict(
                f"the infusion is {session.state}: only a stopped infusion needs a restart order",
                field="state",
            )
        tolerated = last_tolerated_rate(session)
        if tolerated is not None and max_rate_ml_per_h > tolerated + 1e-9:
            error = above_tolerated(
                max_rate_ml_per_h, tolerated, "the last tolerated rate after today's reactions"
            )
            error.field = "max_rate_ml_per_h"
            raise error
        session = change(
            actor, "restart-order", session, order, version=session_version,
            reason=reason.strip(), restart_order_by=actor, restart_order_at=now,
            restart_order_reason=reason.strip(), restart_max_ml_per_h=max_rate_ml_per_h,
        )  # fmt: skip
    return session
