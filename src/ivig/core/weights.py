"""Dosing weight: BMI, Devine ideal body weight, adjusted weight and the basis used.

Sources: NBA BloodSTAR calculator (IBW by Devine with cm x 0.393701 in/cm; dose-determining
weight = IBW + 0.4 x (actual - IBW)); Lifeblood, from 1 July 2026 adjusted weight is the default
unless the patient is under 18, under 152 cm, pregnant, or weighs less than the adjusted weight
(clinical-rules.md section 3; formulas-and-fhir.md section 1.1-1.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ivig.core.checks import number_in_range, whole_in_range
from ivig.core.units import round_half_up
from ivig.errors import InvalidInput

__all__ = [
    "DosingWeight",
    "Sex",
    "WeightBasis",
    "adjusted_body_weight",
    "bmi",
    "dosing_weight",
    "ideal_body_weight",
]

INCHES_PER_CM = 0.393701  # NBA BloodSTAR calculator
ADJUSTMENT_FACTOR = 0.4  # NBA "Dose Determining Weight"
MIN_ADULT_AGE = 18
MIN_HEIGHT_CM = 152

# Plausible input ranges: outside them an entry is refused as a probable typing error.
WEIGHT_RANGE_KG = (1.0, 350.0)
HEIGHT_RANGE_CM = (40.0, 250.0)
AGE_RANGE_YEARS = (0, 120)
BMI_RANGE = (8.0, 150.0)  # weight and height that together give a BMI outside this are a typo


class Sex(StrEnum):
    male = "male"
    female = "female"


class WeightBasis(StrEnum):
    auto = "auto"
    actual = "actual"
    adjusted = "adjusted"


@dataclass(frozen=True, slots=True)
class DosingWeight:
    """The weight doses and per-kg rates are computed on, and why."""

    kg: float
    basis: WeightBasis  # actual or adjusted, never auto
    actual_kg: float
    ideal_kg: float
    adjusted_kg: float
    bmi: float
    reason: str
    exclusion: str | None  # the rule that excludes adjusted weight, when one applies


def bmi(weight_kg: float, height_cm: float) -> float:
    """Body mass index, kg/m^2."""
    metres = height_cm / 100.0
    return weight_kg / (metres * metres)


def ideal_body_weight(sex: Sex, height_cm: float) -> float:
    """Devine IBW: 50 (male) or 45.5 (female) + 2.3 x (height in inches - 60)."""
    base = 50.0 if sex is Sex.male else 45.5
    return base + 2.3 * (height_cm * INCHES_PER_CM - 60.0)


def adjusted_body_weight(actual_kg: float, ideal_kg: float) -> float:
    """NBA dose-determining weight: IBW + 0.4 x (actual - IBW)."""
    return ideal_kg + ADJUSTMENT_FACTOR * (actual_kg - ideal_kg)


def _exclusion(
    age: int, height_cm: float, pregnant: bool, actual: float, adjusted: float
) -> str | None:
    if age < MIN_ADULT_AGE:
        return f"age {age} is under {MIN_ADULT_AGE}"
    if height_cm < MIN_HEIGHT_CM:
        return f"height {height_cm:g} cm is under {MIN_HEIGHT_CM} cm"
    if pregnant:
        return "the patient is pregnant"
    if actual < adjusted:
        return "actual weight is below the adjusted weight"
    return None


def dosing_weight(
    *,
    sex: Sex,
    height_cm: float,
    weight_kg: float,
    age: int,
    pregnant: bool = False,
    basis: WeightBasis = WeightBasis.auto,
) -> DosingWeight:
    """Choose the dosing weight by the Australian rule in force from 1 July 2026, or as asked.

    ``auto`` uses the adjusted weight unless an exclusion applies, then the actual weight.
    An explicit ``adjusted`` is honoured even when an exclusion applies; the exclusion is kept
    in ``exclusion`` so that screening can warn. The weight is rounded to 0.1 kg, and that
    rounded figure is the one doses and rates are computed on.
    """
    weight_kg = number_in_range(weight_kg, WEIGHT_RANGE_KG, field="weight_kg", unit="kg",
                                what="weight")  # fmt: skip
    height_cm = number_in_range(height_cm, HEIGHT_RANGE_CM, field="height_cm", unit="cm",
                                what="height")  # fmt: skip
    age = whole_in_range(age, AGE_RANGE_YEARS, field="age", what="age", unit="years")
    body_mass_index = bmi(weight_kg, height_cm)
    if not BMI_RANGE[0] <= body_mass_index <= BMI_RANGE[1]:
        raise InvalidInput(
            f"weight {weight_kg:g} kg and height {height_cm:g} cm give a BMI of "
            f"{body_mass_index:.1f}, outside {BMI_RANGE[0]:g}-{BMI_RANGE[1]:g}: check both",
            field="weight_kg",
        )
    if pregnant and sex is Sex.male:
        raise InvalidInput("a male patient cannot be pregnant: check the sex", field="pregnant")
    ideal = ideal_body_weight(sex, height_cm)
    adjusted = adjusted_body_weight(weight_kg, ideal)
    exclusion = _exclusion(age, height_cm, pregnant, weight_kg, adjusted)
    rule = "adjusted weight is the default (NBA/Lifeblood, from 1 July 2026)"
    if basis is WeightBasis.actual:
        chosen, kg = WeightBasis.actual, weight_kg
        reason = "actual weight, as prescribed (weight basis: actual)"
    elif basis is WeightBasis.adjusted:
        if round_half_up(adjusted, 1) < WEIGHT_RANGE_KG[0]:
            raise InvalidInput(
                f"the adjusted weight is not defined for height {height_cm:g} cm "
                f"(the Devine formula gives {adjusted:.1f} kg, below {WEIGHT_RANGE_KG[0]:g} kg); "
                "use actual weight",
                field="weight_basis",
            )
        chosen, kg = WeightBasis.adjusted, adjusted
        reason = "adjusted weight, as prescribed (weight basis: adjusted)"
        if exclusion:
            reason += f", although the NBA does not recommend it here: {exclusion}"
    elif exclusion:
        chosen, kg = WeightBasis.actual, weight_kg
        reason = f"actual weight: {rule}, but not recommended when {exclusion}"
    else:
        chosen, kg = WeightBasis.adjusted, adjusted
        reason = f"adjusted weight = IBW + 0.4 x (actual - IBW): {rule}"
    return DosingWeight(
        kg=round_half_up(kg, 1),
        basis=chosen,
        actual_kg=weight_kg,
        ideal_kg=round_half_up(ideal, 1),
        adjusted_kg=round_half_up(adjusted, 1),
        bmi=round_half_up(body_mass_index, 1),
        reason=reason,
        exclusion=exclusion,
    )
