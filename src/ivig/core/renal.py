"""Kidney function estimates (formulas-and-fhir.md sections 1.5-1.6).

CKD-EPI 2021 (race-free; Inker et al., N Engl J Med 2021;385:1737-49):
    eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age [x 1.012 if female]
    k = 0.7 (female), 0.9 (male); a = -0.241 (female), -0.302 (male); Scr in mg/dL; adults.
Cockcroft-Gault (1976):
    CrCl = (140 - age) x weight / (72 x Scr mg/dL) [x 0.85 if female]
"""

from __future__ import annotations

from enum import StrEnum

from ivig.core.checks import number, number_in_range, whole_in_range
from ivig.core.weights import AGE_RANGE_YEARS, WEIGHT_RANGE_KG, Sex
from ivig.errors import InvalidInput, OutOfRange

__all__ = ["CreatinineUnit", "ckd_epi_2021", "cockcroft_gault", "creatinine_mg_dl"]

UMOL_PER_MG_DL = 88.4  # creatinine: umol/L / 88.4 = mg/dL

# Plausible serum creatinine, in each unit: outside these the unit was probably mistaken.
_RANGES = {"umol/L": (10.0, 2000.0), "mg/dL": (0.1, 25.0)}


class CreatinineUnit(StrEnum):
    umol_l = "umol/L"
    mg_dl = "mg/dL"


def creatinine_mg_dl(value: float, unit: CreatinineUnit, *, field: str = "creatinine") -> float:
    """Serum creatinine in mg/dL, refusing values implausible for the unit given."""
    low, high = _RANGES[unit.value]
    value = number(value, field=field, what="serum creatinine")
    if not low <= value <= high:
        other = "mg/dL" if unit is CreatinineUnit.umol_l else "umol/L"
        raise OutOfRange(field, value, low, high, unit.value, what="serum creatinine").with_hint(
            f"if the value is in {other}, give its unit as {other}"
        )
    return value / UMOL_PER_MG_DL if unit is CreatinineUnit.umol_l else value


def _adult_inputs(creatinine_mg_per_dl: float, age: int, formula: str) -> tuple[float, int]:
    """Refuse a creatinine (mg/dL) or an age the formulas are not defined for."""
    scr = number_in_range(
        creatinine_mg_per_dl, _RANGES["mg/dL"], field="creatinine", unit="mg/dL",
        what="serum creatinine",
    )  # fmt: skip
    years = whole_in_range(age, AGE_RANGE_YEARS, field="age", what="age", unit="years")
    if years < 18:
        raise InvalidInput(
            f"{formula} is defined for adults (18 and over); give the eGFR instead", field="age"
        )
    return scr, years


def ckd_epi_2021(creatinine_mg_per_dl: float, age: int, sex: Sex) -> float:
    """eGFR in mL/min/1.73 m^2 by CKD-EPI 2021; defined for adults only."""
    creatinine_mg_per_dl, age = _adult_inputs(creatinine_mg_per_dl, age, "CKD-EPI 2021")
    female = sex is Sex.female
    kappa = 0.7 if female else 0.9
    alpha = -0.241 if female else -0.302
    ratio = creatinine_mg_per_dl / kappa
    egfr: float = 142.0 * min(ratio, 1.0) ** alpha * max(ratio, 1.0) ** -1.200 * 0.9938**age
    return egfr * 1.012 if female else egfr


def cockcroft_gault(creatinine_mg_per_dl: float, age: int, weight_kg: float, sex: Sex) -> float:
    """Creatinine clearance in mL/min (not normalised to 1.73 m^2); for adults."""
    creatinine_mg_per_dl, age = _adult_inputs(creatinine_mg_per_dl, age, "Cockcroft-Gault")
    weight_kg = number_in_range(
        weight_kg, WEIGHT_RANGE_KG, field="weight_kg", unit="kg", what="weight"
    )
    crcl = (140 - age) * weight_kg / (72.0 * creatinine_mg_per_dl)
    return crcl * 0.85 if sex is Sex.female else crcl
