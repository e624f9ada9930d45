"""Charts drawn as SVG on the server (no script): outcome measures over time with the infusion
dates marked."""

from __future__ import annotations

import datetime as dt
from typing import Any

WIDTH, HEIGHT, PAD = 640, 220, 40
COLOURS = {"3tug": "#0b5cad", "qmg": "#a4000f", "mrc-sum": "#1d6b2a", "mg-adl": "#7a4a00"}


def outcome_chart(series: list[dict[str, Any]], infusions: list[dt.date]) -> dict[str, Any] | None:
    """Lines per measure, each scaled to its own range, and a tick per infusion date."""
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
                        "label": f"{measure} {p['value']:g} on {p['measured_on']}",
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
    }
