"""Rate and volume arithmetic (formulas-and-fhir.md section 1.7; products.md "Unit conversions").

mL/h      = mg/kg/min x kg x 60 / concentration (mg/mL)
mg/kg/min = mL/kg/min x mg/mL = mL/kg/h x mg/mL / 60 (a label's rate in its own unit)
mL        = g x 1000 / concentration (mg/mL)

The one home of these conversions and of the way a number is printed (``plain_number``).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from ivig.errors import InvalidInput

__all__ = [
    "MG_PER_KG_MIN",
    "RATE_UNITS",
    "floor_to",
    "from_mg_per_kg_min",
    "grams_to_ml",
    "mg_per_kg_min_to_ml_per_h",
    "ml_per_h_to_mg_per_kg_min",
    "plain_number",
    "rate_to_ml_per_h",
    "round_half_up",
    "to_mg_per_kg_min",
]

MG_PER_KG_MIN = "mg/kg/min"
RATE_UNITS = (MG_PER_KG_MIN, "mL/kg/min", "mL/kg/h")
"""The units a label writes an infusion rate in (products.md, "Unit conversions")."""

# Tolerance for float noise before rounding down: 0.3 mL/kg/h is 0.5 mg/kg/min, which floats
# hold as 0.49999...; without it, 25.5 mL/h would round down to 25.4.
_EPSILON = 1e-9


def round_half_up(value: float, places: int = 1) -> float:
    """Round as people do on paper (2.25 -> 2.3), not to even."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def floor_to(value: float, step: float = 0.1) -> float:
    """Round down to a multiple of ``step`` (a pump rate is never rounded up)."""
    units = math.floor(value / step + _EPSILON)
    return round(units * step, 10)


def mg_per_kg_min_to_ml_per_h(
    mg_per_kg_min: float, weight_kg: float, concentration_mg_per_ml: float
) -> float:
    """Pump rate in mL/h, unrounded: mg/kg/min x kg x 60 / (mg/mL)."""
    return mg_per_kg_min * weight_kg * 60.0 / concentration_mg_per_ml


def ml_per_h_to_mg_per_kg_min(
    ml_per_h: float, weight_kg: float, concentration_mg_per_ml: float
) -> float:
    """The inverse: the mg/kg/min a pump rate delivers."""
    return ml_per_h * concentration_mg_per_ml / (weight_kg * 60.0)


def to_mg_per_kg_min(value: float, unit: str, concentration_mg_per_ml: float) -> float:
    """A rate in a label's ``unit`` (``RATE_UNITS``), in mg/kg/min: mL/kg/min x mg/mL, or
    mL/kg/h x mg/mL / 60."""
    if unit == "mL/kg/min":
        return value * concentration_mg_per_ml
    if unit == "mL/kg/h":
        return value * concentration_mg_per_ml / 60.0
    if unit == MG_PER_KG_MIN:
        return value
    raise InvalidInput(f"unknown rate unit {unit!r}: one of {', '.join(RATE_UNITS)}", field="unit")


def from_mg_per_kg_min(mg_per_kg_min: float, unit: str, concentration_mg_per_ml: float) -> float:
    """The inverse: a rate in mg/kg/min in a label's ``unit``."""
    if unit == "mL/kg/min":
        return mg_per_kg_min / concentration_mg_per_ml
    if unit == "mL/kg/h":
        return mg_per_kg_min * 60 / concentration_mg_per_ml
    if unit == MG_PER_KG_MIN:
        return mg_per_kg_min
    raise InvalidInput(f"unknown rate unit {unit!r}: one of {', '.join(RATE_UNITS)}", field="unit")


def rate_to_ml_per_h(
    value: float, unit: str, weight_kg: float, concentration_mg_per_ml: float
) -> float:
    """A rate in a label's ``unit`` as a pump rate in mL/h, unrounded."""
    mg_per_kg_min = to_mg_per_kg_min(value, unit, concentration_mg_per_ml)
    return mg_per_kg_min_to_ml_per_h(mg_per_kg_min, weight_kg, concentration_mg_per_ml)


def grams_to_ml(grams: float, concentration_mg_per_ml: float) -> float:
    """Volume of a dose: g x 1000 / (mg/mL)."""
    return grams * 1000.0 / concentration_mg_per_ml


def plain_number(value: float, places: int = 1) -> str:
    """A dose, volume or rate to ``places`` decimals without trailing zeros, as the run sheet,
    the pages and the ``ivig`` command print them (never '1.0', which reads as 10; ISMP's list
    of error-prone abbreviations): 85, 42.5, 0.5."""
    text = f"{value:.{places}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text
