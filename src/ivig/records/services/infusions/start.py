"""The start (65, 16, 35, 9): after the check and any override, with the vials' visual
inspection and the administering nurse, at its real time (a late entry marked as such)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from ivig.errors import Conflict, Forbidden, InvalidInput
from ivig.records.actors import Actor
from ivig.records.models import InfusionSession, Order, OrderStatus, RateAction, Role
from ivig.records.services import premedication, replan_needed
from ivig.records.services.access import has_role, require
from ivig.records.services.common import CLOCK_SKEW, locked
from ivig.records.services.infusions._common import (
    S,
    blocking_findings,
    change,
    clinical_time,
    clock,
    not_before,
    standing_vitals,
)
from ivig.records.services.infusions.pump import pump_row
from ivig.records.services.orders import transition

__all__ = ["day_start", "is_late_entry", "late_entry_text", "start_infusion"]


def day_start(order: Order) -> dt.datetime:
    """Local midnight of the order's day (``TIME_ZONE``): an infusion cannot start before it."""
    zone = timezone.get_default_timezone()
    return dt.datetime.combine(order.date, dt.time(0), tzinfo=zone)


def _administering_nurse(actor: Actor, user_id: int | None) -> Any:
    """The nurse who gives the infusion (65): the actor by default; an active nurse."""
    if user_id is None or user_id == actor.pk:
        return actor
    user = get_user_model()._default_manager.filter(pk=user_id).first()
    if user is None or not has_role(user, Role.nurse):
        raise InvalidInput(
            f"user {user_id} is not an active nurse: the infusion is given by a nurse",
            field="administered_by",
        )
    return user


def _double_check(order: Order, actor: Actor, nurse: Any) -> None:
    """Independent double check (16): neither the nurse who starts nor the one who gives the
    infusion verified the order as its pharmacist."""
    if not getattr(settings, "IVIG_DOUBLE_CHECK", True) or order.verified_by_id is None:
        return
    if order.verified_by_id == actor.pk:
        who = "you"
    elif order.verified_by_id == nurse.pk:
        who = f"the administering nurse ({nurse.get_username()})"
    else:
        return
    error = Forbidden("starting this infusion", ("a nurse who did not verify the order",))
    error.message = (
        f"{who} verified order {order.pk} as its pharmacist: the independent double check "
        "needs someone else to start and give the infusion"
    )
    error.args = (error.message,)
    raise error


def _after_preparation(order: Order, session: InfusionSession, at: dt.datetime) -> None:
    """A start is never before what makes the infusion ready (issue 14 item 7; requirement
    35): the pharmacist's verification, the dispensing, the nurse's pre-infusion check and,
    when a blocking finding stood, the prescriber's override. A backdated start would count
    the ramp's minimum step times from a moment the pump could not have run."""
    steps = [
        (order.verified_at, "the pharmacist's verification"),
        (order.dispensed_at, "the dispensing"),
        (session.checked_at, "the pre-infusion check"),
    ]
    if blocking_findings(session) and session.override_at is not None:
        steps.append((session.override_at, "the prescriber's override"))
    known = [(moment, what) for moment, what in steps if moment is not None]
    if known:
        latest, what = max(known, key=lambda step: step[0])  # the one that bounds the start
        not_before(at, latest, what)


def _baseline(session: InfusionSession, at: dt.datetime, missing_reason: str) -> str:
    """Baseline vital signs before the start (issue 16 item 7): vital signs recorded for this
    session at or before the start time (standing ones), or a reason why not (kept with the
    start's pump row and its audit event); the reason's words, "" when vitals stand."""
    if standing_vitals(session).filter(at__lte=at + CLOCK_SKEW).exists():
        return ""
    if not missing_reason.strip():
        raise Conflict(
            f"record the baseline vital signs before starting (none recorded before "
            f"{clock(at)}), or say why they were not taken",
            field="baseline_vitals_missing_reason",
        )
    return f"baseline vital signs not taken: {missing_reason.strip()}"


def is_late_entry(at: dt.datetime, now: dt.datetime) -> bool:
    """A late entry (issue 14 item 7): recorded afterwards with its real time, more than the
    clock skew (2 minutes, requirement 35: the leeway the service allows between clocks)
    after it. Kept and shown as late; the ramp counts from the real time ``at``."""
    return now - at > CLOCK_SKEW


def late_entry_text(at: dt.datetime, now: dt.datetime) -> str:
    """The words for a late entry ("" when not late): its time and when it was recorded."""
    if not is_late_entry(at, now):
        return ""
    minutes = int((now - at).total_seconds() // 60)
    return f"late entry: started {clock(at)}, recorded {clock(now)} ({minutes} min later)"


def start_infusion(
    actor: Actor,
    order_id: int,
    version: int,
    at: dt.datetime,
    *,
    visual_inspection_ok: bool,
    visual_inspection_notes: str = "",
    administered_by: int | None = None,
    baseline_vitals_missing_reason: str = "",
    now: dt.datetime,
) -> InfusionSession:
    """Start: only after the check, never over a blocking finding without an override, only
    with vials that pass the visual inspection (65), with the administering nurse recorded,
    at a time within the order's day, not before the verification, the dispensing, the check
    or the override, and not in the future (35), after baseline vital signs (or with a reason
    why they were not taken: issue 16 item 7). A start recorded more than the clock skew
    after its time is marked as a late entry, with when it was recorded (issue 14 item 7).
    The pump's first row is the first planned step (action ``start``)."""
    actor = require(actor, "starting an infusion", Role.nurse)
    at = clinical_time(at, now)
    if visual_inspection_ok is not True:
        raise InvalidInput(
            "do not use vials that fail the visual inspection (cloudy, particles, discoloured, "
            "damaged or past expiry): return them to pharmacy"
            + (f" ({visual_inspection_notes.strip()})" if visual_inspection_notes.strip() else ""),
            field="visual_inspection_ok",
        )
    nurse = _administering_nurse(actor, administered_by)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or session.checked_at is None:
            raise Conflict("do the pre-infusion check first", field="check")
        if session.state != S.not_started:
            raise Conflict(f"the infusion of order {order.pk} has started already")
        replan_needed.refuse_if_needed(order, "started")  # issue 16 item 3
        not_before(at, day_start(order), f"the start of the order's day {order.date}")
        blocks = blocking_findings(session)
        if blocks and not session.override_reason:
            names = ", ".join(b["code"] for b in blocks)
            raise Conflict(
                f"a blocking finding stands ({names}): a prescriber must record an override "
                "with a reason before the infusion can start",
                field="check",
            )
        _after_preparation(order, session, at)
        _double_check(order, actor, nurse)
        no_baseline = _baseline(session, at, baseline_vitals_missing_reason)
        transition(actor, order_id, OrderStatus.in_progress, version)
        session = change(
            actor, "start", session, order,
            state=S.running, started_at=at, started_by=actor, administered_by=nurse,
            visual_inspection_ok=True, visual_inspection_notes=visual_inspection_notes.strip(),
            start_recorded_at=now, start_late_entry=is_late_entry(at, now),
            reason="; ".join(w for w in (late_entry_text(at, now), no_baseline) if w),
        )  # fmt: skip
        first_rate = float(order.steps[0]["rate_ml_per_h"])
        cap = premedication.rate_cap(order)  # the prescriber's cap after a reaction (issue 16)
        if cap is not None:
            first_rate = min(first_rate, cap.max_ml_per_h)
        pump_row(
            actor, session, order, at, RateAction.start, rate_ml_per_h=first_rate,
            note=no_baseline,
        )  # fmt: skip
    return session
