"""Infusion rate steps for one dose: the ramp from the label's initial rate to its maximum.

Rules (issue 2; products.md; clinical-rules.md section 7):
- The label schedule gives the initial rate, the step interval, the step rates and the maximum.
  Where the label says only "increase gradually", the service protocol doubles the rate every
  30 minutes up to the maximum, and the step says ``protocol``.
- For patients at renal or thrombotic risk the maximum is the product's at-risk cap, or the
  service default (3.3 mg/kg/min, protocol) where the label gives no number. A cap not verified
  against its source says so in the step's basis ("UNVERIFIED"). Where the source says "less
  than" (``at_risk_max_exclusive``: Bivigam "less than 2 mg/kg/min", Skyscape monograph;
  Gammagard Liquid "less than 3.3 mg/kg/min"; Octagam 5% "less than 0.07 mL/kg/min
  [3.3 mg/kg/min]"), the pump rate stays below the cap: one 0.1 mL/h step under it when the
  cap itself is a whole number of 0.1 mL/h (issue 14, item 12).
- The ramp starts at the label's initial rate; at the later-infusion rate only when the caller
  says the patient may (:func:`rate_ramp`, ``lowest_start``; issue 14, item 6).
- Pump rate: mL/h = mg/kg/min x kg x 60 / concentration, rounded down to 0.1 mL/h.
- The last step runs until the dose volume is given; step volumes sum to the dose volume.
- A prescriber's ceiling (:class:`RateCeiling`: the cap after a reaction, at or below the last
  tolerated rate: "finish at the last tolerated rate", NHS Borders IVIG guideline, item 62) is
  a ramp input in mL/h: the maximum is the lower of the label's (or at-risk) maximum and the
  ceiling, and the first step that would reach it runs at the ceiling until the dose is given,
  its basis the ceiling's words (issue 16's closing note; never a display clamp of a plan).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ivig.core.catalogue import Product, Protocol, RateSchedule, Sourced
from ivig.core.checks import number, number_in_range, whole_in_range
from ivig.core.units import floor_to, mg_per_kg_min_to_ml_per_h, ml_per_h_to_mg_per_kg_min
from ivig.core.weights import WEIGHT_RANGE_KG
from ivig.errors import InvalidInput

__all__ = [
    "RampStep",
    "RateCeiling",
    "RateStep",
    "clock_times",
    "rate_ramp",
    "rate_steps",
    "weight_and_concentration",
]

_TOLERANCE = 1e-9
_VOLUME_PLACES = 2  # mL; every step but the last is rounded to this, the last takes the rest
# Plausible inputs (beyond them a value is refused as a typing error, and the work stays bounded)
MAX_DOSE_ML = 100_000.0
CONCENTRATION_RANGE = (1.0, 1000.0)  # mg/mL
MAX_RAMP_MG_PER_KG_MIN = 1000.0
MAX_RAMP_STEPS = 100
MAX_STEP_MINUTES = 24 * 60
CEILING_RANGE_ML_PER_H = (0.1, 10_000.0)


def weight_and_concentration(
    weight_kg: float, concentration_mg_per_ml: float
) -> tuple[float, float]:
    """The dosing weight and the product's concentration that turn mg/kg/min into mL/h, checked
    (finite, within the ranges the core works in) before any rate is computed from them."""
    weight = number_in_range(
        weight_kg, WEIGHT_RANGE_KG, field="weight_kg", unit="kg", what="dosing weight"
    )
    concentration = number_in_range(
        concentration_mg_per_ml, CONCENTRATION_RANGE, field="product", unit="mg/mL",
        what="concentration",
    )  # fmt: skip
    return weight, concentration


@dataclass(frozen=True, slots=True)
class RampStep:
    """One nominal step of the ramp, before it is turned into pump rates for a patient."""

    mg_per_kg_per_min: float
    minutes: int | None  # None: the last step, which runs until the volume is given
    # "label", "protocol", "at-risk cap (label)", "at-risk cap (UNVERIFIED)",
    # "at-risk cap (protocol)"; ", stays below" after "cap" where the source says "less than"
    basis: str
    below: bool = False  # the pump rate must stay below this rate, not reach it


@dataclass(frozen=True, slots=True)
class RateCeiling:
    """A prescriber's highest pump rate for a patient's later infusions (the cap after a
    reaction), with its basis in words and the source it stands on.

    ``after``: it holds for the doses after this date (the reaction's day); ``None``: every dose.
    """

    max_ml_per_h: float
    basis: str  # "prescriber's cap after the reaction of 2026-12-08: 51 mL/h"
    source: str  # the decision and the rule it follows, cited
    after: dt.date | None = None

    def holds_on(self, day: dt.date) -> bool:
        """Whether the ceiling holds for a dose on ``day``."""
        return self.after is None or day > self.after


@dataclass(frozen=True, slots=True)
class RateStep:
    """One step on the pump: from ``start_min`` to ``end_min`` at ``rate_ml_per_h``."""

    start_min: float
    end_min: float
    rate_ml_per_h: float
    rate_mg_per_kg_per_min: float
    volume_ml: float
    basis: str


def _label_rates(schedule: RateSchedule) -> list[float]:
    """The schedule's rates in its own unit, initial first, ending at the maximum."""
    top = schedule.maximum
    if schedule.steps is not None:
        rates = [schedule.initial, *schedule.steps]
        if rates[-1] < top - _TOLERANCE:
            rates.append(top)
        return rates
    rates = [schedule.initial]
    while rates[-1] < top - _TOLERANCE:
        if schedule.increment is not None:
            nxt = round(rates[-1] + schedule.increment, 10)
        else:
            nxt = rates[-1] * 2.0
        rates.append(min(nxt, top))
    return rates


def rate_ramp(
    schedule: RateSchedule,
    product: Product,
    protocol: Protocol,
    *,
    at_risk: bool,
    lowest_start: bool,
) -> tuple[list[RampStep], float, Sourced[float] | None, tuple[str, ...]]:
    """The nominal ramp in mg/kg/min, its maximum, the at-risk cap used, and protocol parts.

    ``lowest_start``: start at the label's initial rate even where the schedule lets later
    infusions start higher (a first infusion, a product switch, a long gap, an unknown or
    untolerated last infusion). Returns ``(steps, maximum, at_risk_source, protocol_parts)``.
    """
    concentration = product.concentration
    protocol_parts: list[str] = []
    label_max = schedule.mg_per_kg_per_min(schedule.maximum, concentration)
    maximum, cap_source, cap_basis, below = label_max, None, "", False
    if at_risk:
        if product.at_risk_max_mg_per_kg_min is not None:
            cap_source = product.at_risk_max_mg_per_kg_min
            below = product.at_risk_max_exclusive
            origin = "label" if cap_source.verified else "UNVERIFIED"
            cap_basis = f"at-risk cap{', stays below' if below else ''} ({origin})"
        else:
            cap_source, cap_basis = protocol.at_risk_max_mg_per_kg_min, "at-risk cap (protocol)"
            protocol_parts.append(
                f"at-risk maximum {cap_source.value:g} mg/kg/min (the label gives no number)"
            )
        if cap_source.value < label_max - _TOLERANCE or (
            below and cap_source.value <= label_max + _TOLERANCE
        ):
            maximum = cap_source.value
        else:
            cap_source, cap_basis, below = None, "", False

    if schedule.increase_from_label:
        increase_basis = "label"
    else:
        increase_basis = "protocol"
        protocol_parts.append("double the rate at each step up to the maximum")
    if schedule.initial_minutes is not None:
        first_minutes = schedule.initial_minutes
    else:
        first_minutes = protocol.initial_minutes.value
        protocol_parts.append(f"initial rate for {first_minutes} minutes")
    if schedule.step_minutes is not None:
        step_minutes = schedule.step_minutes
    else:
        step_minutes = protocol.step_minutes.value
        protocol_parts.append(f"a step every {step_minutes} minutes")

    rates = _label_rates(schedule)
    if not lowest_start and schedule.subsequent_initial is not None:
        start = schedule.subsequent_initial
        rates = [start] + [r for r in rates if r > start + _TOLERANCE]

    ramp: list[RampStep] = []
    for i, rate in enumerate(rates):
        mg = schedule.mg_per_kg_per_min(rate, concentration)
        basis = "label" if i == 0 else increase_basis
        if mg >= maximum - _TOLERANCE:
            capped = below or mg > maximum + _TOLERANCE
            if capped:
                mg, basis = maximum, cap_basis or basis
            ramp.append(RampStep(mg, None, basis, below=below))
            break
        ramp.append(RampStep(mg, first_minutes if i == 0 else step_minutes, basis))
    else:  # the label's last rate is below the at-risk cap: never happens, rates end at the max
        ramp[-1] = RampStep(ramp[-1].mg_per_kg_per_min, None, ramp[-1].basis, ramp[-1].below)
    return ramp, maximum, cap_source, tuple(protocol_parts)


def _check_ramp(ramp: list[RampStep]) -> None:
    """A ramp is 1 to MAX_RAMP_STEPS steps of a positive rate, each timed but the last."""
    if not 1 <= len(ramp) <= MAX_RAMP_STEPS:
        raise InvalidInput(f"a ramp has 1 to {MAX_RAMP_STEPS} steps", field="ramp")
    for i, step in enumerate(ramp, start=1):
        rate = number(step.mg_per_kg_per_min, field="ramp", what=f"ramp step {i}: the rate")
        if not 0 < rate <= MAX_RAMP_MG_PER_KG_MIN:
            raise InvalidInput(
                f"ramp step {i}: a rate of {rate:g} mg/kg/min is not above 0 and up to "
                f"{MAX_RAMP_MG_PER_KG_MIN:g}",
                field="ramp",
            )
        last = i == len(ramp)
        if last != (step.minutes is None):
            raise InvalidInput(
                f"ramp step {i}: every step but the last runs for a set time, and the last runs "
                "until the dose is given",
                field="ramp",
            )
        if step.minutes is not None:
            whole_in_range(
                step.minutes, (1, MAX_STEP_MINUTES), field="ramp",
                what=f"ramp step {i}: the time", unit="minutes",
            )  # fmt: skip


def rate_steps(
    ramp: list[RampStep],
    *,
    dose_ml: float,
    weight_kg: float,
    concentration_mg_per_ml: float,
    ceiling: RateCeiling | None = None,
) -> tuple[RateStep, ...]:
    """Turn a ramp into pump steps for a dose of ``dose_ml`` and a patient of ``weight_kg``.

    With a prescriber's ``ceiling`` (mL/h, rounded down to 0.1 mL/h) the maximum is the lower
    of the ramp's and the ceiling: the first step at or above it runs at the ceiling until the
    dose is given (its basis the ceiling's words; its mg/kg/min the rate the ceiling delivers).

    The last step's end is rounded to 0.1 minute, but never to its own start: a last step
    shorter than 0.1 minute ends 0.1 minute after it starts. A step that must stay ``below``
    its rate runs one 0.1 mL/h under it when rounding down alone would reach it (its
    mg/kg/min stays the cap it runs under, with the basis saying "stays below").
    """
    dose_ml = number(dose_ml, field="dose", what="the dose volume")
    if not 0 < dose_ml <= MAX_DOSE_ML:
        raise InvalidInput(
            f"the dose volume must be above 0 and up to {MAX_DOSE_ML:g} mL (got {dose_ml:g})",
            field="dose",
        )
    weight_kg, concentration_mg_per_ml = weight_and_concentration(
        weight_kg, concentration_mg_per_ml
    )
    _check_ramp(ramp)
    top, top_basis = None, ""
    if ceiling is not None:
        top_basis = ceiling.basis
        given_top = number_in_range(
            ceiling.max_ml_per_h, CEILING_RANGE_ML_PER_H, field="max_ml_per_h",
            unit="mL/h", what="prescriber's maximum rate",
        )  # fmt: skip
        top = floor_to(given_top)
    steps: list[RateStep] = []
    start, given = 0.0, 0.0
    for ramp_step in ramp:
        exact = mg_per_kg_min_to_ml_per_h(
            ramp_step.mg_per_kg_per_min, weight_kg, concentration_mg_per_ml
        )
        ml_h = floor_to(exact)
        mg_per_kg_min = ramp_step.mg_per_kg_per_min  # a "below" step: the cap it stays under
        basis = ramp_step.basis
        if ramp_step.below and ml_h >= exact - _TOLERANCE:
            ml_h = round(ml_h - 0.1, 1)
        if ml_h <= 0:
            raise InvalidInput(
                f"a rate of {ramp_step.mg_per_kg_per_min:g} mg/kg/min is below 0.1 mL/h "
                f"for {weight_kg:g} kg",
                field="weight_kg",
            )
        capped = top is not None and ml_h >= top - _TOLERANCE
        if top is not None and capped:  # the ceiling is the maximum: at it to the end
            ml_h, basis = top, top_basis
            mg_per_kg_min = ml_per_h_to_mg_per_kg_min(top, weight_kg, concentration_mg_per_ml)
        left = dose_ml - given
        step_volume = (
            round(ml_h * ramp_step.minutes / 60.0, _VOLUME_PLACES)
            if ramp_step.minutes is not None and not capped
            else left
        )
        if ramp_step.minutes is None or capped or step_volume >= left - _TOLERANCE:
            minutes = left / ml_h * 60.0
            end = round(start + minutes, 1)
            if end <= start:
                end = round(start + 0.1, 1)
            steps.append(RateStep(start, end, ml_h, mg_per_kg_min, left, basis))
            return tuple(steps)
        if step_volume <= 0:
            raise InvalidInput(
                f"{ramp_step.minutes} minutes at {ml_h:g} mL/h gives no volume to 0.01 mL",
                field="ramp",
            )
        end = start + ramp_step.minutes
        steps.append(RateStep(start, end, ml_h, mg_per_kg_min, step_volume, ramp_step.basis))
        start, given = end, given + step_volume
    raise AssertionError("a ramp always ends with a step that runs to the end")  # pragma: no cover


def clock_times(
    steps: tuple[RateStep, ...], start: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Wall-clock start and end of each step for an infusion started at ``start``."""
    try:
        return [
            (start + dt.timedelta(minutes=s.start_min), start + dt.timedelta(minutes=s.end_min))
            for s in steps
        ]
    except OverflowError:
        raise InvalidInput(
            f"an infusion started at {start.isoformat()} would end outside the calendar",
            field="start",
        ) from None
