"""At the chair: the pre-infusion check, a prescriber's override, start, guarded rate changes,
vitals, the reaction state machine, end of infusion and the post-infusion observation.

Rules (issues 3 and 5; safety-security-requirements.md items cited):

- a nurse cannot start an infusion with a blocking finding unless a prescriber has recorded an
  override with a reason; the start records the vials' visual inspection and who gives the
  infusion (65); with the independent double check on (``IVIG_DOUBLE_CHECK``), neither is the
  order's verifying pharmacist (16);
- clinical times (``at``) are kept apart from the recording time; a time in the future beyond
  2 minutes of clock skew, or before what it records, is refused with 400 (35, 9);
- the session is a state machine (62; ``SessionState``): not-started -> running <-> paused ->
  stopped -> ended -> closed. Every change of state or rate bumps the session's version, taken
  with the row locked, so two simultaneous changes on one infusion give one transition and a
  409 (32);
- a rate typed by the nurse passes the drug library's guards (``core.limits.check_rate_entry``:
  hard limits 48-50, counted; the soft ceiling 47, overridden with a coded reason and the
  password); an increase needs the current step's minimum time and the checkpoint's vital
  signs, or a reason for missing them (60);
- any suspected reaction pauses the pump; a restart is only at or below the last tolerated
  rate; a second or severe reaction stops it, and it restarts that day only on a new prescriber
  order; protocol medicines given make a task for the prescriber (62);
- the day closes only after the full observation (20 minutes; 60 after a first infusion, a
  product switch or a gap of more than 8 weeks, from the history) and once it is documented
  (63).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ivig.core.limits import check_rate_entry
from ivig.core.monitoring import (
    ObservationPeriod,
    ReactionAction,
    ReactionAdvice,
    check_vitals,
    checks_due,
    classify_symptoms,
    observation_minutes,
    recommended_action,
    vitals_schedule,
)
from ivig.core.monitoring import ReactionSeverity as Severity
from ivig.core.rates import RateStep
from ivig.core.screening import ScreeningInput, assess_risks, screen
from ivig.core.weights import Sex
from ivig.errors import Conflict, Forbidden, HardLimit, InvalidInput, InvalidTime, StaleVersion
from ivig.records import audit
from ivig.records.library import current_catalogue, current_library
from ivig.records.models import (
    InfusionSession,
    Order,
    OrderStatus,
    PrescriberTask,
    RateAction,
    RateChange,
    Reaction,
    Role,
    SessionState,
    Vitals,
)
from ivig.records.services.access import has_role, require
from ivig.records.services.common import CLOCK_SKEW, locked, save_versioned
from ivig.records.services.corrections import current
from ivig.records.services.limits import Override, hard_stops, require_override
from ivig.records.services.orders import transition
from ivig.records.services.patients import age_on, screening_codes

__all__ = [
    "CheckAnswers",
    "VitalsInput",
    "acknowledge_task",
    "current_rate",
    "end_infusion",
    "finish_observation",
    "is_late_entry",
    "last_tolerated_rate",
    "late_entry_text",
    "observation_for",
    "open_tasks",
    "order_restart",
    "override",
    "pre_check",
    "reaction_advice",
    "record_rate",
    "record_reaction",
    "record_vitals",
    "restart_limit",
    "resume_infusion",
    "session_state",
    "start_infusion",
    "task_dict",
]

S = SessionState
MEDICINES_TASK = "reaction-medicines"


@dataclass(frozen=True, slots=True)
class CheckAnswers:
    """The nurse's questions before starting (issue 3)."""

    infection: bool
    fever: bool
    feeling_unwell: bool
    hydrated: bool
    notes: str = ""


# --- history and small helpers ------------------------------------------------------------------


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
        protocol=current_library().monitoring,
    )


def _clock(moment: dt.datetime) -> str:
    """A time as the nurse reads it: local ``HH:MM``."""
    return timezone.localtime(moment).strftime("%H:%M")


def _time(at: dt.datetime, now: dt.datetime, field: str = "at") -> dt.datetime:
    """A clinical time: with its zone, and not in the future beyond the clock skew (35)."""
    if at.tzinfo is None:
        raise InvalidInput("give the time with its time zone", field=field)
    if at > now + CLOCK_SKEW:
        raise InvalidTime(
            f"{_clock(at)} is in the future (now {_clock(now)}; clocks may differ by 2 minutes "
            "at most)",
            field=field,
        )
    return at


def _not_before(at: dt.datetime, earliest: dt.datetime, what: str, field: str = "at") -> None:
    """Refuse a time before what it records (35): exactly equal is accepted."""
    if at < earliest:
        raise InvalidTime(
            f"{_clock(at)} is before {what} ({_clock(earliest)})",
            field=field,
        )


def _day_start(order: Order) -> dt.datetime:
    """Local midnight of the order's day (``TIME_ZONE``): an infusion cannot start before it."""
    zone = timezone.get_default_timezone()
    return dt.datetime.combine(order.date, dt.time(0), tzinfo=zone)


def _current_vitals(session: InfusionSession) -> QuerySet[Vitals]:
    """The vital signs in force: neither superseded by a correction nor voided (11-13)."""
    return current(Vitals.objects.filter(session=session))


def _current_reactions(session: InfusionSession) -> QuerySet[Reaction]:
    """The reactions in force: neither superseded by a correction nor voided (11-13)."""
    return current(Reaction.objects.filter(session=session))


def _session(order: Order) -> InfusionSession:
    session, _ = InfusionSession.objects.get_or_create(order=order)
    return session


def _change(
    actor: Any,
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


def _fresh(session: InfusionSession, version: int, order: Order) -> None:
    """Refuse a stale session version before anything else (32: the loser of a race is told
    that the infusion changed, not some later consequence of the winner's change)."""
    if session.version != version:
        raise StaleVersion(f"the infusion of order {order.pk}", version, session.version)


def _patient_of(order_id: int) -> int | None:
    found: int | None = (
        Order.objects.filter(pk=order_id).values_list("patient_id", flat=True).first()
    )
    return found


# --- the check and the override -----------------------------------------------------------------


def _egfr_and_bmi(patient: Any, age: int) -> tuple[float | None, float | None]:
    """The eGFR from the latest creatinine result in force and the BMI from the latest weight,
    for the screening on the day as for the plan (issue 14 items 4 and 5); None when not known
    or not computable (CKD-EPI is for adults: a child's eGFR is the prescriber's to give)."""
    from ivig.core.renal import renal_function
    from ivig.core.weights import bmi
    from ivig.errors import IvigError
    from ivig.records.services.patients import latest_weight
    from ivig.records.services.renal import latest_creatinine

    egfr = None
    result = latest_creatinine(patient)
    if result is not None:
        try:
            egfr = renal_function(
                egfr=None, creatinine=result.value, unit=result.unit, age=age,
                sex=Sex(patient.sex), measured_on=result.measured_on,
            ).egfr  # fmt: skip
        except IvigError:
            egfr = None
    weight = latest_weight(patient)
    index = bmi(weight.weight_kg, patient.height_cm) if weight is not None else None
    return egfr, index


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
        catalogue = current_catalogue()
        codes = screening_codes(patient)
        if answers.infection:
            codes.add("active-infection")
        if answers.fever:
            codes.add("fever")
        first, previous, last = _history(order)
        age = age_on(patient.date_of_birth, order.date)
        egfr, bmi = _egfr_and_bmi(patient, age)
        risks = assess_risks(codes, age=age, egfr=egfr, catalogue=catalogue, bmi=bmi)
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


# --- start --------------------------------------------------------------------------------------


def _administering_nurse(actor: Any, user_id: int | None) -> Any:
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


def _double_check(order: Order, actor: Any, nurse: Any) -> None:
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
    if _blocks(session) and session.override_at is not None:
        steps.append((session.override_at, "the prescriber's override"))
    known = [(moment, what) for moment, what in steps if moment is not None]
    if known:
        latest, what = max(known, key=lambda step: step[0])  # the one that bounds the start
        _not_before(at, latest, what)


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
    return f"late entry: started {_clock(at)}, recorded {_clock(now)} ({minutes} min later)"


def start_infusion(
    actor: Any,
    order_id: int,
    version: int,
    at: dt.datetime,
    *,
    visual_inspection_ok: bool,
    visual_inspection_notes: str = "",
    administered_by: int | None = None,
    now: dt.datetime,
) -> InfusionSession:
    """Start: only after the check, never over a blocking finding without an override, only
    with vials that pass the visual inspection (65), with the administering nurse recorded,
    at a time within the order's day, not before the verification, the dispensing, the check
    or the override, and not in the future (35). A start recorded more than the clock skew
    after its time is marked as a late entry, with when it was recorded (issue 14 item 7).
    The pump's first row is the first planned step (action ``start``)."""
    require(actor, "starting an infusion", Role.nurse)
    at = _time(at, now)
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
        _not_before(at, _day_start(order), f"the start of the order's day {order.date}")
        blocks = _blocks(session)
        if blocks and not session.override_reason:
            names = ", ".join(b["code"] for b in blocks)
            raise Conflict(
                f"a blocking finding stands ({names}): a prescriber must record an override "
                "with a reason before the infusion can start",
                field="check",
            )
        _after_preparation(order, session, at)
        _double_check(order, actor, nurse)
        transition(actor, order_id, OrderStatus.in_progress, version)
        session = _change(
            actor, "start", session, order,
            state=S.running, started_at=at, started_by=actor, administered_by=nurse,
            visual_inspection_ok=True, visual_inspection_notes=visual_inspection_notes.strip(),
            start_recorded_at=now, start_late_entry=is_late_entry(at, now),
            reason=late_entry_text(at, now),
        )  # fmt: skip
        first_rate = float(order.steps[0]["rate_ml_per_h"])
        rate = RateChange.objects.create(
            session=session,
            at=at,
            rate_ml_per_h=first_rate,
            action=RateAction.start,
            recorded_by=actor,
        )
        audit.created(actor, "rate-change", rate, patient_id=order.patient_id)
    return session


# --- the pump: rates, the last tolerated rate ---------------------------------------------------


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


def _minutes_since_start(session: InfusionSession, at: dt.datetime) -> float:
    assert session.started_at is not None
    return (at - session.started_at).total_seconds() / 60


def _step_at(steps: tuple[RateStep, ...], minute: float) -> int:
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
    return session.rate_changes.order_by("-at", "-id").first()


def _running_row(session: InfusionSession) -> RateChange | None:
    """The latest row with the pump running (pause and stop rows, at 0 mL/h, skipped)."""
    return session.rate_changes.filter(rate_ml_per_h__gt=0).order_by("-at", "-id").first()


def current_rate(session: InfusionSession) -> float:
    """The rate the pump runs (or last ran, when paused or stopped) at: the latest rate row
    above 0 mL/h (the start records the first)."""
    latest = _running_row(session)
    if latest is None:
        raise Conflict("the infusion has not started: there is no current rate")
    return latest.rate_ml_per_h


def last_tolerated_rate(session: InfusionSession) -> float | None:
    """The highest rate a restart or a later change may use after today's reactions (62): the
    lowest of the reactions' restart limits (the protocol's last tolerated rate, stored with
    each reaction's advice); ``None`` when no reaction stands."""
    limits = []
    for reaction in _current_reactions(session):
        advice = reaction.recommended or {}
        limit = advice.get("last_tolerated_ml_per_h", advice.get("restart_max_ml_per_h"))
        if limit is not None:
            limits.append(float(limit))
    return min(limits) if limits else None


def reaction_advice(session: InfusionSession, grade: Severity) -> ReactionAdvice:
    """The protocol's advice for a reaction now: at the rate the pump ran at, with the highest
    lower rate given before it (0 mL/h pause rows skipped) as the last tolerated, counting the
    reactions that stand so far today."""
    current = current_rate(session)
    earlier = [r.rate_ml_per_h for r in session.rate_changes.all() if 0 < r.rate_ml_per_h < current]
    return recommended_action(
        grade,
        current_rate_ml_per_h=current,
        last_tolerated_ml_per_h=max(earlier) if earlier else None,
        reactions_today=_current_reactions(session).count(),
        protocol=current_library().monitoring,
    )


def _restart_limit(session: InfusionSession, advice: ReactionAdvice) -> float:
    """The last tolerated rate after this reaction: the advice's restart rate, or (a stop for
    the day) the rate the protocol would allow a restart at, which a new prescriber order may
    not exceed."""
    if advice.restart_max_ml_per_h is not None:
        return advice.restart_max_ml_per_h
    current = current_rate(session)
    earlier = [r.rate_ml_per_h for r in session.rate_changes.all() if 0 < r.rate_ml_per_h < current]
    fallback = recommended_action(
        Severity.moderate,
        current_rate_ml_per_h=current,
        last_tolerated_ml_per_h=max(earlier) if earlier else None,
        reactions_today=0,
        protocol=current_library().monitoring,
    )
    assert fallback.restart_max_ml_per_h is not None
    return fallback.restart_max_ml_per_h


def _concentration(order: Order) -> float:
    """The order's product concentration (mg/mL) from its stored plan (the library version it
    was planned with), else the library in service."""
    stored = (order.course.plan or {}).get("product", {}).get("concentration_mg_per_ml")
    if stored:
        return float(stored)
    return current_catalogue().product(order.course.product_id).concentration


def _label_max(order: Order, steps: tuple[RateStep, ...]) -> float:
    if order.label_max_ml_per_h is not None:
        return float(order.label_max_ml_per_h)
    return max(s.rate_ml_per_h for s in steps)


def _above_tolerated(rate: float, limit: float, why: str) -> HardLimit:
    return HardLimit(
        f"{rate:g} mL/h is above {limit:g} mL/h, {why}: restart and continue at or below it",
        field="rate_ml_per_h",
        rule="above-last-tolerated",
        limit=limit,
        value=rate,
        unit="mL/h",
    )


def _check_pump_time(session: InfusionSession, at: dt.datetime) -> None:
    """A pump event at ``at``: not before the start nor before the pump's last event."""
    assert session.started_at is not None
    _not_before(at, session.started_at, "the start of the infusion")
    last = _last_pump_row(session)
    if last is not None:
        _not_before(at, last.at, f"the pump's last change ({last.action})")


def _open(order_id: int) -> tuple[Order, InfusionSession]:
    """The order (locked) and its started, not yet ended session."""
    order = locked(Order, order_id, "order")
    session = InfusionSession.objects.filter(order=order).first()
    if order.status != OrderStatus.in_progress or session is None or session.started_at is None:
        raise Conflict(f"order {order.pk} is {order.status}: no infusion is running")
    if session.state in (S.ended, S.closed) or session.ended_at is not None:
        raise Conflict(f"the infusion of order {order.pk} has ended")
    return order, session


def _increase_from(
    session: InfusionSession, steps: tuple[RateStep, ...]
) -> tuple[dt.datetime, float, float] | None:
    """When the current rate may increase (60): the clinical time the rate began (the real
    start, never the moment it was entered) + its step's minimum time x the minimum share,
    with no clock leeway: an increase is never allowed within the step's planned time (issue
    14 item 7); with the step's minutes and the rate. ``None`` when the pump is not running."""
    row = _running_row(session)
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
    return _current_vitals(session).filter(at__gte=earliest, at__lte=latest).order_by("-at").first()


def _check_increase(
    session: InfusionSession,
    steps: tuple[RateStep, ...],
    at: dt.datetime,
    vitals_missing_reason: str,
) -> None:
    """An increase needs the current step's minimum time and the checkpoint's vital signs, or
    a documented reason for missing them (60)."""
    due = _increase_from(session, steps)
    if due is not None and at < due[0]:
        since, minutes, rate = due
        row = _running_row(session)
        assert row is not None
        ran = (at - row.at).total_seconds() / 60
        raise Conflict(
            f"{rate:g} mL/h has run {int(ran)} of the {minutes:g} minutes of its step: the rate "
            f"may increase from {_clock(since)} (minimum step time)",
            field="at",
        )
    if _vitals_before(session, at) is None and not vitals_missing_reason.strip():
        within = current_library().limits.vitals_within_minutes.value
        raise Conflict(
            f"record the vital signs before increasing the rate (none in the {within} minutes "
            f"before {_clock(at)}), or say why they were not taken",
            field="vitals",
        )


def record_rate(
    actor: Any,
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
    require(actor, "changing the rate", Role.nurse)
    at = _time(at, now)
    with (
        hard_stops(actor, "rate-change", patient_id=_patient_of(order_id), order_id=order_id),
        transaction.atomic(),
    ):
        order, session = _open(order_id)
        _fresh(session, session_version, order)
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
        _check_pump_time(session, at)
        steps = _steps(order)
        previous = current_rate(session)
        planned = steps[_step_at(steps, _minutes_since_start(session, at))]
        limits = check_rate_entry(
            rate_ml_per_h,
            steps=steps,
            planned_ml_per_h=planned.rate_ml_per_h,
            previous_ml_per_h=previous,
            weight_kg=order.course.dosing_weight_kg,
            concentration_mg_per_ml=_concentration(order),
            label_max_ml_per_h=_label_max(order, steps),
            rules=current_library().limits,
        )
        tolerated = last_tolerated_rate(session)
        if tolerated is not None and rate_ml_per_h > tolerated + 1e-9:
            raise _above_tolerated(
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
        rate = RateChange.objects.create(
            session=session,
            at=at,
            rate_ml_per_h=rate_ml_per_h,
            action=RateAction.change,
            note=note,
            recorded_by=actor,
        )
        audit.created(actor, "rate-change", rate, patient_id=order.patient_id)
    return rate


# --- reactions: pause, stop, resume, restart order ----------------------------------------------


def record_reaction(
    actor: Any,
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
    require(actor, "recording a reaction", Role.nurse)
    at = _time(at, now)
    if not action_taken.strip():
        raise InvalidInput("say what was done", field="action_taken")
    if severity and severity not in Severity.__members__:
        raise InvalidInput("severity must be mild, moderate or severe", field="severity")
    grade = (
        Severity(severity)
        if severity
        else classify_symptoms(symptoms, protocol=current_library().monitoring)
    )
    with transaction.atomic():
        order, session = _open(order_id)
        _fresh(session, session_version, order)
        _check_pump_time(session, at)
        advice = reaction_advice(session, grade)
        stops = grade is Severity.severe or advice.action is ReactionAction.stop_no_restart
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
            _pump_row(actor, session, order, at, RateAction.stop, "reaction: stopped for the day")
            changes["state"] = S.stopped
        elif session.state == S.running:
            _pump_row(actor, session, order, at, RateAction.pause, "reaction: paused")
            changes["state"] = S.paused
        if changes["state"] == S.stopped:  # a restart order made before this one is void
            changes["restart_max_ml_per_h"] = None
        _change(actor, "reaction", session, order, version=session_version,
                reason=f"{grade.value} reaction", **changes)  # fmt: skip
        if row.medicines_given:
            _medicines_task(actor, session, order, row)
    return row


def _pump_row(
    actor: Any, session: InfusionSession, order: Order, at: dt.datetime, action: str, note: str
) -> RateChange:
    """A pause or stop of the pump: a row at 0 mL/h (CLIF; A3.8)."""
    row = RateChange.objects.create(
        session=session, at=at, rate_ml_per_h=0.0, action=action, note=note, recorded_by=actor
    )
    audit.created(actor, "rate-change", row, patient_id=order.patient_id)
    return row


def _medicines_task(actor: Any, session: InfusionSession, order: Order, reaction: Reaction) -> None:
    patient = order.patient
    task = PrescriberTask.objects.create(
        session=session,
        patient=patient,
        reaction=reaction,
        kind=MEDICINES_TASK,
        message=(
            f"{patient.family_name}, {patient.given_name} ({patient.mrn}), order {order.pk}: "
            f"{reaction.severity} reaction at {_clock(reaction.at)} "
            f"({', '.join(reaction.symptoms)}); given under protocol: {reaction.medicines_given}"
        ),
    )
    audit.created(actor, "task", task, patient_id=order.patient_id)


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


def resume_infusion(
    actor: Any,
    order_id: int,
    session_version: int,
    at: dt.datetime,
    rate_ml_per_h: float,
    *,
    now: dt.datetime,
) -> RateChange:
    """Restart the pump after a reaction (62): from paused, at or below the last tolerated
    rate; from stopped, only on a prescriber's restart order made after the stop, at or below
    its maximum. Above either is a hard limit (counted). The library's rate guards apply."""
    require(actor, "resuming an infusion", Role.nurse)
    at = _time(at, now)
    with (
        hard_stops(actor, "rate-change", patient_id=_patient_of(order_id), order_id=order_id),
        transaction.atomic(),
    ):
        order, session = _open(order_id)
        _fresh(session, session_version, order)
        if session.state == S.running:
            raise Conflict("the infusion is running: change the rate instead", field="state")
        if session.state == S.stopped and not _restart_order_stands(session):
            raise Conflict(
                "a stopped infusion cannot restart today without a new prescriber order",
                field="state",
            )
        _check_pump_time(session, at)
        steps = _steps(order)
        check_rate_entry(
            rate_ml_per_h,
            steps=steps,
            planned_ml_per_h=steps[
                _step_at(steps, _minutes_since_start(session, at))
            ].rate_ml_per_h,
            previous_ml_per_h=current_rate(session),
            weight_kg=order.course.dosing_weight_kg,
            concentration_mg_per_ml=_concentration(order),
            label_max_ml_per_h=_label_max(order, steps),
            rules=current_library().limits,
        )
        limit = restart_limit(session)
        why = (
            "the last tolerated rate after today's reaction"
            if session.state == S.paused
            else "the maximum of the prescriber's restart order"
        )
        if limit is not None and rate_ml_per_h > limit + 1e-9:
            raise _above_tolerated(rate_ml_per_h, limit, why)
        row = RateChange.objects.create(
            session=session,
            at=at,
            rate_ml_per_h=rate_ml_per_h,
            action=RateAction.resume,
            recorded_by=actor,
        )
        audit.created(actor, "rate-change", row, patient_id=order.patient_id)
        used: dict[str, Any] = {"restart_max_ml_per_h": None} if session.state == S.stopped else {}
        _change(actor, "resume", session, order, version=session_version, state=S.running,
                **used)  # fmt: skip
    return row


def order_restart(
    actor: Any,
    order_id: int,
    session_version: int,
    reason: str,
    max_rate_ml_per_h: float,
    *,
    now: dt.datetime,
) -> InfusionSession:
    """A prescriber's new order to restart a stopped infusion today (62), with a reason and a
    maximum rate no higher than the last tolerated rate (a hard limit, counted)."""
    require(actor, "ordering a restart", Role.prescriber)
    if not reason.strip():
        raise InvalidInput("say why the infusion may restart", field="reason")
    if not max_rate_ml_per_h > 0:
        raise InvalidInput("the maximum rate must be above 0 mL/h", field="max_rate_ml_per_h")
    with (
        hard_stops(actor, "restart-order", patient_id=_patient_of(order_id), order_id=order_id),
        transaction.atomic(),
    ):
        order, session = _open(order_id)
        _fresh(session, session_version, order)
        if session.state != S.stopped:
            raise Conflict(
                f"the infusion is {session.state}: only a stopped infusion needs a restart order",
                field="state",
            )
        tolerated = last_tolerated_rate(session)
        if tolerated is not None and max_rate_ml_per_h > tolerated + 1e-9:
            error = _above_tolerated(
                max_rate_ml_per_h, tolerated, "the last tolerated rate after today's reactions"
            )
            error.field = "max_rate_ml_per_h"
            raise error
        session = _change(
            actor, "restart-order", session, order, version=session_version,
            reason=reason.strip(), restart_order_by=actor, restart_order_at=now,
            restart_order_reason=reason.strip(), restart_max_ml_per_h=max_rate_ml_per_h,
        )  # fmt: skip
    return session


def task_dict(task: PrescriberTask) -> dict[str, Any]:
    """A prescriber task as JSON-ready data."""
    return {
        "id": task.pk,
        "kind": task.kind,
        "message": task.message,
        "patient_id": task.patient_id,
        "order_id": task.session.order_id,
        "reaction_id": task.reaction_id,
        "created_at": task.created_at,
        "acknowledged_by": task.acknowledged_by_id,
        "acknowledged_at": task.acknowledged_at,
        "acknowledgement": task.acknowledgement,
    }


def open_tasks(actor: Any) -> list[PrescriberTask]:
    """The tasks no prescriber has acknowledged yet, oldest first."""
    require(actor, "reading the prescriber's tasks", Role.prescriber)
    return list(
        PrescriberTask.objects.filter(acknowledged_at__isnull=True)
        .select_related("session", "patient")
        .order_by("created_at", "id")
    )


def acknowledge_task(actor: Any, task_id: int, note: str, *, now: dt.datetime) -> PrescriberTask:
    """A prescriber acknowledges a task (62), with a note; once only (409 after)."""
    require(actor, "acknowledging a task", Role.prescriber)
    if not note.strip():
        raise InvalidInput("write a note with the acknowledgement", field="note")
    with transaction.atomic():
        task = locked(PrescriberTask, task_id, "task")
        if task.acknowledged_at is not None:
            raise Conflict(
                f"task {task.pk} was acknowledged already at {_clock(task.acknowledged_at)}",
                field="task",
            )
        before = audit.snapshot(task)
        task.acknowledged_by = actor
        task.acknowledged_at = now
        task.acknowledgement = note.strip()
        task.save(update_fields=["acknowledged_by", "acknowledged_at", "acknowledgement"])
        audit.record(actor, "acknowledge", "task", task.pk, patient_id=task.patient_id,
                     before=before, after=audit.snapshot(task), reason=note.strip())  # fmt: skip
    return task


# --- vitals -------------------------------------------------------------------------------------


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
    """Vital signs: impossible values refused (422), abnormal ones kept and flagged (34); the
    ranges are monitoring.toml's. Not in the future, not before the start (35)."""
    require(actor, "recording vital signs", Role.nurse)
    at = _time(at, now)
    fields = asdict(values)
    if all(v is None for v in fields.values()):
        raise InvalidInput("record at least one vital sign", field="temperature_c")
    flags = check_vitals(**fields, protocol=current_library().monitoring)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or session.started_at is None:
            raise Conflict(f"the infusion of order {order.pk} has not started")
        if session.observation_ended_at is not None:
            raise Conflict(f"the observation of order {order.pk} is closed")
        _not_before(at, session.started_at, "the start of the infusion")
        row = Vitals.objects.create(
            session=session,
            at=at,
            recorded_by=actor,
            flags=[{"field": f.field, "message": f.message} for f in flags],
            **fields,
        )
        audit.created(actor, "vitals", row, patient_id=order.patient_id)
    return row


# --- end and observation ------------------------------------------------------------------------


def end_infusion(
    actor: Any, order_id: int, at: dt.datetime, *, now: dt.datetime
) -> InfusionSession:
    """The pump stops (a ``stop`` row when it was running); the observation starts, its length
    from the history (63)."""
    require(actor, "ending an infusion", Role.nurse)
    at = _time(at, now)
    with transaction.atomic():
        order, session = _open(order_id)
        _check_pump_time(session, at)
        if session.state == S.running:
            _pump_row(actor, session, order, at, RateAction.stop, "end of infusion")
        period = observation_for(order)
        session = _change(
            actor, "end", session, order,
            state=S.ended, ended_at=at, observation_minutes=period.minutes,
        )  # fmt: skip
    return session


def finish_observation(
    actor: Any, order_id: int, version: int, at: dt.datetime, notes: str, *, now: dt.datetime
) -> InfusionSession:
    """Close the day (63): only after the full observation period, and once it is documented
    (a note, or vital signs recorded after the end); the order is then completed."""
    require(actor, "closing the observation", Role.nurse)
    at = _time(at, now)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or session.ended_at is None:
            raise Conflict(f"the infusion of order {order.pk} has not ended")
        if session.state == S.closed:
            raise Conflict(f"the observation of order {order.pk} is closed already")
        _not_before(at, session.ended_at, "the end of the infusion")
        due = session.ended_at + dt.timedelta(minutes=session.observation_minutes or 0)
        if at < due:
            raise Conflict(
                f"the observation lasts {session.observation_minutes} minutes: it can close at "
                f"{_clock(due)} ({due.isoformat(timespec='minutes')})",
                field="at",
            )
        seen = _current_vitals(session).filter(at__gte=session.ended_at).exists()
        if not notes.strip() and not seen:
            raise Conflict(
                "document the observation: write a note, or record the vital signs taken after "
                "the end of the infusion",
                field="notes",
            )
        transition(actor, order_id, OrderStatus.completed, version)
        session = _change(
            actor, "observation-end", session, order,
            state=S.closed, observation_ended_at=at, observation_notes=notes.strip(),
        )  # fmt: skip
    return session


# --- the session as the run sheet needs it ------------------------------------------------------


def _until(steps: tuple[RateStep, ...], minute: float) -> tuple[RateStep, ...]:
    """The steps as they ran when the infusion ended at ``minute`` (earlier or later than
    planned): the steps begun by then, the last one ending at ``minute``."""
    begun = [s for s in steps if s.start_min < minute] or [steps[0]]
    end = max(minute, begun[-1].start_min + 1)
    return (*begun[:-1], replace(begun[-1], end_min=round(end, 1)))


def _may_increase(session: InfusionSession, steps: tuple[RateStep, ...]) -> dict[str, Any] | None:
    """Hints for the run sheet (60): from when the rate may increase, the latest standing
    vital signs, the window they must fall in, and the cap after a reaction."""
    if session.state != S.running:
        return None
    due = _increase_from(session, steps)
    latest = _current_vitals(session).order_by("-at", "-id").first()
    return {
        "from": due[0] if due else None,
        "step_minutes": due[1] if due else None,
        "vitals_at": latest.at if latest else None,
        "vitals_within_minutes": current_library().limits.vitals_within_minutes.value,
        "at_most_ml_per_h": last_tolerated_rate(session),
    }


def session_state(order: Order, *, now: dt.datetime) -> dict[str, Any]:
    """The session as the run sheet needs it: its state and version, the rates allowed now,
    the prescriber's tasks, and the vitals checkpoints due or overdue (standing vitals only)."""
    session = InfusionSession.objects.filter(order=order).first()
    steps = _steps(order)
    state: dict[str, Any] = {
        "order_id": order.pk,
        "status": order.status,
        "state": session.state if session else S.not_started.value,
        "version": session.version if session else None,
        "label_max_ml_per_h": _label_max(order, steps),
        "ceiling_ml_per_h": max(s.rate_ml_per_h for s in steps),
        "restart_max_ml_per_h": None,
        "last_tolerated_ml_per_h": None,
        "may_increase": None,
        "tasks": [],
        "session": None,
        "checkpoints": [],
    }
    if session is None:
        return state
    standing_vitals = set(_current_vitals(session).values_list("pk", flat=True))
    standing_reactions = set(_current_reactions(session).values_list("pk", flat=True))
    state["session"] = {
        **audit.snapshot(session),
        "rate_changes": [audit.snapshot(r) for r in session.rate_changes.all()],
        "vitals": [
            {**audit.snapshot(v), "current": v.pk in standing_vitals} for v in session.vitals.all()
        ],
        "reactions": [
            {**audit.snapshot(r), "current": r.pk in standing_reactions}
            for r in session.reactions.all()
        ],
    }
    state["tasks"] = [task_dict(t) for t in session.tasks.select_related("session")]
    if session.started_at is None:
        return state
    state["restart_max_ml_per_h"] = restart_limit(session)
    state["last_tolerated_ml_per_h"] = last_tolerated_rate(session)
    state["may_increase"] = _may_increase(session, steps)
    minutes = session.observation_minutes or observation_for(order).minutes
    if session.ended_at is not None:  # the real end, not the planned one
        steps = _until(steps, (session.ended_at - session.started_at).total_seconds() / 60)
    schedule = vitals_schedule(
        steps,
        observation_minutes=minutes,
        label_maximum_ml_per_h=_label_max(order, steps),
        protocol=current_library().monitoring,
    )
    statuses = checks_due(
        schedule,
        started_at=session.started_at,
        recorded=[v.at for v in _current_vitals(session)],
        now=now,
        protocol=current_library().monitoring,
    )
    state["checkpoints"] = [
        {
            "minute": s.minute,
            "reason": s.check.text,
            "due_at": s.due_at,
            "status": s.status.value,
            "recorded_at": s.recorded_at,
        }
        for s in statuses
    ]
    return state
