"""The session as the run sheet, the chairs board, the reports and the API read it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from ivig.core.limits import load_limits
from ivig.core.monitoring import checks_due, vitals_schedule
from ivig.core.rates import RateStep
from ivig.records import audit
from ivig.records.models import InfusionSession, Order
from ivig.records.services.infusions._common import S, standing_reactions, standing_vitals
from ivig.records.services.infusions.closing import observation_for
from ivig.records.services.infusions.pump import (
    increase_from,
    label_max,
    last_tolerated_rate,
    steps_of,
)
from ivig.records.services.infusions.reactions import restart_limit
from ivig.records.services.infusions.tasks import task_dict

__all__ = ["session_state"]


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
    due = increase_from(session, steps)
    latest = standing_vitals(session).order_by("-at", "-id").first()
    return {
        "from": due[0] if due else None,
        "step_minutes": due[1] if due else None,
        "vitals_at": latest.at if latest else None,
        "vitals_within_minutes": load_limits().vitals_within_minutes.value,
        "at_most_ml_per_h": last_tolerated_rate(session),
    }


def session_state(order: Order, *, now: dt.datetime) -> dict[str, Any]:
    """The session as the run sheet needs it: its state and version, the rates allowed now,
    the prescriber's tasks, and the vitals checkpoints due or overdue (standing vitals only)."""
    session = InfusionSession.objects.filter(order=order).first()
    steps = steps_of(order)
    state: dict[str, Any] = {
        "order_id": order.pk,
        "status": order.status,
        "state": session.state if session else S.not_started.value,
        "version": session.version if session else None,
        "label_max_ml_per_h": label_max(order, steps),
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
    vitals_in_force = set(standing_vitals(session).values_list("pk", flat=True))
    reactions_in_force = set(standing_reactions(session).values_list("pk", flat=True))
    state["session"] = {
        **audit.snapshot(session),
        "rate_changes": [audit.snapshot(r) for r in session.rate_changes.all()],
        "vitals": [
            {**audit.snapshot(v), "current": v.pk in vitals_in_force} for v in session.vitals.all()
        ],
        "reactions": [
            {**audit.snapshot(r), "current": r.pk in reactions_in_force}
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
        steps, observation_minutes=minutes, label_maximum_ml_per_h=label_max(order, steps)
    )
    statuses = checks_due(
        schedule,
        started_at=session.started_at,
        recorded=[v.at for v in standing_vitals(session)],
        now=now,
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
