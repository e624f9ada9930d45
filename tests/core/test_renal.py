"""eGFR (CKD-EPI 2021), creatinine clearance (Cockcroft-Gault) and the renal function a plan
uses: the creatinine unit is explicit, never assumed (issue 14 item 2)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivig.core.renal import (
    CreatinineUnit,
    RenalFunction,
    ckd_epi_2021,
    cockcroft_gault,
    creatinine_mg_dl,
    creatinine_unit,
    renal_function,
)
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


# --- the unit is explicit, never assumed (issue 14 item 2) ---------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "plausible"),
    [
        # 12 mg/dL is a real dialysis value (issue 14 item 2); 12 umol/L (0.14 mg/dL) is not
        (12, CreatinineUnit.mg_dl, True),
        (12, CreatinineUnit.umol_l, False),
        # the bounds of the data-entry check (renal.py docstring): 0.2-25 mg/dL, 18-2210 umol/L
        (0.2, CreatinineUnit.mg_dl, True),
        (0.19, CreatinineUnit.mg_dl, False),
        (25, CreatinineUnit.mg_dl, True),
        (25.1, CreatinineUnit.mg_dl, False),
        (18, CreatinineUnit.umol_l, True),
        (17.9, CreatinineUnit.umol_l, False),
        (2210, CreatinineUnit.umol_l, True),
        (2211, CreatinineUnit.umol_l, False),
    ],
)
def test_creatinine_implausible_for_its_unit_is_refused(
    value: float, unit: CreatinineUnit, plausible: bool
) -> None:
    if plausible:
        assert creatinine_mg_dl(value, unit) > 0
    else:
        with pytest.raises(OutOfRange) as caught:
            creatinine_mg_dl(value, unit)
        assert caught.value.field == "creatinine"


def test_the_refusal_names_the_unit_the_value_would_fit() -> None:
    with pytest.raises(OutOfRange) as caught:
        creatinine_mg_dl(12, CreatinineUnit.umol_l)
    assert "12 is plausible in mg/dL" in caught.value.message
    with pytest.raises(OutOfRange) as beyond:
        creatinine_mg_dl(5000, CreatinineUnit.umol_l)
    assert "plausible in" not in beyond.value.message


@pytest.mark.parametrize("text", ["umol/L", "µmol/L", "μmol/l", " UMOL/L "])
def test_micromoles_are_read_in_any_spelling(text: str) -> None:
    assert creatinine_unit(text) is CreatinineUnit.umol_l


@pytest.mark.parametrize("text", [None, "", "mmol/L", "mg", "umol"])
def test_an_unknown_or_missing_unit_is_refused(text: str | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        creatinine_unit(text)
    assert caught.value.field == "creatinine_unit"


def test_a_creatinine_without_its_unit_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        renal_function(egfr=None, creatinine=1.2, unit=None, age=60, sex=Sex.male)
    assert caught.value.field == "creatinine_unit"
    assert "never assumed" in caught.value.message


def test_a_unit_without_a_creatinine_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        renal_function(egfr=None, creatinine=None, unit="mg/dL", age=60, sex=Sex.male)
    assert caught.value.field == "creatinine"


def test_the_renal_function_keeps_its_formula_and_inputs() -> None:
    # CKD-EPI 2021 (Inker 2021), male 60, 12 mg/dL: 142 x (12/0.9)^-1.2 x 0.9938^60 = 4.4
    renal = renal_function(
        egfr=None,
        creatinine=12,
        unit="mg/dL",
        age=60,
        sex=Sex.male,
        measured_on=dt.date(2026, 1, 2),
    )
    assert renal.egfr == pytest.approx(4.4, abs=0.05)
    assert (renal.formula, renal.basis) == ("CKD-EPI 2021", "creatinine")
    assert renal.describe() == (
        "eGFR 4 mL/min/1.73 m2 by CKD-EPI 2021 from serum creatinine 12 mg/dL, age 60, male; "
        "measured on 2026-01-02"
    )
    given_egfr = renal_function(egfr=45, creatinine=None, unit=None, age=60, sex=Sex.male)
    assert (given_egfr.basis, given_egfr.formula) == ("egfr", None)
    assert given_egfr.describe() == "eGFR 45 mL/min/1.73 m2 as given"
    assert renal_function(egfr=None, creatinine=None, unit=None, age=60, sex=Sex.male) == (
        RenalFunction(egfr=None)
    )


@given(
    mg_dl=st.floats(18 / 88.4, 24.99),  # plausible in both units
    age=st.integers(18, 120),
    sex=st.sampled_from(Sex),
)
def test_either_unit_gives_the_same_egfr(mg_dl: float, age: int, sex: Sex) -> None:
    """The same creatinine in umol/L (x 88.4) gives the same eGFR, lower as creatinine rises."""
    in_mg = renal_function(egfr=None, creatinine=mg_dl, unit="mg/dL", age=age, sex=sex)
    in_umol = renal_function(egfr=None, creatinine=mg_dl * 88.4, unit="umol/L", age=age, sex=sex)
    assert in_mg.egfr is not None
    assert in_umol.egfr is not None
    assert in_umol.egfr == pytest.approx(in_mg.egfr, rel=1e-9)
    higher = renal_function(
        egfr=None, creatinine=min(mg_dl * 1.1, 25), unit="mg/dL", age=age, sex=sex
    )
    assert higher.egfr is not None
    assert higher.egfr <= in_mg.egfr
