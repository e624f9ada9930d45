"""A changed weight is confirmed before it is used for dosing.

Rule (issue 14 item 8; safety-security-requirements.md item 52; Group Health Gammagard plan,
nursing orders: "notify the physician if it changes by 10% or more", ``limits.toml``
``[weight_change] confirm_percent``): a weight that differs from the last weight in use by
10 % or more, up or down, needs a prescriber's confirmation with a reason; until then the
dose is not planned on it. A weight is never dated before the date of birth or in the future.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ivig.core.sourced import Reader, Source, Sourced
from ivig.errors import InvalidInput

__all__ = [
    "WeightChange",
    "check_measured_on",
    "read_weight_rule",
    "weight_change",
]


@dataclass(frozen=True, slots=True)
class WeightChange:
    """A new weight against the last one in use: the signed change in percent, and whether it
    needs a prescriber's confirmation (the change is ``threshold`` percent or more)."""

    previous_kg: float
    weight_kg: float
    percent: float
    threshold: Sourced[float]

    @property
    def needs_confirmation(self) -> bool:
        # rounded to 9 places: 100 -> 110 kg is exactly the 10 % the rule names
        return round(abs(self.percent), 9) >= self.threshold.value

    def describe(self) -> str:
        """ "250 kg is +150 % from 100 kg" (the words of a finding or a refusal)."""
        return f"{self.weight_kg:g} kg is {self.percent:+.0f} % from {self.previous_kg:g} kg"


def weight_change(previous_kg: float, weight_kg: float, rule: Sourced[float]) -> WeightChange:
    """The change from ``previous_kg`` to ``weight_kg`` (both above 0), against ``rule``: the
    library's ``[weight_change] confirm_percent`` (:func:`read_weight_rule`)."""
    if not (previous_kg > 0 and weight_kg > 0):
        raise InvalidInput("weights must be above 0 kg", field="weight_kg")
    percent = (weight_kg - previous_kg) / previous_kg * 100
    return WeightChange(previous_kg, weight_kg, percent, rule)


def check_measured_on(measured_on: dt.date, *, born: dt.date, today: dt.date) -> None:
    """A weight is measured between the date of birth and today (both included)."""
    if measured_on > today:
        raise InvalidInput(
            f"a weight cannot be measured in the future ({measured_on.isoformat()} is after "
            f"today, {today.isoformat()})",
            field="measured_on",
        )
    if measured_on < born:
        raise InvalidInput(
            f"a weight cannot be measured before the date of birth ({measured_on.isoformat()} "
            f"is before {born.isoformat()})",
            field="measured_on",
        )


def read_weight_rule(data: Mapping[str, Any], sources: Mapping[str, Source]) -> Sourced[float]:
    """``[weight_change] confirm_percent`` of the parsed ``limits.toml``: a percentage above 0
    and below 100."""
    table = Reader(data.get("weight_change", {}), "limits.toml [weight_change]", sources)
    entry = table.required("confirm_percent")
    v = entry.value
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise table.fail("confirm_percent", "value must be a number")
    if not 0 < v < 100:
        raise table.fail("confirm_percent", "value must be above 0 and below 100")
    return Sourced(float(v), entry.source, entry.verified, entry.note)
