"""Kidney function estimates (formulas-and-fhir.md sections 1.5-1.6) and the renal function a
plan uses (issue 14, items 2 and 5).

CKD-EPI 2021 (race-free; Inker et al., N Engl J Med 2021;385:1737-49):
    eGFR = 142 x min(Scr/k, 1)^a x max(Scr/k, 1)^-1.200 x 0.9938^age [x 1.012 if female]
    k = 0.7 (female), 0.9 (male); a = -0.241 (female), -0.302 (male); Scr in mg/dL; adults.
Cockcroft-Gault (1976):
    CrCl = (140 - age) x weight / (72 x Scr mg/dL) [x 0.85 if female]

A serum creatinine always comes with its unit: the plausible values in mg/dL (0.2-25) and in
umol/L (18-2210, the same range x 88.4) overlap, so a unit is never guessed (12 is a dialysis
value in mg/dL and an implausibly low one in umol/L). These bounds are a data-entry check, not a
clinical threshold: below about 0.2 mg/dL a creatinine is not seen even in severe muscle wasting,
and above 25 mg/dL is beyond untreated kidney failure; a value outside them for its unit is
refused, naming the other unit when the value would be plausible in it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from ivig.core.checks import number, number_in_range, whole_in_range
from ivig.core.weights import AGE_RANGE_YEARS, WEIGHT_RANGE_KG, Sex
from ivig.errors import InvalidInput, OutOfRange

__all__ = [
    "CKD_EPI_2021",
    "EGFR_RANGE",
    "EGFR_UNIT",
    "CreatinineUnit",
    "RenalFunction",
    "ckd_epi_2021",
    "cockcroft_gault",
    "creatinine_mg_dl",
    "renal_function",
]

UMOL_PER_MG_DL = 88.4  # creatinine: umol/L / 88.4 = mg/dL
CKD_EPI_2021 = "CKD-EPI 2021"
EGFR_UNIT = "mL/min/1.73 m2"
EGFR_RANGE = (1.0, 200.0)

# Plausible serum creatinine in each unit (see the module docstring): the same range, converted.
_MG_DL = (0.2, 25.0)
_RANGES = {"umol/L": (18.0, 2210.0), "mg/dL": _MG_DL}


class CreatinineUnit(StrEnum):
    umol_l = "umol/L"
    mg_dl = "mg/dL"

    @property
    def other(self) -> CreatinineUnit:
        return CreatinineUnit.mg_dl if self is CreatinineUnit.umol_l else CreatinineUnit.umol_l


def creatinine_unit(value: object, *, field: str = "creatinine_unit") -> CreatinineUnit:
    """The unit named by ``value`` (``mg/dL`` or ``umol/L``; ``µmol/L`` is read as ``umol/L``);
    anything else, or nothing, is refused: the unit is never assumed."""
    text = str(value).strip().replace("\u00b5", "u").replace("\u03bc", "u") if value else ""
    for unit in CreatinineUnit:
        if text.lower() == unit.value.lower():
            return unit
    raise InvalidInput(
        "give the unit of the serum creatinine: mg/dL or umol/L (it is never assumed)",
        field=field,
    )


def creatinine_mg_dl(value: float, unit: CreatinineUnit, *, field: str = "creatinine") -> float:
    """Serum creatinine in mg/dL, refusing values implausible for the unit given."""
    low, high = _RANGES[unit.value]
    value = number(value, field=field, what="serum creatinine")
    if not low <= value <= high:
        other = unit.other.value
        low_other, high_other = _RANGES[other]
        error = OutOfRange(field, value, low, high, unit.value, what="serum creatinine")
        if low_other <= value <= high_other:
            error.with_hint(f"{value:g} is plausible in {other}: was it measured in {other}?")
        raise error
    return value / UMOL_PER_MG_DL if unit is CreatinineUnit.umol_l else value


def _adult_inputs(creatinine_mg_per_dl: float, age: int, formula: str) -> tuple[float, int]:
    """Refuse a creatinine (mg/dL) or an age the formulas are not defined for."""
    scr = number_in_range(
        creatinine_mg_per_dl, _MG_DL, field="creatinine", unit="mg/dL", what="serum creatinine"
    )
    years = whole_in_range(age, AGE_RANGE_YEARS, field="age", what="age", unit="years")
    if years < 18:
        raise InvalidInput(
            f"{formula} is defined for adults (18 and over); give the eGFR instead", field="age"
        )
    return scr, years


def ckd_epi_2021(creatinine_mg_per_dl: float, age: int, sex: Sex) -> float:
    """eGFR in mL/min/1.73 m^2 by CKD-EPI 2021; defined for adults only."""
    creatinine_mg_per_dl, age = _adult_inputs(creatinine_mg_per_dl, age, CKD_EPI_2021)
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


@dataclass(frozen=True, slots=True)
class RenalFunction:
    """The renal function a plan used, with its basis: an eGFR computed from a serum creatinine
    (``formula`` CKD-EPI 2021, its inputs kept), an eGFR as given, or none known."""

    egfr: float | None
    formula: str | None = None
    creatinine: float | None = None
    creatinine_unit: CreatinineUnit | None = None
    creatinine_mg_per_dl: float | None = None
    age: int | None = None
    sex: Sex | None = None
    measured_on: dt.date | None = None

    @property
    def basis(self) -> str:
        """``creatinine`` (computed), ``egfr`` (as given) or ``none``."""
        if self.creatinine is not None:
            return "creatinine"
        return "egfr" if self.egfr is not None else "none"

    def describe(self) -> str:
        """One line for every channel: 'eGFR 4 mL/min/1.73 m2 by CKD-EPI 2021 from serum
        creatinine 12 mg/dL (age 60, male)'."""
        if self.egfr is None:
            return "no serum creatinine or eGFR given"
        return f"eGFR {self.egfr:.0f} {EGFR_UNIT} {self.how()}"

    def how(self) -> str:
        """How the eGFR was had: 'by CKD-EPI 2021 from serum creatinine ...' or 'as given'."""
        if self.creatinine is None:
            text = "as given"
        else:
            assert self.creatinine_unit is not None
            assert self.sex is not None
            text = (
                f"by {self.formula} from serum creatinine {self.creatinine:g} "
                f"{self.creatinine_unit.value}"
            )
            if self.creatinine_unit is CreatinineUnit.umol_l:
                assert self.creatinine_mg_per_dl is not None
                text += f" ({self.creatinine_mg_per_dl:.2f} mg/dL)"
            text += f", age {self.age}, {self.sex.value}"
        if self.measured_on is not None:
            text += f"; measured on {self.measured_on.isoformat()}"
        return text


def renal_function(
    *,
    egfr: float | None,
    creatinine: float | None,
    unit: CreatinineUnit | str | None,
    age: int,
    sex: Sex,
    measured_on: dt.date | None = None,
) -> RenalFunction:
    """The renal function from an eGFR or a serum creatinine with its unit (never both; a
    creatinine without its unit, or a unit without a creatinine, is refused)."""
    if egfr is not None and creatinine is not None:
        raise InvalidInput("give the eGFR or the serum creatinine, not both", field="creatinine")
    if creatinine is None and unit is not None:
        raise InvalidInput(
            "a creatinine unit was given without a serum creatinine: give both or neither",
            field="creatinine",
        )
    if egfr is not None:
        value = number_in_range(egfr, EGFR_RANGE, field="egfr", unit=EGFR_UNIT, what="eGFR")
        return RenalFunction(egfr=value, measured_on=measured_on)
    if creatinine is None:
        if measured_on is not None:
            raise InvalidInput(
                "a result date needs a serum creatinine or an eGFR", field="measured_on"
            )
        return RenalFunction(egfr=None)
    if unit is None:
        raise InvalidInput(
            "give the unit of the serum creatinine: mg/dL or umol/L (the plausible ranges "
            "overlap, so it is never assumed)",
            field="creatinine_unit",
        )
    given = unit if isinstance(unit, CreatinineUnit) else creatinine_unit(unit)
    mg_dl = creatinine_mg_dl(creatinine, given)
    return RenalFunction(
        egfr=ckd_epi_2021(mg_dl, age, sex),
        formula=CKD_EPI_2021,
        creatinine=float(creatinine),
        creatinine_unit=given,
        creatinine_mg_per_dl=mg_dl,
        age=age,
        sex=sex,
        measured_on=measured_on,
    )
