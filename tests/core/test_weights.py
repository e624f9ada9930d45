"""Dosing weight: BMI, Devine IBW, adjusted weight and the NBA basis rule."""

from __future__ import annotations

import pytest

from ivig.core.weights import (
    Sex,
    WeightBasis,
    adjusted_body_weight,
    bmi,
    dosing_weight,
    ideal_body_weight,
)
from ivig.errors import InvalidInput, OutOfRange


@pytest.mark.parametrize(
    ("sex", "height_cm", "expected_kg"),
    [
        # NBA BloodSTAR calculator (clinical-rules.md 3a):
        # IBW = 50 + 2.3 x (in - 60), in = cm x 0.393701
        # 180 cm = 70.86618 in -> 50 + 2.3 x 10.86618 = 74.992 kg
        (Sex.male, 180, 74.992),
        # 165 cm = 64.96067 in -> 45.5 + 2.3 x 4.96067 = 56.910 kg (female)
        (Sex.female, 165, 56.910),
        # 152.4 cm = 60.00003 in: the formula's origin, 50.0 (male) and 45.5 (female)
        (Sex.male, 152.4, 50.0),
        (Sex.female, 152.4, 45.5),
        # 2.3 kg/in is 0.9055 kg/cm, not the shortcut 0.9 (clinical-rules.md 3c): 190 cm male
        # = 74.80319 in -> 50 + 2.3 x 14.80319 = 84.047 kg (the 0.9 shortcut gives 84.2)
        (Sex.male, 190, 84.047),
    ],
)
def test_devine_ideal_body_weight(sex: Sex, height_cm: float, expected_kg: float) -> None:
    assert ideal_body_weight(sex, height_cm) == pytest.approx(expected_kg, abs=0.001)


@pytest.mark.parametrize(
    ("actual_kg", "ideal_kg", "expected_kg"),
    [
        # NBA "Dose Determining Weight" = IBW + 0.4 x (actual - IBW) (clinical-rules.md 3a)
        (100, 74.992, 84.995),  # 74.992 + 0.4 x 25.008
        (120, 56.910, 82.146),  # 56.910 + 0.4 x 63.090
        (70, 70, 70),  # at IBW the adjustment is nil
    ],
)
def test_adjusted_body_weight(actual_kg: float, ideal_kg: float, expected_kg: float) -> None:
    assert adjusted_body_weight(actual_kg, ideal_kg) == pytest.approx(expected_kg, abs=0.001)


def test_bmi() -> None:
    # BMI = kg / m^2 (formulas-and-fhir.md 1.1): 100 / 1.8^2 = 30.86
    assert bmi(100, 180) == pytest.approx(30.864, abs=0.001)


def _weight(**changes: object) -> object:
    args: dict[str, object] = {"sex": Sex.male, "height_cm": 180, "weight_kg": 100, "age": 60}
    args.update(changes)
    return dosing_weight(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "basis", "kg", "reason_part"),
    [
        # Lifeblood, from 1 July 2026 (clinical-rules.md 3b): adjusted weight is the default...
        ({}, WeightBasis.adjusted, 85.0, "default"),
        # ...unless the patient is under 18,
        ({"age": 17}, WeightBasis.actual, 100.0, "under 18"),
        # under 152 cm,
        ({"height_cm": 150, "weight_kg": 90}, WeightBasis.actual, 90.0, "under 152 cm"),
        # pregnant,
        ({"pregnant": True, "sex": Sex.female}, WeightBasis.actual, 100.0, "pregnant"),
        # or weighs less than the adjusted weight (actual below IBW).
        ({"weight_kg": 60}, WeightBasis.actual, 60.0, "below the adjusted weight"),
        # An explicit basis overrides the rule, and says so.
        ({"basis": WeightBasis.actual}, WeightBasis.actual, 100.0, "as prescribed"),
        # An excluded basis is honoured only with the prescriber's reason (issue 14, item 3).
        (
            {"basis": WeightBasis.adjusted, "age": 17, "insist_reason": "policy"},
            WeightBasis.adjusted,
            85.0,
            "the prescriber insists: policy",
        ),
    ],
)
def test_dosing_weight_basis(
    changes: dict[str, object], basis: WeightBasis, kg: float, reason_part: str
) -> None:
    weight = _weight(**changes)
    assert weight.basis is basis  # type: ignore[attr-defined]
    assert weight.kg == kg  # type: ignore[attr-defined]
    assert reason_part in weight.reason  # type: ignore[attr-defined]


def test_dosing_weight_reports_every_figure() -> None:
    w = dosing_weight(sex=Sex.male, height_cm=180, weight_kg=100, age=60)
    assert (w.actual_kg, w.ideal_kg, w.adjusted_kg, w.bmi) == (100, 75.0, 85.0, 30.9)
    assert w.exclusion is None


def test_explicit_adjusted_keeps_the_exclusion_for_screening() -> None:
    w = dosing_weight(
        sex=Sex.female,
        height_cm=165,
        weight_kg=90,
        age=30,
        pregnant=True,
        basis=WeightBasis.adjusted,
        insist_reason="a clinical reason",
    )
    assert w.basis is WeightBasis.adjusted
    assert w.exclusion == "the patient is pregnant"
    assert w.insisted == "a clinical reason"


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        # Lifeblood, adjusted body weight Ig dosing from 1 July 2026 (clinical-rules.md 3b):
        # "not recommended ... for patients who: are aged < 18 years; are < 152 cm in height;
        # are pregnant, or have an actual body weight that is lower than their adjusted body
        # weight". Issue 14, item 3: 45 kg, 170 cm woman: IBW 45.5 + 2.3 x (66.929 - 60) =
        # 61.44 kg, adjusted 61.44 + 0.4 x (45 - 61.44) = 54.9 kg, above her 45 kg.
        ({"sex": Sex.female, "height_cm": 170, "weight_kg": 45, "age": 40},
         "actual weight is below the adjusted weight (adjusted 54.9 kg, actual 45 kg)"),
        ({"age": 17}, "age 17 is under 18"),
        ({"sex": Sex.female, "pregnant": True}, "the patient is pregnant"),
        ({"height_cm": 150, "weight_kg": 80}, "height 150 cm is under 152 cm"),
    ],
)  # fmt: skip
def test_an_excluded_adjusted_basis_is_refused_with_the_rule(
    changes: dict[str, object], rule: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        _weight(basis=WeightBasis.adjusted, **changes)
    assert caught.value.field == "weight_basis"
    assert "the NBA exclusions from adjusted body weight dosing" in caught.value.message
    assert rule in caught.value.message


def test_an_insisted_adjusted_basis_is_checked_on_the_actual_weight() -> None:
    # The 45 kg woman of issue 14, item 3: doses on 54.9 kg, the cap and rates on 45 kg
    w = dosing_weight(
        sex=Sex.female, height_cm=170, weight_kg=45, age=40,
        basis=WeightBasis.adjusted, insist_reason="renal protection",
    )  # fmt: skip
    assert (w.kg, w.checked_kg) == (54.9, 45.0)


@pytest.mark.parametrize("basis", [WeightBasis.auto, WeightBasis.actual])
def test_no_ideal_weight_under_152_cm(basis: WeightBasis) -> None:
    # Devine misbehaves under 60 in (clinical-rules.md 3c): a 100 cm boy would have an "ideal"
    # 50 + 2.3 x (39.37 - 60) = 2.6 kg (issue 14, item 3); none is given, actual weight is used
    w = dosing_weight(sex=Sex.male, height_cm=100, weight_kg=16, age=4, basis=basis)
    assert (w.kg, w.basis, w.ideal_kg, w.adjusted_kg) == (16.0, WeightBasis.actual, None, None)
    assert w.checked_kg == 16.0


def test_no_adjusted_weight_under_152_cm_even_when_insisted() -> None:
    with pytest.raises(InvalidInput) as caught:
        dosing_weight(
            sex=Sex.male, height_cm=100, weight_kg=16, age=4,
            basis=WeightBasis.adjusted, insist_reason="asked",
        )  # fmt: skip
    assert "not defined under 152 cm" in caught.value.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weight_kg": 0}, "weight_kg"),
        ({"weight_kg": 600}, "weight_kg"),
        ({"height_cm": 20}, "height_cm"),
        ({"age": -1}, "age"),
        ({"age": 130}, "age"),
    ],
)
def test_implausible_input_is_refused_not_clamped(changes: dict[str, object], field: str) -> None:
    with pytest.raises(OutOfRange) as caught:
        _weight(**changes)
    assert caught.value.field == field


def test_adjusted_weight_undefined_for_very_short_patients() -> None:
    # Devine IBW is negative at 50 cm: an adjusted weight cannot be given
    with pytest.raises(InvalidInput) as caught:
        dosing_weight(sex=Sex.female, height_cm=50, weight_kg=5, age=1, basis=WeightBasis.adjusted)
    assert caught.value.field == "weight_basis"
