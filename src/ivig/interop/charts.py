"""Charts drawn as SVG on the server (no script): outcome measures over time with the infusion
dates marked; an infusion's pump rate over time, the planned steps against the recorded rows.

Each is drawn from plain data given to it (the templates ``web/partials/outcome_chart.html``
and ``rate_chart.html`` draw the result), for the pages and the PDFs alike."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.utils import timezone

__all__ = ["outcome_chart", "rate_chart"]

WIDTH, HEIGHT, PAD = 640, 220, 40
COLOURS = {"3tug": "#0b5cad", "qmg": "#a4000f", "mrc-sum": "#1d6b2a", "mg-adl": "#7a4a00"}


def outcome_chart(
    series: list[dict[str, Any]], infusions: list[dt.date], reported: Collection[int] = ()
) -> dict[str, Any] | None:
    """Lines per measure, each scaled to its own range (``series``: ``outcome_series``), and a
    tick per infusion date; the values whose ``id`` is in ``reported`` (the patient's own,
    issue 7 check-ins) get their own marker and label."""
    if not series:
        return None
    dates = [s["measured_on"] for s in series] + infusions
    first, last = min(dates), max(dates)
    span = max((last - first).days, 1)

    def x(day: dt.date) -> float:
        return float(PAD + (day - first).days / span * (WIDTH - 2 * PAD))

    lines = []
    for measure in sorted({s["measure"] for s in series}):
        points = [s for s in series if s["measure"] == measure]
        values = [p["value"] for p in points]
        low, high = min(values), max(values)
        spread = (high - low) or 1.0

        def y(v: float, low: float = low, spread: float = spread) -> float:
            return HEIGHT - PAD - (v - low) / spread * (HEIGHT - 2 * PAD)

        lines.append(
            {
                "measure": measure,
                "colour": COLOURS.get(measure, "#1a1a1a"),
                "points": " ".join(
                    f"{x(p['measured_on']):.1f},{y(p['value']):.1f}" for p in points
                ),
                "dots": [
                    {
                        "x": round(x(p["measured_on"]), 1),
                        "y": round(y(p["value"]), 1),
                        "label": f"{measure} {p['value']:g} on {p['measured_on']}"
                        + (" (patient-reported)" if p.get("id") in reported else ""),
                        "reported": p.get("id") in reported,
                    }
                    for p in points
                ],
            }
        )
    ticks = [{"x": round(x(d), 1), "date": d} for d in infusions]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "lines": lines,
        "ticks": ticks,
        "first": first,
        "last": last,
        "base": HEIGHT - PAD,
        "reported": any(s.get("id") in reported for s in series),
    }


# --- the infusion's rate over time -----------------------------------------------------------

RATE_WIDTH, RATE_HEIGHT = 720, 260
RATE_LEFT, RATE_RIGHT, RATE_TOP, RATE_BOTTOM = 64, 20, 16, 52
MINUTE_TICKS = (5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 240.0)
ACTION_WORDS = {
    "start": "start",
    "change": "rate change",
    "pause": "pause",
    "resume": "restart",
    "stop": "stop",
}


def _nice_step(span: float, ticks: int) -> float:
    """A round tick interval (1, 2, 2.5 or 5 times a power of ten) giving about ``ticks``."""
    raw = max(span / ticks, 1e-9)
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power  # pragma: no cover - the loop ends at 10


def _clock(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def rate_chart(
    steps: Sequence[Mapping[str, Any]],
    changes: Sequence[tuple[dt.datetime, float, str]],
    base: dt.datetime,
    *,
    provisional: bool = False,
    until: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """The infusion's rate over time: the planned steps (``order.steps``: ``start_min``,
    ``end_min``, ``rate_ml_per_h``) as a step line from ``base`` (the actual start, or a
    provisional one), against the recorded pump rows ``changes`` (time, mL/h, action; a pause
    or stop is a row at 0 mL/h), a step line with a point per row held until ``until`` (the
    end of the infusion, or now while it runs). The x axis in minutes from the start with the
    clock time, the y axis in mL/h; ``summary`` says it all in words."""
    if not steps and not changes:
        return None
    planned = [
        (float(s["start_min"]), float(s["end_min"]), float(s["rate_ml_per_h"])) for s in steps
    ]
    recorded = [
        ((at - base).total_seconds() / 60, float(rate), action) for at, rate, action in changes
    ]
    last_minute = max(
        [end for _, end, _ in planned]
        + [m for m, _, _ in recorded]
        + ([(until - base).total_seconds() / 60] if until is not None and recorded else [])
        + [1.0]
    )
    first_minute = min([0.0] + [m for m, _, _ in recorded])
    top_rate = max([r for _, _, r in planned] + [r for _, r, _ in recorded] + [1.0])
    y_step = _nice_step(top_rate, 5)
    y_max = math.ceil(top_rate * 1.05 / y_step) * y_step
    span = last_minute - first_minute
    x_step = next((m for m in MINUTE_TICKS if span / m <= 10), MINUTE_TICKS[-1])
    x_from = math.floor(first_minute / x_step) * x_step
    x_to = math.ceil(last_minute / x_step) * x_step
    plot_w = RATE_WIDTH - RATE_LEFT - RATE_RIGHT
    plot_h = RATE_HEIGHT - RATE_TOP - RATE_BOTTOM
    bottom = RATE_TOP + plot_h

    def x(minute: float) -> float:
        return round(RATE_LEFT + (minute - x_from) / (x_to - x_from) * plot_w, 1)

    def y(rate: float) -> float:
        return round(bottom - rate / y_max * plot_h, 1)

    plan_points: list[str] = []
    for begin, end, rate in planned:
        plan_points += [f"{x(begin)},{y(rate)}", f"{x(end)},{y(rate)}"]
    rec_points: list[str] = []
    dots: list[dict[str, Any]] = []
    end_minute = (until - base).total_seconds() / 60 if until is not None else None
    for i, (minute, rate, action) in enumerate(recorded):
        if rec_points:
            rec_points.append(f"{x(minute)},{rec_points[-1].split(',')[1]}")
        rec_points.append(f"{x(minute)},{y(rate)}")
        nxt = recorded[i + 1][0] if i + 1 < len(recorded) else end_minute
        if nxt is not None and nxt > minute:
            rec_points.append(f"{x(nxt)},{y(rate)}")
        at = base + dt.timedelta(minutes=minute)
        dots.append(
            {
                "x": x(minute),
                "y": y(rate),
                "rate": rate,
                "action": action,
                "at": at,
                "label": f"{_clock(at)} {ACTION_WORDS.get(action, action)}: {rate:g} mL/h",
            }
        )
    y_ticks = []
    value = 0.0
    while value <= y_max + 1e-9:
        y_ticks.append({"y": y(value), "label": f"{value:g}"})
        value += y_step
    x_ticks = []
    minute = x_from
    while minute <= x_to + 1e-9:
        moment = base + dt.timedelta(minutes=minute)
        x_ticks.append({"x": x(minute), "minute": f"{minute:g}", "clock": _clock(moment)})
        minute += x_step
    when = "provisional, from now" if provisional else "from the start"
    plan_words = "; ".join(
        f"{_clock(base + dt.timedelta(minutes=b))} {r:g} mL/h" for b, _, r in planned
    )
    summary = f"Planned steps ({when}): {plan_words or 'none'}"
    if planned:
        summary += f"; expected end {_clock(base + dt.timedelta(minutes=planned[-1][1]))}"
    summary += ". Recorded pump rows: "
    summary += "; ".join(d["label"] for d in dots) if dots else "none yet"
    summary += "."
    return {
        "width": RATE_WIDTH,
        "height": RATE_HEIGHT,
        "left": RATE_LEFT,
        "right": RATE_WIDTH - RATE_RIGHT,
        "top": RATE_TOP,
        "bottom": bottom,
        "mid_y": round(RATE_TOP + plot_h / 2, 1),
        "mid_x": round(RATE_LEFT + plot_w / 2, 1),
        "planned": " ".join(plan_points),
        "recorded": " ".join(rec_points),
        "dots": dots,
        "steps": len(planned),
        "x_ticks": x_ticks,
        "y_ticks": y_ticks,
        "provisional": provisional,
        "title": "The infusion's pump rate over time (mL/h): planned steps against the "
        "recorded rate changes",
        "summary": summary,
    }
