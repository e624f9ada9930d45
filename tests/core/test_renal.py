"""eGFR (CKD-EPI 2021) and creatinine clearance (Cockcroft-Gault)."""

from __future__ import annotations

import pytest

from ivig.core.renal import CreatinineUnit, ckd_epi_2021, cockcroft_gault, creatinine_mg_dl
from ivig.core.weights import Sex
from ivig.errors import InvalidInput, OutOfRange


@pytest.mark.parametrize(
    ("scr_mg_dl", "age", "sex", "expected"),
    [
        # Worked check in formulas-and-fhir.md 1.5 (creatinineclearancecalculator.net):
        # female, 55 years, Scr 0.9 mg/dL -> about 76 mL/min/1.73 m2
        (0.9, 55, Sex.female, 76),
        # By hand from the equation: male 60, Scr 0.9 (= kappa): 142 x 0.9938^60 = 97.9
        (0.9, 60, Sex.male, 97.9),
        # male 70, Scr 2.0: 142 x (2.0/0.9)^-1.2 x 0.9938^70 = 35.0
        (2.0, 70, Sex.male, 35.0),
    ],
)
def test_ckd_epi_2021(scr_mg_dl: float, age: int, sex: Sex, expected: float) -> None:
    assert ckd_epi_2021(scr_mg_dl, age, sex) == pytest.approx(expected, abs=0.6)


def test_ckd_epi_refuses_children() -> None:
    with pytest.raises(InvalidInput):
        ckd_epi_2021(0.5, 12, Sex.male)


@pytest.mark.parametrize(
    ("scr", "age", "kg", "sex", "expected"),
    [
        # CrCl = (140 - age) x kg / (72 x Scr) [x 0.85 female] (formulas-and-fhir.md 1.6)
        (1.0, 60, 72, Sex.male, 80.0),
        (1.0, 60, 72, Sex.female, 68.0),
    ],
)
def test_cockcroft_gault(scr: float, age: int, kg: float, sex: Sex, expected: float) -> None:
    assert cockcroft_gault(scr, age, kg, sex) == pytest.approx(expected)


def test_creatinine_units() -> None:
    # umol/L / 88.4 = mg/dL (formulas-and-fhir.md 1.6)
    assert creatinine_mg_dl(88.4, CreatinineUnit.umol_l) == pytest.approx(1.0)
    assert creatinine_mg_dl(1.0, CreatinineUnit.mg_dl) == 1.0


def test_creatinine_in_the_wrong_unit_is_refused_with_a_hint() -> None:
    with pytest.raises(OutOfRange) as caught:
        creatinine_mg_dl(1.1, CreatinineUnit.umol_l)
    assert "mg/dL" in caught.value.message
