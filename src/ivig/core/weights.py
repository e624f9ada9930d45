"""Dosing weight: BMI, Devine ideal body weight, adjusted weight and the basis used.

Sources: NBA BloodSTAR calculator (IBW by Devine with cm x 0.393701 in/cm; dose-determining
weight = IBW + 0.4 x (actual - IBW)); Lifeblood, from 1 July 2026 adjusted weight is the default
unless the patient is under 18, under 152 cm, pregnant, or weighs less than the adjusted weight
(clinical-rules.md section 3; formulas-and-fhir.md section 1.1-1.3).

Issue 14, item 3: an explicit ``adjusted`` basis that this rule excludes is refused with the
rule's name, unless the prescriber insists with a clinical reason (Lifeblood: "If there is a
clinical reason not to use adjusted body weight dosing, the clinician should ... provide a
clinical justification"); then the cap and every rate are checked on the actual weight as well
(:attr:`DosingWeight.checked_kg`). The Devine formula is not used under 152 cm (it misbehaves
below 60 inches, clinical-rules.md section 3c: a 100 cm child would have an "ideal" 2.6 kg).
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
    ideal_kg: float | None  # None under 152 cm: the Devine formula is not used there
    adjusted_kg: float | None
    bmi: float
    reason: str
    exclusion: str | None  # the rule that excludes adjusted weight, when one applies
    insisted: str = ""  # the prescriber's clinical reason for a basis the rule excludes

    @property
    def checked_kg(self) -> float:
        """The weight the cap and the rates are checked on: the dosing weight, but never more
        than the actual weight (an insisted adjusted weight above the actual one)."""
        return min(self.kg, round_half_up(self.actual_kg, 1))


def bmi(weight_kg: float, height_cm: float) -> float:
    """Body mass index, kg/m^2."""
    metres = height_cm / 100.0
    return weight_kg / (metres * metres)


def ideal_body_weight(sex: Sex, height_cm: float) -> float:
    """Devine IBW: 50 (male) or 45.5 (female) + 2.3 x (height in inches - 60).

    Meaningful from 152 cm (:data:`MIN_HEIGHT_CM`); :func:`dosing_weight` does not use it below.
    """
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


EXCLUSION_RULE = "the NBA exclusions from adjusted body weight dosing (Lifeblood, 1 July 2026)"


def dosing_weight(
    *,
    sex: Sex,
    height_cm: float,
    weight_kg: float,
    age: int,
    pregnant: bool = False,
    basis: WeightBasis = WeightBasis.auto,
    insist_reason: str = "",
) -> DosingWeight:
    """Choose the dosing weight by the Australian rule in force from 1 July 2026, or as asked.

    ``auto`` uses the adjusted weight unless an exclusion applies, then the actual weight.
    An explicit ``adjusted`` that an exclusion applies to is refused naming the rule, unless
    ``insist_reason`` gives the prescriber's clinical reason; the exclusion is kept in
    ``exclusion`` and the reason in ``insisted`` so that the plan warns. Under 152 cm there is
    no ideal or adjusted weight. The weight is rounded to 0.1 kg, and that rounded figure is
    the one doses are computed on (rates and the cap on :attr:`DosingWeight.checked_kg`).
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
    insist_reason = insist_reason.strip()
    defined = height_cm >= MIN_HEIGHT_CM
    ideal = ideal_body_weight(sex, height_cm) if defined else None
    adjusted = adjusted_body_weight(weight_kg, ideal) if ideal is not None else None
    exclusion = _exclusion(
        age, height_cm, pregnant, weight_kg, adjusted if adjusted is not None else weight_kg
    )
    rule = "adjusted weight is the default (NBA/Lifeblood, from 1 July 2026)"
    if basis is WeightBasis.actual:
        chosen, kg = WeightBasis.actual, weight_kg
        reason = "actual weight, as prescribed (weight basis: actual)"
    elif basis is WeightBasis.adjusted:
        if adjusted is None:
            raise InvalidInput(
                f"adjusted weight is refused by {EXCLUSION_RULE}: {exclusion}; the Devine ideal "
                f"weight is not defined under {MIN_HEIGHT_CM} cm: use actual weight",
                field="weight_basis",
            )
        if exclusion and not insist_reason:
            raise InvalidInput(
                f"adjusted weight is refused by {EXCLUSION_RULE}: {exclusion} "
                f"(adjusted {adjusted:.1f} kg, actual {weight_kg:g} kg); use actual weight, or "
                "give the clinical reason for insisting",
                field="weight_basis",
            )
        chosen, kg = WeightBasis.adjusted, adjusted
        reason = "adjusted weight, as prescribed (weight basis: adjusted)"
        if exclusion:
            reason += (
                f", although {EXCLUSION_RULE} exclude it here: {exclusion}; the prescriber "
                f"insists: {insist_reason}"
            )
    elif exclusion or adjusted is None:
        chosen, kg = WeightBasis.actual, weight_kg
        reason = f"actual weight: {rule}, but not recommended when {exclusion}"
    else:
        chosen, kg = WeightBasis.adjusted, adjusted
        reason = f"adjusted weight = IBW + 0.4 x (actual - IBW): {rule}"
    return DosingWeight(
        kg=round_half_up(kg, 1),
        basis=chosen,
        actual_kg=weight_kg,
        ideal_kg=round_half_up(ideal, 1) if ideal is not None else None,
        adjusted_kg=round_half_up(adjusted, 1) if adjusted is not None else None,
        bmi=round_half_up(body_mass_index, 1),
        reason=reason,
        exclusion=exclusion,
        insisted=insist_reason if chosen is WeightBasis.adjusted and exclusion else "",
    )
