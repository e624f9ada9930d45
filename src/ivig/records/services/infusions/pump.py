"""The pump: the order's steps, the rate it runs at, the last tolerated rate after a reaction,
and a rate change through the drug library's guards (47-50) and the increase rules (60)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User

from ivig.core.infused import volume_infused
from ivig.core.limits import SoftLimit, check_rate_entry
from ivig.core.rates import RateStep
from ivig.errors import Conflict, HardLimit
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_catalogue, current_library
from ivig.records.models import InfusionSession, Order, RateAction, RateChange, Role, Vitals
from ivig.records.services import premedication
from ivig.records.services.access import require
from ivig.records.services.common import save_versioned
from ivig.records.services.infusions._common import (
    S,
    clinical_time,
    clock,
    guarded,
    not_before,
    standing_reactions,
    standing_vitals,
)
from ivig.records.services.limits import Override, require_override

__all__ = ["current_rate", "last_tolerated_rate", "record_rate", "steps_of", "volume_given"]


def steps_of(order: Order) -> tuple[RateStep, ...]:
    """The order's rate steps as stored with it (``Plan.as_dict``: one dose's ``steps``)."""
    return tuple(
        RateStep(
            float(s["start_min"]),
            float(s["end_min"]),
            float(s["rate_ml_per_h"]),
            float(s["rate_mg_per_kg_per_min"]),
            float(s["volume_ml"]),
            str(s.get("basis", "label")),
        )
        for s in order.steps
    )


def minutes_since_start(session: InfusionSession, at: dt.datetime) -> float:
    """Minutes from the (real) start of the infusion to ``at``."""
    assert session.started_at is not None
    return (at - session.started_at).total_seconds() / 60


def step_at(steps: tuple[RateStep, ...], minute: float) -> int:
    """The index of the planned step due at ``minute`` after the start (the last one after)."""
    for i, step in enumerate(steps):
        if minute < step.end_min:
            return i
    return len(steps) - 1


def _step_of_rate(steps: tuple[RateStep, ...], rate: float) -> int:
    """The planned step the pump is on at ``rate``: the step of that rate (within the library's
    match tolerance), else the highest step below it, else the first."""
    tolerance = current_library().limits.match_tolerance.value
    for i, step in enumerate(steps):
        if abs(step.rate_ml_per_h - rate) <= tolerance * step.rate_ml_per_h:
            return i
    below = [i for i, step in enumerate(steps) if step.rate_ml_per_h <= rate]
    return below[-1] if below else 0


def _step_minutes(steps: tuple[RateStep, ...], i: int) -> float:
    """A step's minimum time (60): its planned length; the last step runs until the volume is
    in, so its minimum is the step before it (the protocol's interval)."""
    if i == len(steps) - 1 and i > 0:
        i -= 1
    return steps[i].end_min - steps[i].start_min


def _last_pump_row(session: InfusionSession) -> RateChange | None:
    """The pump's latest row, whatever its action (a pause or stop included)."""
    return session.rate_changes.order_by("-at", "-id").first()


def running_row(session: InfusionSession) -> RateChange | None:
    """The latest row with the pump running (pause and stop rows, at 0 mL/h, skipped)."""
    return session.rate_changes.filter(rate_ml_per_h__gt=0).order_by("-at", "-id").first()


def current_rate(session: InfusionSession) -> float:
    """The rate the pump runs (or last ran, when paused or stopped) at: the latest rate row
    above 0 mL/h (the start records the first)."""
    latest = running_row(session)
    if latest is None:
        raise Conflict("the infusion has not started: there is no current rate")
    return latest.rate_ml_per_h


def last_tolerated_rate(session: InfusionSession) -> float | None:
    """The highest rate a restart or a later change may use after today's reactions (62): the
    lowest of the reactions' restart limits (the protocol's last tolerated rate, stored with
    each reaction's advice); ``None`` when no reaction stands."""
    limits = []
    for reaction in standing_reactions(session):
        advice = reaction.recommended or {}
        limit = advice.get("last_tolerated_ml_per_h", advice.get("restart_max_ml_per_h"))
        if limit is not None:
            limits.append(float(limit))
    return min(limits) if limits else None


def volume_given(session: InfusionSession, until: dt.datetime) -> float:
    """The volume (mL) the pump log says was given up to ``until`` (``core.infused``)."""
    log = [(r.at, r.rate_ml_per_h) for r in session.rate_changes.all()]
    return volume_infused(log, until)


def concentration_of(order: Order) -> float:
    """The order's product concentration (mg/mL) from its stored plan (the library version it
    was planned with), else the library in service."""
    stored = (order.course.plan or {}).get("product", {}).get("concentration_mg_per_ml")
    if stored:
        return float(stored)
    return current_catalogue().product(order.course.product_id).concentration


def label_max(order: Order, steps: tuple[RateStep, ...]) -> float:
    """The label's maximum for this patient (mL/h, the hard limit 48), stored with the order;
    the top planned step for an order made before it was stored."""
    if order.label_max_ml_per_h is not None:
        return float(order.label_max_ml_per_h)
    return max(s.rate_ml_per_h for s in steps)


def above_tolerated(rate: float, limit: float, why: str) -> HardLimit:
    """The hard limit (counted) for a rate above the last tolerated one or a restart's cap."""
    return HardLimit(
        f"{rate:g} mL/h is above {limit:g} mL/h, {why}: restart and continue at or below it",
        field="rate_ml_per_h",
        rule="above-last-tolerated",
        limit=limit,
        value=rate,
        unit="mL/h",
    )


def check_pump_time(session: InfusionSession, at: dt.datetime) -> None:
    """A pump event at ``at``: not before the start nor before the pump's last event."""
    assert session.started_at is not None
    not_before(at, session.started_at, "the start of the infusion")
    last = _last_pump_row(session)
    if last is not None:
        not_before(at, last.at, f"the pump's last change ({last.action})")


def pump_row(
    actor: User,
    session: InfusionSession,
    order: Order,
    at: dt.datetime,
    action: str,
    *,
    rate_ml_per_h: float = 0.0,
    note: str = "",
) -> RateChange:
    """A row of the pump, audited: a start, change or resume at its rate; a pause or stop at
    0 mL/h (CLIF; A3.8)."""
    row = RateChange.objects.create(session=session, at=at, rate_ml_per_h=rate_ml_per_h,
                                    action=action, note=note, recorded_by=actor)  # fmt: skip
    audit.created(actor, "rate-change", row, patient_id=order.patient_id)
    return row


def increase_from(
    session: InfusionSession, steps: tuple[RateStep, ...]
) -> tuple[dt.datetime, float, float] | None:
    """When the current rate may increase (60): the clinical time the rate began (the real
    start, never the moment it was entered) + its step's minimum time x the minimum share,
    with no clock leeway: an increase is never allowed within the step's planned time (issue
    14 item 7); with the step's minutes and the rate. ``None`` when the pump is not running."""
    row = running_row(session)
    if row is None:
        return None
    rules = current_library().limits
    minutes = _step_minutes(steps, _step_of_rate(steps, row.rate_ml_per_h))
    wait = minutes * rules.minimum_step_share.value
    return row.at + dt.timedelta(minutes=max(wait, 0)), minutes, row.rate_ml_per_h


def _vitals_before(session: InfusionSession, at: dt.datetime) -> Vitals | None:
    """The latest standing vital signs within the window before ``at`` (60)."""
    rules = current_library().limits
    earliest = at - dt.timedelta(minutes=rules.vitals_within_minutes.value)
    latest = at + dt.timedelta(minutes=rules.clock_leeway_minutes.value)
    return standing_vitals(session).filter(at__gte=earliest, at__lte=latest).order_by("-at").first()


def _check_increase(
    session: InfusionSession,
    steps: tuple[RateStep, ...],
    at: dt.datetime,
    vitals_missing_reason: str,
) -> None:
    """An increase needs the current step's minimum time and the checkpoint's vital signs, or
    a documented reason for missing them (60)."""
    due = increase_from(session, steps)
    if due is not None and at < due[0]:
        since, minutes, rate = due
        row = running_row(session)
        assert row is not None
        ran = (at - row.at).total_seconds() / 60
        raise Conflict(
            f"{rate:g} mL/h has run {int(ran)} of the {minutes:g} minutes of its step: the rate "
            f"may increase from {clock(since)} (minimum step time)",
            field="at",
        )
    if _vitals_before(session, at) is None and not vitals_missing_reason.strip():
        within = current_library().limits.vitals_within_minutes.value
        raise Conflict(
            f"record the vital signs before increasing the rate (none in the {within} minutes "
            f"before {clock(at)}), or say why they were not taken",
            field="vitals",
        )


def guard_rate(
    order: Order,
    session: InfusionSession,
    steps: tuple[RateStep, ...],
    at: dt.datetime,
    rate_ml_per_h: float,
) -> tuple[SoftLimit, ...]:
    """A rate typed at ``at`` through the drug library's guards (``check_rate_entry``: hard
    limits 48-50 raised, the soft limits crossed returned), against the planned step due then
    and the rate on the pump before it; above the prescriber's cap after a reaction at an
    earlier infusion, a hard limit (issue 16 item 6: ``premedication.rate_cap``)."""
    cap = premedication.rate_cap(order)
    if cap is not None and rate_ml_per_h > cap.max_ml_per_h + 1e-9:
        raise above_tolerated(rate_ml_per_h, cap.max_ml_per_h, cap.why)
    return check_rate_entry(
        rate_ml_per_h,
        steps=steps,
        planned_ml_per_h=steps[step_at(steps, minutes_since_start(session, at))].rate_ml_per_h,
        previous_ml_per_h=current_rate(session),
        weight_kg=order.course.dosing_weight_kg,
        concentration_mg_per_ml=concentration_of(order),
        label_max_ml_per_h=label_max(order, steps),
        rules=current_library().limits,
    )


def record_rate(
    actor: Actor,
    order_id: int,
    session_version: int,
    at: dt.datetime,
    rate_ml_per_h: float,
    *,
    vitals_missing_reason: str = "",
    override: Override | None = None,
    now: dt.datetime,
) -> RateChange:
    """A rate change on a running pump, through the library's guards: hard limits (above the
    label maximum, a 2/5/10-fold slip, a per-kg number in the mL/h field, above the last
    tolerated rate after a reaction) are refused and counted; above the plan's ceiling needs
    a soft-limit override; an increase needs the step's minimum time and vital signs (60)."""
    actor = require(actor, "changing the rate", Role.nurse)
    at = clinical_time(at, now)
    with guarded(actor, "rate-change", order_id, session_version) as (order, session):
        if session.state == S.paused:
            raise Conflict(
                "the infusion is paused after a reaction: resume it (at or below the last "
                "tolerated rate) instead",
                field="state",
            )
        if session.state == S.stopped:
            raise Conflict(
                "the infusion is stopped: it cannot restart today without a new prescriber order",
                field="state",
            )
        check_pump_time(session, at)
        steps = steps_of(order)
        previous = current_rate(session)
        limits = guard_rate(order, session, steps, at, rate_ml_per_h)
        tolerated = last_tolerated_rate(session)
        if tolerated is not None and rate_ml_per_h > tolerated + 1e-9:
            raise above_tolerated(
                rate_ml_per_h, tolerated, "the last tolerated rate after today's reaction"
            )
        increase = rate_ml_per_h > previous + 1e-9
        if increase:
            _check_increase(session, steps, at, vitals_missing_reason)
        require_override(
            actor, limits, override, entity="rate-change", patient_id=order.patient_id,
            order_id=order.pk, catalogue_version=order.catalogue_version
            or current_catalogue().version,
        )  # fmt: skip
        save_versioned(session, session_version, f"the infusion of order {order.pk}")
        note = vitals_missing_reason.strip() if increase else ""
        return pump_row(
            actor, session, order, at, RateAction.change, rate_ml_per_h=rate_ml_per_h, note=note
        )
