"""What the pump has given, from its log, and what is left (issue 16 items 4 and 5).

volume (mL) = rate (mL/h) x time (h), summed over the pump's rows (each rate held until the
next row; a pause or stop is a row at 0 mL/h); grams = mL x concentration (mg/mL) / 1000
(formulas-and-fhir.md section 1.7, the inverse of ``units.grams_to_ml``). Worked example: a
10 % product (100 mg/mL) at 25.5 mL/h for 30 minutes, then 51 mL/h for 1 minute, has given
12.75 + 0.85 = 13.6 mL, that is 1.36 g.

After a restart capped at the last tolerated rate, the rest of the dose runs at that rate: it
ends ``remaining / rate`` after the restart, and its vital-sign checkpoints are the protocol's
for a rate that no longer increases (``monitoring.vitals_schedule`` of one step: at the
restart, 15 minutes after it, hourly, at the end and at the end of the observation).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ivig.core.monitoring import (
    MAX_INFUSION_MINUTES,
    CheckReason,
    MonitoringProtocol,
    VitalsCheck,
    vitals_schedule,
)
from ivig.core.rates import RateStep
from ivig.errors import InvalidInput

__all__ = [
    "SHORT_SHARE",
    "grams_counted",
    "grams_given",
    "is_short",
    "minutes_to_give",
    "schedule_after_restart",
    "volume_infused",
]

SHORT_SHARE = 0.9
"""A stop below this share of the dose's volume is "well short" of the dose: the end needs a
ticked confirmation and a reason (issue 16 item 4: "11 of 250 mL given")."""


def volume_infused(log: Sequence[tuple[dt.datetime, float]], until: dt.datetime) -> float:
    """The volume (mL) the pump gave up to ``until``: each row's rate (mL/h) held until the
    next row (or ``until``); rows at or after ``until`` give nothing. Never negative."""
    rows = sorted(log, key=lambda row: row[0])
    total = 0.0
    for i, (at, rate) in enumerate(rows):
        if at >= until:
            break
        if rate < 0:
            raise InvalidInput(f"a pump rate cannot be negative (got {rate:g} mL/h)")
        stop = rows[i + 1][0] if i + 1 < len(rows) else until
        stop = min(stop, until)
        total += rate * max((stop - at).total_seconds(), 0.0) / 3600.0
    return total


def grams_given(volume_ml: float, concentration_mg_per_ml: float) -> float:
    """Grams in a volume: mL x mg/mL / 1000 (25 mL of a 10 % product: 2.5 g)."""
    if volume_ml < 0:
        raise InvalidInput(f"a volume given cannot be negative (got {volume_ml:g} mL)")
    if not concentration_mg_per_ml > 0:
        raise InvalidInput("the concentration must be above 0 mg/mL")
    return volume_ml * concentration_mg_per_ml / 1000.0


def grams_counted(given_g: float | None, dose_g: float) -> float:
    """The grams an infusion counts toward the rolling cap and the usage report: those given
    when the end recorded them, else the dose planned (issue 16 item 4: the 28-day cap counts
    what was given when it is recorded, else the planned dose). A dose stopped at 11 of 250 mL
    counts what went in, not what was planned."""
    return dose_g if given_g is None else given_g


def is_short(volume_ml: float, dose_volume_ml: float) -> bool:
    """Whether a stop at ``volume_ml`` is well short of the dose (below ``SHORT_SHARE``)."""
    return volume_ml < SHORT_SHARE * dose_volume_ml - 1e-9


def minutes_to_give(remaining_ml: float, rate_ml_per_h: float) -> float:
    """Minutes to give ``remaining_ml`` at ``rate_ml_per_h`` (125 mL at 20.5 mL/h: 365.9)."""
    if not rate_ml_per_h > 0:
        raise InvalidInput("the rate must be above 0 mL/h to give what remains")
    return max(remaining_ml, 0.0) / rate_ml_per_h * 60.0


def schedule_after_restart(
    planned: Sequence[VitalsCheck],
    *,
    held_from_minute: float,
    restart_minute: float,
    rate_ml_per_h: float,
    minutes: float,
    observation_minutes: float,
    protocol: MonitoringProtocol,
) -> list[VitalsCheck]:
    """The checkpoints of an infusion held after a reaction at ``held_from_minute`` and
    restarted at ``restart_minute`` (minutes after the start) at a rate it keeps for
    ``minutes``: the planned ones before the hold, then the protocol's for one step at that
    rate (no "before rate increase"), the first of them at the restart."""
    if restart_minute < held_from_minute:
        raise InvalidInput("the restart comes after the reaction that held the infusion")
    # at least a minute; never past the longest infusion the schedule draws (a very slow rate)
    length = min(max(minutes, 1.0), max(MAX_INFUSION_MINUTES - restart_minute, 1.0))
    step = RateStep(0.0, length, rate_ml_per_h, 0.0, 0.0, "restart")
    after = vitals_schedule((step,), observation_minutes=observation_minutes, protocol=protocol)
    moved = [
        VitalsCheck(
            round(restart_minute + c.minute, 1),
            c.reason,
            f"restart at {rate_ml_per_h:g} mL/h after the reaction"
            if c.reason is CheckReason.baseline
            else "",
        )
        for c in after
    ]
    before = [c for c in planned if c.minute < held_from_minute - 1e-9]
    return [*before, *moved]
