"""The run sheet's "now" bar (issue 16 item 13): in one line at the top of the screen, the
pump's rate and the step, the next action and its time, the vital signs due, and the alerts;
computed from what the sheet shows (:func:`ivig.records.services.runsheet.sheet.sheet`), so
the bar and the record below never disagree. After a reaction it follows the pump log
(``SessionView.pump``: item 5), not the plan."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from ivig.records.models import SessionState

__all__ = ["NowBar", "now_bar"]

S = SessionState


@dataclass(frozen=True, slots=True)
class NowBar:
    """What the bar says: the pump (``rate`` in mL/h, ``None`` when off or not started) and
    the step; the next action and its time; the vital signs due (``vitals_status``: overdue,
    due, upcoming or ""); the alerts, each a short sentence."""

    stage: str
    state: str
    rate: float | None = None
    step: str = ""
    action: str = ""
    action_at: dt.datetime | None = None
    vitals: str = ""
    vitals_status: str = ""
    vitals_at: dt.datetime | None = None
    alerts: tuple[str, ...] = field(default_factory=tuple)


def _hhmm(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _vitals(ctx: dict[str, Any]) -> tuple[str, str, dt.datetime | None]:
    """The first checkpoint overdue or due, else the next to come."""
    checks = ctx["checkpoints"]
    if ctx["stage"] not in ("running", "observation"):
        return "", "", None
    for status in ("overdue", "due"):
        found = [c for c in checks if c["status"] == status]
        if found:
            c = found[0]
            words = f"{status} since {_hhmm(c['due_at'])}" if status == "overdue" else "due now"
            return f"{words} ({c['reason']})", status, c["due_at"]
    upcoming = [c for c in checks if c["status"] == "upcoming"]
    if upcoming:
        c = upcoming[0]
        return f"next at {_hhmm(c['due_at'])} ({c['reason']})", "upcoming", c["due_at"]
    return "none to come", "", None


def _running(ctx: dict[str, Any]) -> tuple[str, dt.datetime | None]:
    """The next action of a started infusion still at the pump."""
    pump = ctx["pump"]
    state = ctx["state"]
    restart = ctx["restart"]
    if state == S.paused:
        limit = f" at no more than {restart['max']:g} mL/h" if restart else ""
        return (
            f"On hold since {_hhmm(pump.on_hold_since)}: restart{limit} once the symptoms have "
            "resolved, after vital signs",
            pump.on_hold_since,
        )
    if state == S.stopped:
        if restart:
            return f"Restart ordered: at no more than {restart['max']:g} mL/h", None
        return "Stopped for today: call the prescriber (no restart without a new order)", None
    if pump is not None and pump.reaction_at is not None and pump.expected_end is not None:
        return (
            f"Give the remaining {pump.remaining_ml:g} mL at {pump.rate_ml_per_h:g} mL/h "
            f"(the last tolerated rate); end expected at {_hhmm(pump.expected_end)}",
            pump.expected_end,
        )
    steps = ctx["steps"]
    nxt = steps["next"]
    if nxt is not None:
        return (
            f"Increase to {nxt['step'].rate_ml_per_h:g} mL/h at {_hhmm(nxt['begin'])}, after "
            "vital signs",
            nxt["begin"],
        )
    end = steps["expected_end"]
    if steps["overrun"]:
        return "The planned time is over: end the infusion when the volume is given", end
    return f"Last step: end when the volume is given (expected {_hhmm(end)})", end


def _action(ctx: dict[str, Any]) -> tuple[str, dt.datetime | None]:
    stage, session = ctx["stage"], ctx["session"]
    if stage == "waiting":
        return "Waiting for the pharmacy to dispense", None
    if stage == "withdrawn":
        return f"This order is {ctx['order'].status}", None
    if stage == "check":
        if session is None or session.checked_at is None:
            return "Do the pre-infusion check", None
        if not [v for v in ctx["vitals"] if not v["correction"]["struck"]]:
            return "Record the baseline vital signs, then start", None
        return "Start the infusion", None
    if stage == "running":
        return _running(ctx)
    if stage == "observation":
        until = ctx["observe_until"]
        return f"Observe until {_hhmm(until)}, then close the observation", until
    return "Completed", None


def _alerts(ctx: dict[str, Any]) -> tuple[str, ...]:
    out = []
    pump = ctx["pump"]
    if pump is not None and pump.reaction_at is not None:
        words = f"{pump.reaction_severity} reaction at {_hhmm(pump.reaction_at)}"
        if pump.restarted_at is not None and pump.restarted_ml_per_h is not None:
            words += (
                f"; restarted at {pump.restarted_ml_per_h:g} mL/h at {_hhmm(pump.restarted_at)}"
            )
        out.append(words[0].upper() + words[1:])
    overdue = sum(1 for c in ctx["checkpoints"] if c["status"] == "overdue")
    if overdue:
        out.append(f"{overdue} vital-sign checkpoint{'s' * (overdue > 1)} overdue")
    flagged = [v for v in ctx["vitals"] if v["flags"] and not v["correction"]["struck"]]
    if flagged and ctx["stage"] in ("check", "running", "observation"):
        last = flagged[-1]
        out.append(f"Abnormal vital signs at {_hhmm(last['vitals'].at)}")
    tasks = [t for t in ctx["all_tasks"] if t.acknowledged_at is None]
    if tasks:
        out.append(f"{len(tasks)} task{'s' * (len(tasks) > 1)} for the prescriber")
    if ctx["blocks"] and not ctx["overridden"] and ctx["stage"] == "check":
        out.append("A blocking finding: a prescriber must decide")
    printed = ctx["printed"]
    if printed and printed["superseded"]:
        out.append("Printed copy superseded")
    return tuple(out)


def now_bar(ctx: dict[str, Any]) -> NowBar:
    """The bar for the sheet ``ctx`` (``sheet.sheet``'s context)."""
    pump = ctx["pump"]
    running = ctx["stage"] == "running" and ctx["state"] == S.running
    rate = pump.rate_ml_per_h if running and pump is not None else None
    current = ctx["steps"]["current"]
    if pump is not None and pump.reaction_at is not None and running:
        step = "after the reaction: the planned increases are off"
    elif running and current is not None:
        step = f"planned step {current['number']} of {len(ctx['steps']['rows'])}"
    else:
        step = ""
    action, action_at = _action(ctx)
    vitals, status, vitals_at = _vitals(ctx)
    return NowBar(
        stage=ctx["stage"],
        state=ctx["state"],
        rate=rate,
        step=step,
        action=action,
        action_at=action_at,
        vitals=vitals,
        vitals_status=status,
        vitals_at=vitals_at,
        alerts=_alerts(ctx),
    )
