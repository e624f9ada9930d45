"""When and where an order is booked (issue 18), as plain data for every reader: the patient's
plan, the handout, the calendar file and the run sheet (``records.services.bookings.booked_slot``
reads it from the records; nothing else computes it).

The booking's length and its parts are the booking's own (``core.booking_length``: the unit's
set-up, then the pump, then the observation); the pump therefore starts after the set-up, at
:attr:`BookedSlot.pump_start`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["BookedSlot"]


@dataclass(frozen=True, slots=True)
class BookedSlot:
    """A live booking: the unit (name, kind), the chair or visiting nurse (name, kind:
    ``chair`` or ``nurse``), the start and end (aware, in the service's time zone) and the
    length's parts in minutes; ``version``: the booking's record version (it rises with every
    move); ``no_longer_fits``: a re-plan made it overlap the next booking or run past closing."""

    booking_id: int
    order_id: int
    unit: str
    unit_kind: str
    chair: str
    chair_kind: str
    start: dt.datetime
    length_minutes: int
    setup_minutes: int
    pump_minutes: int
    observation_minutes: int
    observation_reason: str
    version: int
    no_longer_fits: bool = False

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(minutes=self.length_minutes)

    @property
    def pump_start(self) -> dt.datetime:
        """When the drip is planned to start: after the unit's set-up."""
        return self.start + dt.timedelta(minutes=self.setup_minutes)

    @property
    def home_visit(self) -> bool:
        return self.chair_kind == "nurse"

    @property
    def seat(self) -> str:
        """The chair (``chair 4``; a name that says chair already, as it is) or the visiting
        nurse (by name)."""
        if self.home_visit or self.chair.casefold().startswith("chair"):
            return self.chair
        return f"chair {self.chair}"

    @property
    def location(self) -> str:
        """``Day Infusion Unit, chair 4``; ``Home team, Nurse Jones``."""
        return f"{self.unit}, {self.seat}"
