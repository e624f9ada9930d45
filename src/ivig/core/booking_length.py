"""How long a chair is taken by one infusion (issue 18): the unit's set-up time, the planned
pump time from the order's rate steps, and the observation this infusion needs.

Sources: the pump time is the sum of the order's step durations (``core.rates.rate_steps``:
each step runs from ``start_min`` to ``end_min``), rounded up to the whole minute; the
observation is :func:`ivig.core.monitoring.observation_minutes` (20 minutes after every
infusion, SmPC; 60 after a first infusion, a product switch or a long gap, core SmPC and
item 63), never a second copy of the rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ivig.core.monitoring import MonitoringProtocol, ObservationPeriod, observation_minutes
from ivig.errors import InvalidInput

__all__ = ["MAX_SETUP_MINUTES", "BookingLength", "booking_length", "pump_minutes"]

MAX_SETUP_MINUTES = 240


@dataclass(frozen=True, slots=True)
class BookingLength:
    """The parts of a booking's length, in whole minutes, and why the observation is so long."""

    setup_minutes: int
    pump_minutes: int
    observation: ObservationPeriod

    @property
    def observation_minutes(self) -> int:
        return self.observation.minutes

    @property
    def minutes(self) -> int:
        return self.setup_minutes + self.pump_minutes + self.observation.minutes


def pump_minutes(steps: Iterable[Mapping[str, Any]]) -> int:
    """The planned pump time: the sum of the steps' durations (``end_min - start_min``),
    rounded up to the whole minute (a chair is booked in whole minutes)."""
    total = 0.0
    count = 0
    for step in steps:
        try:
            start, end = float(step["start_min"]), float(step["end_min"])
        except (KeyError, TypeError, ValueError):
            raise InvalidInput("a rate step has no start and end minute", field="steps") from None
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise InvalidInput("a rate step ends before it starts", field="steps")
        total += end - start
        count += 1
    if count == 0:
        raise InvalidInput("the order has no rate steps", field="steps")
    return math.ceil(round(total, 6))


def booking_length(
    *,
    setup_minutes: int,
    steps: Iterable[Mapping[str, Any]],
    first_infusion: bool,
    product_switch: bool,
    gap_days: int | None,
    protocol: MonitoringProtocol,
) -> BookingLength:
    """Set-up (the unit's setting) + the pump time of ``steps`` + the observation the core's
    rule gives for this infusion (first, switch, gap since the last infusion)."""
    if isinstance(setup_minutes, bool) or not 0 <= setup_minutes <= MAX_SETUP_MINUTES:
        raise InvalidInput(
            f"the set-up time is 0 to {MAX_SETUP_MINUTES} minutes", field="setup_minutes"
        )
    return BookingLength(
        setup_minutes=setup_minutes,
        pump_minutes=pump_minutes(steps),
        observation=observation_minutes(
            first_infusion=first_infusion,
            product_switch=product_switch,
            gap_days=gap_days,
            protocol=protocol,
        ),
    )
