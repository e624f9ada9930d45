"""The session as the run sheet, the chairs board, the reports and the API read it: a typed
view (``SessionView``) of its state and version, the rates allowed now, the prescriber's tasks
and the vital-sign checkpoints (requirements 60-62)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from ivig.core.monitoring import checks_due, vitals_schedule
from ivig.core.rates import RateStep
from ivig.records import audit
from ivig.records.library import current_library
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
from ivig.records.services.infusions.tasks import TaskView, task_view

__all__ = ["Checkpoint", "IncreaseHint", "SessionView", "session_state"]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A vital-sign checkpoint on the clock (``core.monitoring.checks_due``): ``status`` is
    done, due, overdue or upcoming (``planned`` on a sheet before the start)."""

    minute: float
    reason: str
    due_at: dt.datetime
    status: str
    recorded_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class IncreaseHint:
    """When the running rate may increase (60): from ``since`` (the step's minimum time after
    the rate began; ``from`` in the API), with vital signs from the ``vitals_within_minutes``
    before it (the latest standing ones at ``vitals_at``), and never above ``at_most_ml_per_h``
    after a reaction."""

    since: dt.datetime | None
    step_minutes: float | None
    vitals_at: dt.datetime | None
    vitals_within_minutes: int
    at_most_ml_per_h: float | None


@dataclass(frozen=True, slots=True)
class SessionView:
    """An order's infusion now. ``state`` is the session's (``SessionState``; not-started
    before the check) and ``version`` the one a change must name (``None`` before the check);
    the rates allowed: the label's maximum, the plan's ceiling (the top step), a resume's
    highest rate (``restart_max_ml_per_h``), the last tolerated rate after a reaction and when
    an increase may come; ``session`` is the stored record (JSON-ready, as audited) with its
    pump rows, vital signs and reactions, each of the last two marked ``current`` when in
    force."""

    order_id: int
    status: str
    state: str
    version: int | None
    label_max_ml_per_h: float
    ceiling_ml_per_h: float
    restart_max_ml_per_h: float | None = None
    last_tolerated_ml_per_h: float | None = None
    may_increase: IncreaseHint | None = None
    tasks: tuple[TaskView, ...] = ()
    session: dict[str, Any] | None = None
    checkpoints: tuple[Checkpoint, ...] = ()


def _until(steps: tuple[RateStep, ...], minute: float) -> tuple[RateStep, ...]:
    """The steps as they ran when the infusion ended at ``minute`` (earlier or later than
    planned): the steps begun by then, the last one ending at ``minute``."""
    begun = [s for s in steps if s.start_min < minute] or [steps[0]]
    end = max(minute, begun[-1].start_min + 1)
    return (*begun[:-1], replace(begun[-1], end_min=round(end, 1)))


def _may_increase(session: InfusionSession, steps: tuple[RateStep, ...]) -> IncreaseHint | None:
    """Hints for the run sheet (60): from when the rate may increase, the latest standing
    vital signs, the window they must fall in, and the cap after a reaction."""
    if session.state != S.running:
        return None
    due = increase_from(session, steps)
    latest = standing_vitals(session).order_by("-at", "-id").first()
    return IncreaseHint(
        since=due[0] if due else None,
        step_minutes=due[1] if due else None,
        vitals_at=latest.at if latest else None,
        vitals_within_minutes=current_library().limits.vitals_within_minutes.value,
        at_most_ml_per_h=last_tolerated_rate(session),
    )


def _record(session: InfusionSession) -> dict[str, Any]:
    """The session as stored, with its pump rows, vital signs and reactions (JSON-ready)."""
    vitals_in_force = set(standing_vitals(session).values_list("pk", flat=True))
    reactions_in_force = set(standing_reactions(session).values_list("pk", flat=True))
    return {
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


def _checkpoints(
    order: Order, session: InfusionSession, steps: tuple[RateStep, ...], now: dt.datetime
) -> tuple[Checkpoint, ...]:
    """The vital-sign checkpoints of a started infusion at ``now`` (standing vitals only)."""
    assert session.started_at is not None
    minutes = session.observation_minutes or observation_for(order).minutes
    if session.ended_at is not None:  # the real end, not the planned one
        steps = _until(steps, (session.ended_at - session.started_at).total_seconds() / 60)
    schedule = vitals_schedule(
        steps,
        observation_minutes=minutes,
        label_maximum_ml_per_h=label_max(order, steps),
        protocol=current_library().monitoring,
    )
    statuses = checks_due(
        schedule,
        started_at=session.started_at,
        recorded=[v.at for v in standing_vitals(session)],
        now=now,
        protocol=current_library().monitoring,
    )
    return tuple(
        Checkpoint(
            minute=s.minute,
            reason=s.check.text,
            due_at=s.due_at,
            status=s.status.value,
            recorded_at=s.recorded_at,
        )
        for s in statuses
    )


def session_state(order: Order, *, now: dt.datetime) -> SessionView:
    """The session as the run sheet needs it: its state and version, the rates allowed now,
    the prescriber's tasks, and the vitals checkpoints due or overdue (standing vitals only)."""
    session = InfusionSession.objects.filter(order=order).first()
    steps = steps_of(order)
    view = SessionView(
        order_id=order.pk,
        status=order.status,
        state=session.state if session else S.not_started.value,
        version=session.version if session else None,
        label_max_ml_per_h=label_max(order, steps),
        ceiling_ml_per_h=max(s.rate_ml_per_h for s in steps),
    )
    if session is None:
        return view
    view = replace(
        view,
        session=_record(session),
        tasks=tuple(task_view(t) for t in session.tasks.select_related("session")),
    )
    if session.started_at is None:
        return view
    return replace(
        view,
        restart_max_ml_per_h=restart_limit(session),
        last_tolerated_ml_per_h=last_tolerated_rate(session),
        may_increase=_may_increase(session, steps),
        checkpoints=_checkpoints(order, session, steps, now),
    )
