"""The session as the run sheet, the chairs board, the reports and the API read it: a typed
view (``SessionView``) of its state and version, the rates allowed now, the prescriber's tasks
and the vital-sign checkpoints (requirements 60-62)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from ivig.core.infused import minutes_to_give, schedule_after_restart, volume_infused
from ivig.core.monitoring import VitalsCheck, checks_due, vitals_schedule
from ivig.core.rates import RateStep
from ivig.records import audit
from ivig.records.library import current_library
from ivig.records.models import InfusionSession, Order, RateAction, RateChange, Reaction
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

__all__ = ["Checkpoint", "IncreaseHint", "PumpLog", "SessionView", "session_state"]


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
class PumpLog:
    """Where the dose stands by the pump's log (issue 16 item 5): the dose's volume, the
    volume given up to now (or the end) and what remains; the expected end (the plan's, or
    after a restart at a kept rate the restart + remaining / rate; ``None`` while on hold);
    the last reaction, the hold since the pump paused or stopped, and the restart after it."""

    dose_ml: float
    given_ml: float
    remaining_ml: float
    expected_end: dt.datetime | None
    reaction_at: dt.datetime | None = None
    reaction_severity: str | None = None
    on_hold_since: dt.datetime | None = None
    restarted_at: dt.datetime | None = None
    restarted_ml_per_h: float | None = None
    rate_ml_per_h: float | None = None


@dataclass(frozen=True, slots=True)
class SessionView:
    """An order's infusion now. ``state`` is the session's (``SessionState``; not-started
    before the check) and ``version`` the one a change must name (``None`` before the check);
    the rates allowed: the label's maximum, the plan's ceiling (the top step), a resume's
    highest rate (``restart_max_ml_per_h``), the last tolerated rate after a reaction and when
    an increase may come; ``session`` is the stored record (JSON-ready, as audited) with its
    pump rows, vital signs and reactions, each of the last two marked ``current`` when in
    force; ``pump``, once started, where the dose stands by the pump log (issue 16 item 5)."""

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
    pump: PumpLog | None = None


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


def _restart_after(rows: list[RateChange], reaction: Reaction | None) -> RateChange | None:
    """The pump's restart after the last reaction (its first resume row), if any."""
    if reaction is None:
        return None
    return next((r for r in rows if r.action == RateAction.resume and r.at >= reaction.at), None)


def _pump(
    order: Order, session: InfusionSession, steps: tuple[RateStep, ...], now: dt.datetime
) -> PumpLog:
    """The dose by the pump log: given, remaining, the expected end, the hold and restart."""
    assert session.started_at is not None
    rows = list(session.rate_changes.all())
    log = [(r.at, r.rate_ml_per_h) for r in rows]
    dose = float(order.volume_ml)
    until = session.ended_at or now
    given = min(volume_infused(log, until), dose)
    reactions = standing_reactions(session).order_by("at", "id")
    last = reactions.last()
    restart = _restart_after(rows, last)
    running = [r for r in rows if r.rate_ml_per_h > 0]
    rate = running[-1].rate_ml_per_h if running else None
    held = rows[-1].at if rows and rows[-1].rate_ml_per_h == 0 else None
    if session.ended_at is not None:
        end: dt.datetime | None = session.ended_at
    elif session.state != S.running:
        end = None  # on hold: no end until the pump restarts
    elif restart is not None and running:
        since = running[-1].at  # the rate kept since the restart (or a lower one after it)
        left = dose - min(volume_infused(log, since), dose)
        end = since + dt.timedelta(minutes=minutes_to_give(left, running[-1].rate_ml_per_h))
    else:
        end = session.started_at + dt.timedelta(minutes=steps[-1].end_min)
    return PumpLog(
        dose_ml=dose,
        given_ml=round(given, 1),
        remaining_ml=round(max(dose - given, 0.0), 1),
        expected_end=end,
        reaction_at=last.at if last else None,
        reaction_severity=last.severity if last else None,
        on_hold_since=held if session.ended_at is None and session.state != S.running else None,
        restarted_at=restart.at if restart else None,
        restarted_ml_per_h=restart.rate_ml_per_h if restart else None,
        rate_ml_per_h=rate,
    )


def _schedule(
    order: Order,
    session: InfusionSession,
    steps: tuple[RateStep, ...],
    pump: PumpLog,
    minutes: int,
) -> list[VitalsCheck]:
    """The checkpoints' schedule: the plan's (to the real end once ended); after a reaction,
    the plan's up to it, then none while on hold, and after a restart the protocol's at the
    kept rate to the expected (or real) end (issue 16 item 5)."""
    assert session.started_at is not None
    start = session.started_at

    def minute(at: dt.datetime) -> float:
        return (at - start).total_seconds() / 60

    if session.ended_at is not None and pump.restarted_at is None:
        steps = _until(steps, minute(session.ended_at))  # the real end, not the planned one
    planned = vitals_schedule(
        steps,
        observation_minutes=minutes,
        label_maximum_ml_per_h=label_max(order, steps),
        protocol=current_library().monitoring,
    )
    if pump.reaction_at is None:
        return planned
    first = standing_reactions(session).order_by("at", "id").first()
    held_from = minute(first.at if first else pump.reaction_at)
    if pump.restarted_at is None or pump.restarted_ml_per_h is None:
        if session.ended_at is not None:
            return planned
        return [c for c in planned if c.minute < held_from - 1e-9]
    end = session.ended_at or pump.expected_end or pump.restarted_at
    return schedule_after_restart(
        planned,
        held_from_minute=min(held_from, minute(pump.restarted_at)),
        restart_minute=minute(pump.restarted_at),
        rate_ml_per_h=pump.rate_ml_per_h or pump.restarted_ml_per_h,
        minutes=minute(end) - minute(pump.restarted_at),
        observation_minutes=minutes,
        protocol=current_library().monitoring,
    )


def _checkpoints(
    order: Order,
    session: InfusionSession,
    steps: tuple[RateStep, ...],
    pump: PumpLog,
    now: dt.datetime,
) -> tuple[Checkpoint, ...]:
    """The vital-sign checkpoints of a started infusion at ``now`` (standing vitals only)."""
    assert session.started_at is not None
    minutes = session.observation_minutes or observation_for(order).minutes
    schedule = _schedule(order, session, steps, pump, minutes)
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
    pump = _pump(order, session, steps, now)
    return replace(
        view,
        restart_max_ml_per_h=restart_limit(session),
        last_tolerated_ml_per_h=last_tolerated_rate(session),
        may_increase=_may_increase(session, steps),
        checkpoints=_checkpoints(order, session, steps, pump, now),
        pump=pump,
    )
