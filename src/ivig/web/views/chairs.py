"""Today's chairs: the infusions of the day at a glance, for every role. For each started
infusion, its state (running, paused, stopped, ended, closed: requirement 62), the step it is
on (from the latest rate change) against the planned steps, the minute since the start, the
restart limit after a reaction; after a reaction, the reaction and the hold (on hold since,
restarted at a rate, the remaining volume and the expected end by the pump log: issue 16
item 5) instead of the plan; the prescriber's open tasks, and the vital-sign checkpoints due
or overdue (``infusions.session_state``). The board refreshes itself every 60 seconds (htmx
polling of its partial)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone

from ivig.core.monitoring import observation_close_at
from ivig.records.library import current_catalogue
from ivig.records.models import Order, OrderStatus
from ivig.records.services import infusions, patient_reports
from ivig.records.services.infusions import SessionView

S = OrderStatus
# The day's orders on the board, in this order: running first, then ready, then the rest.
RANK = {
    S.in_progress: 0,
    S.dispensed: 1,
    S.verified: 2,
    S.planned: 2,
    S.completed: 3,
    S.deferred: 4,
}


def _when(value: Any) -> dt.datetime | None:
    """A time from the session state (ISO text there) as an aware datetime."""
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _step_of_rate(steps: list[dict[str, Any]], rate: float) -> int | None:
    """The planned step (1-based) running at ``rate``; None if the rate is no planned step's."""
    for i, step in enumerate(steps, start=1):
        if math.isclose(float(step["rate_ml_per_h"]), rate, rel_tol=1e-6, abs_tol=0.05):
            return i
    return None


def _step_at_minute(steps: list[dict[str, Any]], minute: float) -> int | None:
    """The step (1-based) the plan has at ``minute`` since the start; None after the last."""
    for i, step in enumerate(steps, start=1):
        if float(step["start_min"]) <= minute < float(step["end_min"]):
            return i
    return None


def _running(order: Order, state: SessionView, now: dt.datetime) -> dict[str, Any]:
    """Who is on which step: the rate of the latest change against the plan's steps."""
    session = state.session or {}
    started = _when(session.get("started_at"))
    ended = _when(session.get("ended_at"))
    steps = list(order.steps)
    rates = session.get("rate_changes") or []
    running = [r for r in rates if float(r["rate_ml_per_h"]) > 0]  # pause and stop rows: 0 mL/h
    rate = float(running[-1]["rate_ml_per_h"]) if running else None
    rate_at = _when(rates[-1]["at"]) if rates else None
    minute = (now - started).total_seconds() / 60 if started else None
    on = _step_of_rate(steps, rate) if rate is not None else None
    planned = _step_at_minute(steps, minute) if minute is not None else None
    duration = float(steps[-1]["end_min"]) if steps else None
    observation = session.get("observation_minutes")
    observe_until = observation_close_at(ended, observation) if ended and observation else None
    checkpoints = state.checkpoints
    next_check = next((c for c in checkpoints if c.status == "upcoming"), None)
    tasks = [t for t in state.tasks if not t.acknowledged_at]
    pump = state.pump
    reacted = pump is not None and pump.reaction_at is not None
    return {
        "state": state.state,
        "restart_max": state.restart_max_ml_per_h,
        "open_tasks": len(tasks),
        "started": started,
        "ended": ended,
        "minute": int(minute) if minute is not None else None,
        "rate": rate,
        "rate_at": rate_at,
        "on_step": on,
        "on_step_rate": steps[on - 1]["rate_ml_per_h"] if on else None,
        "planned_step": planned,
        "planned_rate": steps[planned - 1]["rate_ml_per_h"] if planned else None,
        "steps": len(steps),
        # after a reaction the plan's steps no longer apply (issue 16 item 5): not "behind"
        "behind": not reacted and on is not None and planned is not None and on < planned,
        "past_plan": not reacted
        and minute is not None
        and duration is not None
        and minute >= duration,
        "pump": pump,
        "reacted": reacted,
        "duration": duration,
        "observe_until": observe_until,
        "due": sum(1 for c in checkpoints if c.status == "due"),
        "overdue": sum(1 for c in checkpoints if c.status == "overdue"),
        "next_check": next_check,
    }


def _row(order: Order, now: dt.datetime) -> dict[str, Any]:
    catalogue = current_catalogue()
    product = catalogue.products.get(order.course.product_id)
    row: dict[str, Any] = {
        "order": order,
        "product": product.display_name if product else order.course.product_id,
        "vials": order.vials,
        "running": None,
        "check": None,
    }
    if order.status in (S.in_progress, S.completed):
        state = infusions.session_state(order, now=now)
        if state.session is not None:
            row["running"] = _running(order, state, now)
    elif order.status == S.dispensed:
        session = getattr(order, "session", None)
        if session is not None and session.checked_at is not None:
            blocks = [f for f in session.check_findings if f.get("severity") == "block"]
            row["check"] = {
                "at": session.checked_at,
                "blocks": blocks,
                "override": bool(session.override_reason),
            }
    return row


def board(now: dt.datetime, day: dt.date) -> list[dict[str, Any]]:
    """The day's orders (and any infusion still running from an earlier day)."""
    query = (
        Order.objects.filter(Q(date=day, status__in=list(RANK)) | Q(status=S.in_progress))
        .select_related("patient", "course", "session")
        .order_by("patient__family_name", "patient__given_name", "sequence")
    )
    rows = [_row(o, now) for o in query]
    # what patients reported (issue 7): a serious diary entry not yet acknowledged, a
    # day-before check that calls for a review before starting
    alerts = patient_reports.patients_with_alerts([r["order"].patient_id for r in rows])
    for r in rows:
        r["diary_alert"] = r["order"].patient_id in alerts
        r["review"] = bool(patient_reports.checks_to_review(r["order"]))
    rows.sort(key=lambda r: RANK.get(r["order"].status, 9))
    return rows


@login_required
def chairs(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    day = timezone.localdate(now)
    rows = board(now, day)
    counts = {
        "running": sum(1 for r in rows if r["order"].status == S.in_progress),
        "ready": sum(1 for r in rows if r["order"].status == S.dispensed),
        "waiting": sum(1 for r in rows if r["order"].status in (S.planned, S.verified)),
        "completed": sum(1 for r in rows if r["order"].status == S.completed),
        "deferred": sum(1 for r in rows if r["order"].status == S.deferred),
        "overdue": sum(r["running"]["overdue"] for r in rows if r["running"]),
    }
    template = "web/chairs.html#board" if request.htmx else "web/chairs.html"  # type: ignore[attr-defined]
    return render(
        request,
        template,
        {
            "section": "chairs",
            "title": "Today's chairs",
            "rows": rows,
            "counts": counts,
            "now": now,
            "day": day,
        },
    )


urlpatterns: list[URLPattern] = [path("chairs/", chairs, name="chairs")]
