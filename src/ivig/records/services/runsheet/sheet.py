"""What the run sheet of one order shows, the same for every reader: the header, the steps on
the clock with the basis of each number (``basis``), the checkpoints, the vital signs and
reactions (corrections struck through, never hidden), the state of the infusion (running,
paused, stopped, ended, closed), the prescriber's tasks and the reaction protocol.

:func:`sheet` is the screen's part without its forms (the web adds the forms the reader may
use); :func:`print_sheet` is the print view's and the PDF's
(``ivig.records.services.documents.print_runsheet``)."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict
from typing import Any

from django.utils import timezone

from ivig.core.booked import BookedSlot
from ivig.core.catalogue import Product
from ivig.core.monitoring import ReactionAction, observation_close_at, vitals_schedule
from ivig.core.rates import clock_times
from ivig.core.units import grams_to_ml
from ivig.core.vitals import VITAL_FIELDS
from ivig.errors import IvigError
from ivig.interop.charts import rate_chart
from ivig.records.library import current_catalogue, current_library
from ivig.records.models import (
    AuditEvent,
    InfusionSession,
    Order,
    OrderStatus,
    PrescriberTask,
    RateChange,
    Reaction,
    SessionState,
    Vitals,
)
from ivig.records.services import infusions, patient_reports
from ivig.records.services.bookings import booked_slot
from ivig.records.services.infusions import Checkpoint, SessionView
from ivig.records.services.patients import age_on, latest_weight
from ivig.records.services.runsheet import basis
from ivig.records.services.runsheet.now import now_bar

__all__ = [
    "CHECK_QUESTIONS",
    "RATE_TOLERANCE",
    "last_print",
    "planned_start",
    "planned_step",
    "print_sheet",
    "product_of",
    "reaction_protocol",
    "sheet",
    "stage_of",
    "symptom_name",
]

# The nurse's questions before starting (``infusions.CheckAnswers``), as the check form asks
# them and the sheet prints the answers.
CHECK_QUESTIONS = {
    "infection": "Signs of an infection today?",
    "fever": "Fever today (38 °C or more)?",
    "feeling_unwell": "Does the patient feel unwell?",
    "hydrated": "Is the patient well hydrated?",
    "notes": "Notes",
}


def symptom_name(key: str) -> str:
    """A symptom's key in words: ``chest-tightness`` -> ``Chest tightness``."""
    return key.replace("-", " ").capitalize()


RATE_TOLERANCE = 0.05  # mL/h: a recorded rate "is" a planned step's rate within this
S = SessionState


def planned_step(order: Order, session: InfusionSession | None, now: dt.datetime) -> int | None:
    """The index of the step the plan is on at ``now`` (the last one once past the plan)."""
    if session is None or session.started_at is None or session.ended_at is not None:
        return None
    minute = (now - session.started_at).total_seconds() / 60
    steps = order.steps
    for i, step in enumerate(steps):
        if minute < float(step["end_min"]):
            return i
    return len(steps) - 1 if steps else None


def planned_start(booked: BookedSlot | None, now: dt.datetime) -> dt.datetime:
    """Where the provisional clock times start before the infusion has begun: the booked pump
    start (the booked start after the unit's set-up, issue 18) while it is still to come, else
    now (the earliest it can start)."""
    now = now.replace(second=0, microsecond=0)
    if booked is not None and booked.pump_start > now:
        return booked.pump_start
    return now


def _step_rows(
    order: Order,
    session: InfusionSession | None,
    rates: list[RateChange],
    now: dt.datetime,
    bases: list[dict[str, Any]],
    planned: dt.datetime,
) -> dict[str, Any]:
    """The rate-step table: clock times from the actual start (from ``planned_start``,
    provisional, before it), cumulative volumes, the actual start of each step, the current
    and the next step, and the basis of each number (``basis.steps_basis``)."""
    steps = infusions.steps_of(order)
    started = session.started_at if session is not None else None
    base = started or planned
    times = clock_times(steps, base)
    current = planned_step(order, session, now)
    rows = []
    cumulative = 0.0
    used = 0  # each recorded rate change starts at most one step, in order
    for i, (step, (begin, end)) in enumerate(zip(steps, times, strict=True)):
        cumulative += step.volume_ml
        actual = None
        for j in range(used, len(rates)):
            if math.isclose(rates[j].rate_ml_per_h, step.rate_ml_per_h, abs_tol=RATE_TOLERANCE):
                actual, used = rates[j], j + 1
                break
        rows.append(
            {
                "number": i + 1,
                "step": step,
                "minutes": step.end_min - step.start_min,
                "mg_per_kg_per_min": f"{step.rate_mg_per_kg_per_min:g}",
                "begin": begin,
                "end": end,
                "cumulative_ml": cumulative,
                "actual": actual,
                "current": i == current,
                "basis": bases[i] if i < len(bases) else {},
            }
        )
    nxt = None
    if current is not None and current + 1 < len(rows):
        nxt = rows[current + 1]
    overrun = (
        current is not None
        and started is not None
        and steps
        and now >= started + dt.timedelta(minutes=steps[-1].end_min)
    )
    return {
        "rows": rows,
        "provisional": started is None,
        "booked": started is None and base != now.replace(second=0, microsecond=0),
        "base": base,
        "expected_end": times[-1][1] if times else None,
        "current": rows[current] if current is not None else None,
        "next": nxt,
        "overrun": bool(overrun),
        "total_ml": cumulative,
    }


def _checkpoints(
    order: Order,
    session: InfusionSession | None,
    state: SessionView,
    observe_minutes: int,
    planned: dt.datetime,
) -> tuple[list[Checkpoint], bool]:
    """The vital-sign checkpoints (``session_state``) once started; before that, the planned
    ones on the clock from ``planned_start`` (provisional)."""
    if session is not None and session.started_at is not None:
        return list(state.checkpoints), False
    base = planned
    schedule = vitals_schedule(
        infusions.steps_of(order),
        observation_minutes=observe_minutes,
        label_maximum_ml_per_h=order.label_max_ml_per_h,
        protocol=current_library().monitoring,
    )
    rows = [
        Checkpoint(c.minute, c.text, base + dt.timedelta(minutes=c.minute), "planned")
        for c in schedule
    ]
    return rows, True


def _correction(row: Vitals | Reaction, superseded: set[int], kind: str) -> dict[str, Any]:
    """How a correctable row stands: in force, superseded by a correction, or a void; its kind
    and id, for the link that corrects it (requirements 11-13: corrections never overwrite)."""
    return {
        "superseded": row.pk in superseded,
        "void": row.entered_in_error,
        "struck": row.pk in superseded or row.entered_in_error,
        "corrects": row.supersedes_id,
        "reason": row.correction_reason,
        "kind": kind,
        "pk": row.pk,
    }


def _superseded(model: type[Vitals] | type[Reaction], session: InfusionSession) -> set[int]:
    return set(
        model.objects.filter(session=session, supersedes__isnull=False).values_list(
            "supersedes_id", flat=True
        )
    )


def _vitals_rows(session: InfusionSession | None) -> list[dict[str, Any]]:
    if session is None:
        return []
    protocol = current_library().monitoring.vitals
    superseded = _superseded(Vitals, session)
    rows = []
    for v in session.vitals.select_related("recorded_by").order_by("at", "id"):
        flagged = {f["field"] for f in v.flags}
        cells = [
            {
                "field": name,
                "value": getattr(v, name),
                "unit": protocol[name].unit,
                "flagged": name in flagged,
            }
            for name in VITAL_FIELDS
        ]
        rows.append(
            {
                "vitals": v,
                "cells": cells,
                "flags": v.flags,
                "correction": _correction(v, superseded, "vitals"),
            }
        )
    return rows


def _vital_columns() -> list[dict[str, str]]:
    protocol = current_library().monitoring.vitals
    return [
        {"field": name, "name": protocol[name].name, "unit": protocol[name].unit}
        for name in VITAL_FIELDS
    ]


def _reaction_rows(session: InfusionSession | None) -> list[dict[str, Any]]:
    if session is None:
        return []
    superseded = _superseded(Reaction, session)
    return [
        {
            "reaction": r,
            "symptoms": [symptom_name(s) for s in r.symptoms],
            "advice": r.recommended,
            "correction": _correction(r, superseded, "reaction"),
        }
        for r in session.reactions.select_related("recorded_by").order_by("at", "id")
    ]


def product_of(order: Order) -> Product | None:
    """The order's product in the library in service (``None`` once it is gone)."""
    try:
        return current_catalogue().products.get(order.course.product_id)
    except IvigError:
        return None


def _lots(order: Order, product: Product | None) -> list[dict[str, Any]]:
    rows = []
    for lot in order.lots.order_by("id"):
        grams = lot.vial_size_g * lot.count
        volume = grams_to_ml(grams, product.concentration) if product else None
        rows.append({"lot": lot, "grams": grams, "volume_ml": volume})
    return rows


def _answers(session: InfusionSession | None) -> list[dict[str, str]]:
    """The nurse's answers to the check, as asked."""
    if session is None or not session.check_answers:
        return []
    return [
        {
            "question": CHECK_QUESTIONS.get(name, name),
            "answer": ("yes" if value else "no") if isinstance(value, bool) else str(value),
        }
        for name, value in session.check_answers.items()
        if value != ""
    ]


def stage_of(order: Order, session: InfusionSession | None) -> str:
    """Where the day stands: ``waiting`` (not dispensed), ``check`` (dispensed: check and
    start), ``running`` (started, the pump not off for good: running, paused or stopped),
    ``observation`` (ended, observing), ``closed`` or ``withdrawn`` (deferred, cancelled)."""
    if order.status in (OrderStatus.planned, OrderStatus.verified):
        return "waiting"
    if order.status == OrderStatus.dispensed:
        return "check"
    if order.status == OrderStatus.in_progress:
        if session is not None and session.ended_at is not None:
            return "observation"
        return "running"
    if order.status == OrderStatus.completed:
        return "closed"
    return "withdrawn"


def _tolerated(
    rates: list[RateChange], reactions: list[dict[str, Any]], limit: float
) -> RateChange | None:
    """The recorded rate the restart limit stands on: the latest rate at ``limit`` given
    before the last reaction (the last tolerated rate, as the service counts it)."""
    if not reactions:
        return None
    last = reactions[-1]["reaction"]
    matching = [
        r
        for r in rates
        if r.at <= last.at and math.isclose(r.rate_ml_per_h, limit, abs_tol=RATE_TOLERANCE)
    ]
    return matching[-1] if matching else None


def _restart(
    session: InfusionSession | None,
    infusion_state: str,
    state: SessionView,
    rates: list[RateChange],
    reactions: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """The highest restart rate allowed now (``session_state``) and its basis: paused, the
    last tolerated rate; stopped, the prescriber's restart order (requirement 62)."""
    limit = state.restart_max_ml_per_h
    if session is None or limit is None:
        return None
    if infusion_state == S.stopped:
        return {
            "max": float(limit),
            "basis": "prescriber",
            "by": session.restart_order_by,
            "at": session.restart_order_at,
            "reason": session.restart_order_reason,
        }
    return {
        "max": float(limit),
        "basis": "last-tolerated",
        "rate": _tolerated(rates, reactions, float(limit)),
    }


def _tasks(session: InfusionSession | None) -> list[PrescriberTask]:
    if session is None:
        return []
    return list(
        PrescriberTask.objects.filter(session=session)
        .select_related("acknowledged_by", "reaction")
        .order_by("created_at", "id")
    )


def sheet(order: Order, now: dt.datetime) -> dict[str, Any]:
    """Everything the sheet shows at ``now`` that is the same for every reader (the web adds
    the forms and what the reader may do)."""
    session = InfusionSession.objects.filter(order=order).first()
    state = infusions.session_state(order, now=now)
    stage = stage_of(order, session)
    infusion_state = state.state  # requirement 62: not-started before the check
    rates = (
        list(session.rate_changes.select_related("recorded_by").order_by("at", "id"))
        if session
        else []
    )
    course = order.course
    plan = course.plan
    product = product_of(order)
    observation = infusions.observation_for(order)  # the service's rule (first, switch, gap)
    observe_minutes = (
        session.observation_minutes if session and session.observation_minutes else None
    ) or observation.minutes
    booked = booked_slot(order)  # the booked time and place (issue 18)
    planned = planned_start(booked, now)
    checkpoints, provisional_checks = _checkpoints(order, session, state, observe_minutes, planned)
    findings = list(session.check_findings) if session and session.checked_at else []
    blocks = [f for f in findings if f.get("severity") == "block"]
    overridden = bool(session and session.override_reason)
    reactions = _reaction_rows(session)
    restart = _restart(session, infusion_state, state, rates, reactions)
    tasks = _tasks(session)
    observe_until = (
        observation_close_at(session.ended_at, observe_minutes)
        if session and session.ended_at
        else None
    )
    vitals = _vitals_rows(session)
    by_time = {row["vitals"].at: row for row in vitals if not row["correction"]["struck"]}
    checkpoint_rows = [{**asdict(c), "vitals": by_time.get(c.recorded_at)} for c in checkpoints]
    bases = basis.steps_basis(order, course, product)
    current_rate = rates[-1] if rates else None
    step_rows = _step_rows(order, session, rates, now, bases, planned)
    ctx = {
        "order": order,
        "patient": order.patient,
        "course": course,
        "plan": plan,
        "product": product,
        "session": session,
        "booked": booked,
        "stage": stage,
        "state": infusion_state,
        "session_version": session.version if session else None,
        "now": now,
        "age": age_on(order.patient.date_of_birth, order.date),
        "weight": latest_weight(order.patient),
        "concentration_percent": product.concentration / 10 if product else None,
        "check_answers": _answers(session),
        "dose_g_per_kg": order.dose_g / course.dosing_weight_kg
        if course.dosing_weight_kg
        else None,
        "lots": _lots(order, product),
        "steps": step_rows,
        "rate_chart": _rate_chart(order, session, rates, step_rows, now),
        "printed": last_print(order, session),
        "dose_basis": basis.dose_basis(order, course, product),
        "limits": basis.limits_basis(order, course, product, state),
        "library": basis.library_basis(order, course),
        "rates": rates,
        "current_rate": current_rate,
        "restart": restart,
        "may_increase": state.may_increase,
        "last_tolerated": state.last_tolerated_ml_per_h,
        "all_tasks": tasks,
        "checkpoints": checkpoint_rows,
        "provisional_checks": provisional_checks,
        "vital_columns": _vital_columns(),
        "vitals": vitals,
        "reactions": reactions,
        "last_reaction": reactions[-1] if reactions else None,
        "findings": findings,
        "blocks": blocks,
        "overridden": overridden,
        "observation": observation,
        "observe_minutes": observe_minutes,
        "observe_until": observe_until,
        "time_zone": timezone.get_current_timezone_name(),
        # what the patient reported (issue 7): the day-before check, the diary since the last
        "reports": {
            "check": patient_reports.latest_check(order),
            "to_review": patient_reports.checks_to_review(order),  # every flagged one open
            "diary": patient_reports.mild_since_last(order),
        },
        "vitals_within": current_library().limits.vitals_within_minutes.value,
        "pump": state.pump,  # the dose by the pump log (issue 16 item 5)
        "baseline_vitals": _baseline(session, vitals),  # issue 16 item 7
    }
    ctx["now_bar"] = now_bar(ctx)  # issue 16 item 13
    return ctx


def _baseline(
    session: InfusionSession | None, vitals: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The latest vital signs in force taken before the start (before it is recorded: any),
    the baseline a start needs (issue 16 item 7)."""
    started = session.started_at if session is not None else None
    standing = [
        v
        for v in vitals
        if not v["correction"]["struck"] and (started is None or v["vitals"].at <= started)
    ]
    return standing[-1] if standing else None


def print_sheet(order: Order, now: dt.datetime) -> dict[str, Any]:
    """What the print view (and its PDF) shows: the sheet, the reaction protocol, signature
    lines (no form: ``printing``)."""
    ctx = sheet(order, now)
    patient = order.patient
    ctx["title"] = f"Run sheet (print): {patient.family_name}, {patient.given_name}"
    ctx["printing"] = True
    ctx["reaction_protocol"] = reaction_protocol()
    return ctx


def last_print(order: Order, session: InfusionSession | None) -> dict[str, Any] | None:
    """The last PDF printed of this order, and whether the record changed since (requirement
    66: the screen says "printed copy superseded")."""
    event = (
        AuditEvent.objects.filter(
            patient_id=order.patient_id, action="print", entity="order", entity_id=str(order.pk)
        )
        .order_by("-seq")
        .first()
    )
    if event is None:
        return None
    printed = event.after or {}
    now_versions = (order.version, session.version if session is not None else None)
    then = (printed.get("order_version"), printed.get("session_version"))
    return {"at": event.at, "by": event.actor, "superseded": then != now_versions}


def _rate_chart(
    order: Order,
    session: InfusionSession | None,
    rates: list[RateChange],
    step_rows: dict[str, Any],
    now: dt.datetime,
) -> dict[str, Any] | None:
    """The rate over time: the planned steps from the start (from now before it) against the
    recorded pump rows, the last held until the end (until now while it runs)."""
    until = None
    if session is not None and session.started_at is not None:
        until = session.ended_at or max(now, rates[-1].at if rates else now)
    return rate_chart(
        order.steps,
        [(r.at, r.rate_ml_per_h, str(r.action)) for r in rates],
        step_rows["base"],
        provisional=bool(step_rows["provisional"]),
        until=until,
    )


ACTION_WORDS = {
    ReactionAction.slow: "slow the infusion to a lower rate and continue",
    ReactionAction.pause: "pause the pump; restart when the symptoms resolve",
    ReactionAction.stop: "stop the pump; restart only when the symptoms resolve and the "
    "prescriber agrees",
    ReactionAction.stop_no_restart: "stop the pump; no restart today without a new prescriber "
    "order; treat under the hypersensitivity (anaphylaxis) protocol when severe",
}


def reaction_protocol() -> dict[str, Any]:
    """The service protocol's reaction actions (``monitoring.toml`` ``[reactions]``), in words,
    each with its source: what the printed sheet tells the nurse to do."""
    p = current_library().monitoring.reactions
    rows = [
        {
            "severity": name,
            "action": entry.value.value,
            "words": ACTION_WORDS[entry.value],
            "source": entry.source.cite(),
            "verified": entry.verified,
        }
        for name, entry in (
            ("mild", p.mild),
            ("moderate", p.moderate),
            ("severe", p.severe),
            ("a second reaction today", p.second_reaction),
        )
    ]
    return {
        "rows": rows,
        "restart_at_most": p.restart_at_most.value,
        "lower_rate_percent": round(p.lower_rate_fraction.value * 100),
        "mild_call_prescriber": p.mild_call_prescriber.value,
    }
