"""The one definition of the vital signs (issue 15): each sign once, coded, and readings the
protocol accepts as normal."""

from __future__ import annotations

import pytest

from ivig.core.library import packaged_library
from ivig.core.monitoring import check_vitals
from ivig.core.vitals import VITAL_FIELDS, VITAL_SIGNS, VitalSign, vital

PROTOCOL = packaged_library().monitoring


def _loinc_check_digit(number: str) -> str:
    """LOINC's mod 10 check digit (LOINC Users' Guide, appendix C)."""
    digits = [int(d) for d in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # from the right: every other digit doubled, its digits summed
            d *= 2
            d = d // 10 + d % 10
        total += d
    return str((10 - total % 10) % 10)


def test_each_sign_once_and_in_the_protocol() -> None:
    assert len(set(VITAL_FIELDS)) == len(VITAL_SIGNS) == len(VITAL_FIELDS)
    assert list(PROTOCOL.vitals) == list(VITAL_FIELDS)  # the toml covers exactly these
    for sign in VITAL_SIGNS:
        assert vital(sign.field) is sign
        assert PROTOCOL.vitals[sign.field].name == sign.name
        assert PROTOCOL.vitals[sign.field].unit == sign.unit
    with pytest.raises(KeyError):
        vital("blood_sugar")


@pytest.mark.parametrize("sign", VITAL_SIGNS, ids=VITAL_FIELDS)
def test_loinc_codes_carry_their_check_digit(sign: VitalSign) -> None:
    codes = [sign.loinc, *(code for code, _ in sign.also_coded)]
    if sign.panel is not None:
        codes.append(sign.panel.code)
    for code in codes:
        number, _, check = code.partition("-")
        assert number.isdigit(), code
        assert check == _loinc_check_digit(number), code


@pytest.mark.parametrize("sign", VITAL_SIGNS, ids=VITAL_FIELDS)
def test_typical_readings_are_possible_and_normal(sign: VitalSign) -> None:
    """The demo's readings: a well patient's are never flagged; a reaction's rise stays
    possible."""
    low, high = sign.typical
    assert low < high
    if sign.integer:
        assert (low, high) == (int(low), int(high))
        assert sign.reaction_rise == int(sign.reaction_rise)
    pair = {"systolic_mm_hg": 160.0} if sign.field == "diastolic_mm_hg" else {}
    for value in (low, high):
        assert check_vitals(**{sign.field: value}, **pair, protocol=PROTOCOL) == []
        check_vitals(**{sign.field: value + sign.reaction_rise}, **pair, protocol=PROTOCOL)


def test_a_form_label_names_the_unit() -> None:
    assert vital("temperature_c").form_label == "Temperature (°C)"
    assert vital("spo2_percent").form_label == "SpO₂ (%)"


def test_a_name_that_is_no_vital_sign_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="blood_sugar"):
        check_vitals(blood_sugar=5.0, protocol=PROTOCOL)
