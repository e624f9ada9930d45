"""Charts drawn as SVG on the server (no script): outcome measures over time with the infusion
dates marked, a panel per measure with its unit and direction of improvement; an infusion's
pump rate over time, the planned steps against the recorded rows; the grams of IVIG given each
month (the usage report, issue 18).

Each is drawn from plain data given to it (the templates ``web/partials/outcome_chart.html``
and ``rate_chart.html`` draw the result), for the pages and the PDFs alike."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from django.utils import timezone

from ivig.core.outcomes import OutcomeMeasure

__all__ = ["outcome_chart", "rate_chart", "usage_chart"]

WIDTH = 640
LEFT, RIGHT, PANEL_H, PANEL_GAP, TOP, BOTTOM, KEY_ROW = 64, 24, 120, 48, 36, 36, 20
COLOURS = {"3tug": "#0b5cad", "qmg": "#a4000f", "mrc-sum": "#1d6b2a", "mg-adl": "#7a4a00"}
INSET = 8
DAY_STEPS = (7, 14, 28, 56, 91, 182, 365, 730)  # between the dates on the time axis
UNIT_WORDS = {"s": "seconds"}  # a unit of outcomes.toml, spelled out in a heading
BETTER_WORDS = {"lower": "lower is better", "higher": "higher is better"}
BETTER_ARROWS = {"lower": "\u2193", "higher": "\u2191"}  # down, up


def _measure_words(measure: str, measures: Mapping[str, OutcomeMeasure]) -> dict[str, str]:
    """The measure's name, unit and direction of improvement in words (``outcomes.toml``)."""
    found = measures.get(measure)
    if found is None:  # a measure the library no longer has: its code, no direction
        return {"name": measure, "unit": "", "better": "", "better_words": ""}
    name = found.name[:1].upper() + found.name[1:]
    return {
        "name": name,
        "unit": found.unit,
        "better": found.better,
        "better_words": BETTER_WORDS.get(found.better, ""),
    }


def _y_scale(values: Sequence[float], floor: float | None, ceiling: float | None) -> list[float]:
    """Round tick values spanning ``values`` (about 4), kept within the measure's range."""
    low, high = min(values), max(values)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    step = _nice_step(high - low, 4)
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    if floor is not None and start < floor:
        start = floor
    if ceiling is not None and stop > ceiling:
        stop = ceiling
    ticks = []
    value = start
    while value <= stop + 1e-9:
        ticks.append(round(value, 6))
        value += step
    if ticks[-1] < high - 1e-9:
        ticks.append(round(ticks[-1] + step, 6))
    return ticks


def outcome_chart(
    series: list[dict[str, Any]],
    infusions: list[dt.date],
    reported: Collection[int] = (),
    measures: Mapping[str, OutcomeMeasure] | None = None,
) -> dict[str, Any] | None:
    """One panel per measure, one above the other on a shared time axis (issue 16, item 20):
    every measure drawn, each on its own y axis in its unit, named in words and with its
    direction of improvement (``measures``: the library's ``outcomes.toml``, its ``name``,
    ``unit`` and ``better``), a key, and a dashed mark per infusion date. ``series``:
    ``outcome_series``; the values whose ``id`` is in ``reported`` (the patient's own, issue 7
    check-ins) get their own marker. ``summary`` and ``table`` say the same in words, for a
    screen reader and for anyone who prefers numbers."""
    if not series:
        return None
    measures = measures or {}
    dates: list[dt.date] = [s["measured_on"] for s in series] + list(infusions)
    first, last = min(dates), max(dates)
    span = max((last - first).days, 1)
    right = WIDTH - RIGHT

    def x(day: dt.date) -> float:  # an inset, so that a first or last point is whole
        return round(LEFT + INSET + (day - first).days / span * (right - LEFT - 2 * INSET), 1)

    order = [m for m in measures if any(s["measure"] == m for s in series)]
    order += sorted({s["measure"] for s in series} - set(order))
    panels: list[dict[str, Any]] = []
    for i, measure in enumerate(order):
        words = _measure_words(measure, measures)
        found = measures.get(measure)
        points = [s for s in series if s["measure"] == measure]
        ticks = _y_scale(
            [float(p["value"]) for p in points],
            found.low if found else None,
            found.high if found else None,
        )
        top = TOP + i * (PANEL_H + PANEL_GAP)
        bottom = top + PANEL_H
        low, high = ticks[0], ticks[-1]

        def y(v: float, low: float = low, high: float = high, bottom: float = bottom) -> float:
            inner = PANEL_H - 2 * INSET
            return round(bottom - INSET - (v - low) / ((high - low) or 1.0) * inner, 1)

        unit = f" {words['unit']}" if words["unit"] else ""
        dots = [
            {
                "x": x(p["measured_on"]),
                "y": y(float(p["value"])),
                "label": f"{words['name']}: {p['value']:g}{unit} on {p['measured_on']:%Y-%m-%d}"
                + (" (patient-reported)" if p.get("id") in reported else ""),
                "reported": p.get("id") in reported,
            }
            for p in points
        ]
        unit_words = UNIT_WORDS.get(words["unit"], words["unit"])
        heading = words["name"] + (f", in {unit_words}" if unit_words else "")
        panels.append(
            {
                "measure": measure,
                **words,
                "heading": heading,
                "arrow": BETTER_ARROWS.get(words["better"], ""),
                "colour": COLOURS.get(measure, "#1a1a1a"),
                "top": top,
                "bottom": bottom,
                "title_y": top - 10,
                "points": " ".join(f"{d['x']},{d['y']}" for d in dots),
                "dots": dots,
                "y_ticks": [{"y": y(t), "label": f"{t:g}"} for t in ticks],
                "axis": f"M{LEFT},{top} V{bottom} H{right}",
                "grid": " ".join(f"M{LEFT},{y(t)} H{right}" for t in ticks),
                "infusions": " ".join(f"M{x(d)},{top} V{bottom}" for d in infusions),
                "summary": f"{heading}, {words['better_words'] or 'no direction given'}: "
                + ", ".join(f"{p['value']:g} on {p['measured_on']:%Y-%m-%d}" for p in points),
            }
        )
    axis_y = TOP + len(panels) * (PANEL_H + PANEL_GAP) - PANEL_GAP
    key = [
        {"kind": "measure", "colour": p["colour"],
         "text": f"{p['heading']}: {p['arrow']} {p['better_words']}".rstrip(": ")}
        for p in panels
    ]  # fmt: skip
    if infusions:
        key.append(
            {"kind": "infusion", "colour": "#8a8a8a", "text": "dashed line: an infusion given"}
        )
    if any(s.get("id") in reported for s in series):
        key.append(
            {
                "kind": "reported",
                "colour": "#1a1a1a",
                "text": "open circle: reported by the patient",
            }
        )
    key_top = axis_y + BOTTOM
    for n, item in enumerate(key):
        item["y"] = key_top + n * KEY_ROW
        item["mid"] = item["y"] - 4
    height = key_top + len(key) * KEY_ROW
    x_ticks = [{"x": x(first), "date": first, "anchor": "start"}]
    step = next((d for d in DAY_STEPS if span / d <= 5), DAY_STEPS[-1])
    for n in range(1, span // step + 1):
        day = first + dt.timedelta(days=n * step)
        if (last - day).days >= step / 2:
            x_ticks.append({"x": x(day), "date": day, "anchor": "middle"})
    if last != first:
        x_ticks.append({"x": x(last), "date": last, "anchor": "end"})
    by_date: dict[dt.date, dict[str, str]] = {}
    for s in series:
        mark = " (patient-reported)" if s.get("id") in reported else ""
        cell = by_date.setdefault(s["measured_on"], {}).get(s["measure"])
        text = f"{s['value']:g}{mark}"
        by_date[s["measured_on"]][s["measure"]] = f"{cell}; {text}" if cell else text
    given = sorted(set(infusions))
    summary = "; ".join(p["summary"] for p in panels) + (
        f". Infusions given: {', '.join(f'{d:%Y-%m-%d}' for d in given)}." if given else "."
    )
    return {
        "width": WIDTH,
        "height": height,
        "left": LEFT,
        "right": right,
        "axis_y": axis_y,
        "date_y": axis_y + 18,
        "panels": panels,
        "key": key,
        "key_x": LEFT + 28,
        "ticks": [{"x": x(d), "date": d} for d in infusions],
        "x_ticks": x_ticks,
        "first": first,
        "last": last,
        "reported": any(s.get("id") in reported for s in series),
        "infusions": bool(infusions),
        "title": "Outcome measures over time, one panel per measure; dashed lines mark infusions",
        "summary": summary,
        "table": {
            "columns": panels,
            "rows": [
                {"date": day, "cells": [by_date[day].get(p["measure"], "") for p in panels]}
                for day in sorted(by_date)
            ],
        },
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


def _frame(width: int, height: int, left: int, right: int, top: int, bottom: int) -> dict[str, Any]:
    """A chart's box and its plot's edges (``right`` and ``bottom`` margins given, edges
    returned), with the plot's middle for the axis names."""
    plot_w, plot_h = width - left - right, height - top - bottom
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": top + plot_h,
        "mid_y": round(top + plot_h / 2, 1),
        "mid_x": round(left + plot_w / 2, 1),
    }


def _axis_from_zero(
    highest: float, frame: Mapping[str, Any]
) -> tuple[Callable[[float], float], list[dict[str, Any]]]:
    """A y axis from 0 to a round value above ``highest`` (5 % headroom, about 5 ticks) on the
    plot of ``frame``: the y of a value, and the ticks (``y``, ``label``)."""
    step = _nice_step(highest, 5)
    y_max = math.ceil(highest * 1.05 / step) * step
    top, bottom = float(frame["top"]), float(frame["bottom"])

    def y(value: float) -> float:
        return round(bottom - value / y_max * (bottom - top), 1)

    ticks = []
    value = 0.0
    while value <= y_max + 1e-9:
        ticks.append({"y": y(value), "label": f"{value:g}"})
        value += step
    return y, ticks


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
    span = last_minute - first_minute
    x_step = next((m for m in MINUTE_TICKS if span / m <= 10), MINUTE_TICKS[-1])
    x_from = math.floor(first_minute / x_step) * x_step
    x_to = math.ceil(last_minute / x_step) * x_step
    frame = _frame(RATE_WIDTH, RATE_HEIGHT, RATE_LEFT, RATE_RIGHT, RATE_TOP, RATE_BOTTOM)
    plot_w = RATE_WIDTH - RATE_LEFT - RATE_RIGHT
    y, y_ticks = _axis_from_zero(top_rate, frame)

    def x(minute: float) -> float:
        return round(RATE_LEFT + (minute - x_from) / (x_to - x_from) * plot_w, 1)

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
        **frame,
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


# --- grams given by month (the usage report) --------------------------------------------------

USAGE_WIDTH, USAGE_HEIGHT = 720, 260
USAGE_LEFT, USAGE_RIGHT, USAGE_TOP, USAGE_BOTTOM = 64, 20, 16, 52


def usage_chart(months: Sequence[tuple[str, float, int]]) -> dict[str, Any] | None:
    """A bar per month of the grams given (``months``: label ``2026-11``, grams, infusions),
    on a y axis in grams from 0; ``summary`` says every bar in words (the page's table is the
    full text alternative). ``None`` with no month."""
    if not months:
        return None
    frame = _frame(USAGE_WIDTH, USAGE_HEIGHT, USAGE_LEFT, USAGE_RIGHT, USAGE_TOP, USAGE_BOTTOM)
    bottom = frame["bottom"]
    y, y_ticks = _axis_from_zero(max([g for _, g, _ in months] + [1.0]), frame)
    slot = (frame["right"] - frame["left"]) / len(months)
    width = round(slot * 0.7, 1)

    bars: list[dict[str, Any]] = []
    for i, (label, grams, infusions) in enumerate(months):
        left = USAGE_LEFT + i * slot + (slot - width) / 2
        bars.append(
            {
                "x": round(left, 1),
                "y": y(grams),
                "width": width,
                "height": round(bottom - y(grams), 1),
                "mid": round(left + width / 2, 1),
                "month": label,
                "label": f"{label}: {grams:g} g in {infusions} infusion(s)",
            }
        )
    every = max(1, math.ceil(len(months) / 12))  # at most 12 month labels
    return {
        **frame,
        "bars": bars,
        "x_labels": [b for i, b in enumerate(bars) if i % every == 0],
        "y_ticks": y_ticks,
        "title": "Grams of IVIG given each month",
        "summary": "Grams given by month: " + "; ".join(str(b["label"]) for b in bars) + ".",
    }
