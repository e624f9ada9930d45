"""At the chair: the pre-infusion check, a prescriber's override, start, rate changes, vitals,
reactions, end of infusion and the post-infusion observation.

Rules (issue 3): a nurse cannot start an infusion with a blocking finding unless a prescriber
has recorded an override with a reason; reactions get the core's recommended action (service
protocol, marked as such) beside the action taken; the observation must run its full time
(20 minutes, 60 after a first infusion, a product switch or a long gap) before the order is
completed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.db import transaction

from ivig.core.catalogue import load_catalogue
from ivig.core.monitoring import (
    ObservationPeriod,
    ReactionAdvice,
    Severity,
    check_vitals,
    checks_due,
    classify_symptoms,
    observation_minutes,
    recommended_action,
    vitals_schedule,
)
from ivig.core.rates import RateStep
from ivig.core.screening import ScreeningInput, assess_risks, screen
from ivig.core.weights import Sex
from ivig.errors import Conflict, InvalidInput
from ivig.records import audit
from ivig.records.models import (
    InfusionSession,
    Order,
    OrderStatus,
    RateChange,
    Reaction,
    Role,
    Vitals,
)
from ivig.records.services.access import require
from ivig.records.services.common import locked
from ivig.records.services.orders import transition
from ivig.records.services.patients import age_on, screening_codes

__all__ = [
    "CheckAnswers",
    "VitalsInput",
    "current_rate",
    "end_infusion",
    "finish_observation",
    "observation_for",
    "override",
    "pre_check",
    "reaction_advice",
    "record_rate",
    "record_reaction",
    "record_vitals",
    "session_state",
    "start_infusion",
]

CLOCK_SKEW = dt.timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class CheckAnswers:
    """The nurse's questions before starting (issue 3)."""

    infection: bool
    fever: bool
    feeling_unwell: bool
    hydrated: bool
    notes: str = ""


def _history(order: Order) -> tuple[bool, str | None, dt.date | None]:
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


def observation_for(order: Order) -> ObservationPeriod:
    """The observation after this infusion: 20 minutes, or 60 after a first infusion, a product
    switch or a long gap (computed from the history, never typed in: requirement 63)."""
    first, previous, last = _history(order)
    return observation_minutes(
        first_infusion=first,
        product_switch=previous is not None and previous != order.course.product_id,
        gap_days=(order.date - last).days if last else None,
    )


def _session(order: Order) -> InfusionSession:
    session, _ = InfusionSession.objects.get_or_create(order=order)
    return session


def _time(at: dt.datetime, now: dt.datetime, field: str = "at") -> dt.datetime:
    if at.tzinfo is None:
        raise InvalidInput("give the time with its time zone", field=field)
    if at > now + CLOCK_SKEW:
        raise InvalidInput("the time is in the future", field=field)
    return at


def pre_check(
    actor: Any, order_id: int, answers: CheckAnswers, *, now: dt.datetime
) -> InfusionSession:
    """Screen again on the day, with the nurse's answers; store the findings."""
    require(actor, "the pre-infusion check", Role.nurse)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        if order.status != OrderStatus.dispensed:
            raise Conflict(f"order {order.pk} is {order.status}: check a dispensed order")
        patient = order.patient
        catalogue = load_catalogue()
        codes = screening_codes(patient)
        if answers.infection:
            codes.add("active-infection")
        if answers.fever:
            codes.add("fever")
        first, previous, last = _history(order)
        risks = assess_risks(
            codes, age=age_on(patient.date_of_birth, order.date), egfr=None, catalogue=catalogue
        )
        findings = screen(
            ScreeningInput(
                risks=risks,
                product=catalogue.product(order.course.product_id),
                first_infusion=first,
                previous_product=catalogue.product(previous) if previous else None,
                last_infusion=last,
                first_dose=order.date,
                sex=Sex(patient.sex),
            ),
            catalogue,
        )
        rows = [
            {"code": f.code, "severity": f.severity.value, "message": f.message, "source": f.source}
            for f in findings
        ]
        if answers.feeling_unwell:
            rows.append(
                {
                    "code": "feeling-unwell",
                    "severity": "warn",
                    "source": "nurse",
                    "message": "the patient feels unwell today: review before starting",
                }
            )
        if not answers.hydrated:
            rows.append(
                {
                    "code": "not-hydrated",
                    "severity": "warn",
                    "source": "nurse",
                    "message": "hydrate before the infusion (boxed warning: renal risk)",
                }
            )
        session = _session(order)
        session = _change(
            actor, "pre-check", session, order,
            check_answers=asdict(answers), check_findings=rows, checked_by=actor,
            checked_at=now, override_reason="", override_by=None, override_at=None,
        )  # fmt: skip
    return session


def _change(
    actor: Any,
    action: str,
    session: InfusionSession,
    order: Order,
    *,
    reason: str = "",
    **changes: Any,
) -> InfusionSession:
    """Update the session and audit it (before and after), in the caller's transaction."""
    before = audit.snapshot(session)
    InfusionSession.objects.filter(pk=session.pk).update(**changes)
    session.refresh_from_db()
    audit.record(actor, action, "infusion", session.pk, patient_id=order.patient_id,
                 before=before, after=audit.snapshot(session), reason=reason)  # fmt: skip
    return session


def _blocks(session: InfusionSession) -> list[dict[str, Any]]:
    return [f for f in session.check_findings if f.get("severity") == "block"]


def override(actor: Any, order_id: int, reason: str, *, now: dt.datetime) -> InfusionSession:
    """A prescriber's decision to go ahead despite a blocking finding, with the reason."""
    require(actor, "overriding a blocking finding", Role.prescriber)
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or session.checked_at is None:
            raise Conflict("the pre-infusion check has not been done")
        if not _blocks(session):
            raise Conflict("no blocking finding stands: there is nothing to override")
        session = _change(
            actor, "override", session, order, reason=reason.strip(),
            override_reason=reason.strip(), override_by=actor, override_at=now,
        )  # fmt: skip
    return session


def _open_session(order_id: int) -> tuple[Order, InfusionSession]:
    order = locked(Order, order_id, "order")
    session = InfusionSession.objects.filter(order=order).first()
    if order.status != OrderStatus.in_progress or session is None or session.started_at is None:
        raise Conflict(f"order {order.pk} is {order.status}: no infusion is running")
    if session.ended_at is not None:
        raise Conflict(f"the infusion of order {order.pk} has ended")
    return order, session


def start_infusion(
    actor: Any, order_id: int, version: int, at: dt.datetime, *, now: dt.datetime
) -> InfusionSession:
    """Start: only after the check, and never over a blocking finding without an override."""
    require(actor, "starting an infusion", Role.nurse)
    at = _time(at, now)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or session.checked_at is None:
            raise Conflict("do the pre-infusion check first", field="check")
        blocks = _blocks(session)
        if blocks and not session.override_reason:
            names = ", ".join(b["code"] for b in blocks)
            raise Conflict(
                f"a blocking finding stands ({names}): a prescriber must record an override "
                "with a reason before the infusion can start",
                field="check",
            )
        transition(actor, order_id, OrderStatus.in_progress, version)
        session = _change(actor, "start", session, order, started_at=at, started_by=actor)
        first_rate = float(order.steps[0]["rate_ml_per_h"])
        rate = RateChange.objects.create(
            session=session, at=at, rate_ml_per_h=first_rate, recorded_by=actor
        )
        audit.created(actor, "rate-change", rate, patient_id=order.patient_id)
    return session


def record_rate(
    actor: Any, order_id: int, at: dt.datetime, rate_ml_per_h: float, *, now: dt.datetime
) -> RateChange:
    """A rate change on the pump; never above the order's highest planned rate (hard limit)."""
    require(actor, "changing the rate", Role.nurse)
    at = _time(at, now)
    with transaction.atomic():
        order, session = _open_session(order_id)
        top = max(float(s["rate_ml_per_h"]) for s in order.steps)
        if not 0 < rate_ml_per_h <= top:
            raise InvalidInput(
                f"{rate_ml_per_h:g} mL/h is outside 0-{top:g} mL/h, the highest planned rate "
                "of this order",
                field="rate_ml_per_h",
            )
        if at < session.started_at:  # type: ignore[operator]
            raise InvalidInput("the change is before the start of the infusion", field="at")
        rate = RateChange.objects.create(
            session=session, at=at, rate_ml_per_h=rate_ml_per_h, recorded_by=actor
        )
        audit.created(actor, "rate-change", rate, patient_id=order.patient_id)
    return rate


@dataclass(frozen=True, slots=True)
class VitalsInput:
    temperature_c: float | None = None
    pulse_per_min: int | None = None
    systolic_mm_hg: int | None = None
    diastolic_mm_hg: int | None = None
    respiratory_rate_per_min: int | None = None
    spo2_percent: int | None = None


def record_vitals(
    actor: Any, order_id: int, at: dt.datetime, values: VitalsInput, *, now: dt.datetime
) -> Vitals:
    """Vital signs: impossible values refused (422), abnormal ones kept and flagged."""
    require(actor, "recording vital signs", Role.nurse)
    at = _time(at, now)
    fields = asdict(values)
    if all(v is None for v in fields.values()):
        raise InvalidInput("record at least one vital sign", field="temperature_c")
    flags = check_vitals(**fields)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or session.started_at is None:
            raise Conflict(f"the infusion of order {order.pk} has not started")
        if session.observation_ended_at is not None:
            raise Conflict(f"the observation of order {order.pk} is closed")
        row = Vitals.objects.create(
            session=session,
            at=at,
            recorded_by=actor,
            flags=[{"field": f.field, "message": f.message} for f in flags],
            **fields,
        )
        audit.created(actor, "vitals", row, patient_id=order.patient_id)
    return row


def current_rate(session: InfusionSession) -> float:
    """The rate on the pump now: the latest rate change (the start records the first)."""
    latest = session.rate_changes.order_by("-at", "-id").first()
    if latest is None:
        raise Conflict("the infusion has not started: there is no current rate")
    return latest.rate_ml_per_h


def reaction_advice(session: InfusionSession, grade: Severity) -> ReactionAdvice:
    """The protocol's advice for a reaction now: at the current rate, with the highest lower
    rate given before it as the last tolerated, counting the reactions so far today."""
    current = current_rate(session)
    earlier = [r.rate_ml_per_h for r in session.rate_changes.all() if r.rate_ml_per_h < current]
    return recommended_action(
        grade,
        current_rate_ml_per_h=current,
        last_tolerated_ml_per_h=max(earlier) if earlier else None,
        reactions_today=session.reactions.count(),
    )


def record_reaction(
    actor: Any,
    order_id: int,
    at: dt.datetime,
    symptoms: list[str],
    action_taken: str,
    *,
    severity: str | None = None,
    now: dt.datetime,
) -> Reaction:
    """A reaction, with the protocol's recommended action and the action taken."""
    require(actor, "recording a reaction", Role.nurse)
    at = _time(at, now)
    if not action_taken.strip():
        raise InvalidInput("say what was done", field="action_taken")
    if severity and severity not in Severity.__members__:
        raise InvalidInput("severity must be mild, moderate or severe", field="severity")
    grade = Severity(severity) if severity else classify_symptoms(symptoms)
    with transaction.atomic():
        order, session = _open_session(order_id)
        advice = reaction_advice(session, grade)
        row = Reaction.objects.create(
            session=session,
            at=at,
            symptoms=list(symptoms),
            severity=grade.value,
            recommended={
                "action": advice.action.value,
                "message": advice.message,
                "restart_max_ml_per_h": advice.restart_max_ml_per_h,
                "call_prescriber": advice.call_prescriber,
                "basis": advice.basis,
                "source": advice.source,
                "verified": advice.verified,
            },
            action_taken=action_taken.strip(),
            recorded_by=actor,
        )
        audit.created(actor, "reaction", row, patient_id=order.patient_id)
    return row


def end_infusion(
    actor: Any, order_id: int, at: dt.datetime, *, now: dt.datetime
) -> InfusionSession:
    """The pump stops; the observation period starts (its length from the history)."""
    require(actor, "ending an infusion", Role.nurse)
    at = _time(at, now)
    with transaction.atomic():
        order, session = _open_session(order_id)
        if at < session.started_at:  # type: ignore[operator]
            raise InvalidInput("the end is before the start", field="at")
        period = observation_for(order)
        session = _change(
            actor, "end", session, order, ended_at=at, observation_minutes=period.minutes
        )
    return session


def finish_observation(
    actor: Any, order_id: int, version: int, at: dt.datetime, notes: str, *, now: dt.datetime
) -> InfusionSession:
    """Close the day: only after the full observation period; the order is then completed."""
    require(actor, "closing the observation", Role.nurse)
    at = _time(at, now)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or session.ended_at is None:
            raise Conflict(f"the infusion of order {order.pk} has not ended")
        due = session.ended_at + dt.timedelta(minutes=session.observation_minutes or 0)
        if at < due:
            raise Conflict(
                f"the observation lasts {session.observation_minutes} minutes: it can close at "
                f"{due.isoformat(timespec='minutes')}",
                field="at",
            )
        transition(actor, order_id, OrderStatus.completed, version)
        session = _change(
            actor, "observation-end", session, order,
            observation_ended_at=at, observation_notes=notes,
        )  # fmt: skip
    return session


def _steps(order: Order) -> tuple[RateStep, ...]:
    return tuple(
        RateStep(
            s["start_min"],
            s["end_min"],
            s["rate_ml_per_h"],
            s["rate_mg_per_kg_per_min"],
            s["volume_ml"],
            s.get("basis", "label"),
        )
        for s in order.steps
    )


def _until(steps: tuple[RateStep, ...], minute: float) -> tuple[RateStep, ...]:
    """The steps as they ran when the infusion ended at ``minute`` (earlier or later than
    planned): the steps begun by then, the last one ending at ``minute``."""
    begun = [s for s in steps if s.start_min < minute] or [steps[0]]
    end = max(minute, begun[-1].start_min + 1)
    return (*begun[:-1], replace(begun[-1], end_min=round(end, 1)))


def session_state(order: Order, *, now: dt.datetime) -> dict[str, Any]:
    """The session as the run sheet needs it, with the vitals checkpoints due or overdue."""
    session = InfusionSession.objects.filter(order=order).first()
    state: dict[str, Any] = {
        "order_id": order.pk,
        "status": order.status,
        "session": None,
        "checkpoints": [],
    }
    if session is None:
        return state
    state["session"] = {
        **audit.snapshot(session),
        "rate_changes": [audit.snapshot(r) for r in session.rate_changes.all()],
        "vitals": [audit.snapshot(v) for v in session.vitals.all()],
        "reactions": [audit.snapshot(r) for r in session.reactions.all()],
    }
    if session.started_at is not None:
        minutes = session.observation_minutes or observation_for(order).minutes
        steps = _steps(order)
        if session.ended_at is not None:  # the real end, not the planned one
            steps = _until(steps, (session.ended_at - session.started_at).total_seconds() / 60)
        schedule = vitals_schedule(steps, observation_minutes=minutes)
        statuses = checks_due(
            schedule,
            started_at=session.started_at,
            recorded=[v.at for v in session.vitals.all()],
            now=now,
        )
        state["checkpoints"] = [
            {
                "minute": s.minute,
                "reason": s.reason.value,
                "due_at": s.due_at,
                "status": s.status.value,
                "recorded_at": s.recorded_at,
            }
            for s in statuses
        ]
    return state
