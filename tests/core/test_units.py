"""Rate arithmetic: the worked conversions in products.md ("Unit conversions")."""

from __future__ import annotations

import pytest

from ivig.core.units import (
    RATE_UNITS,
    floor_to,
    from_mg_per_kg_min,
    grams_to_ml,
    mg_per_kg_min_to_ml_per_h,
    ml_per_h_to_mg_per_kg_min,
    plain_number,
    rate_to_ml_per_h,
    round_half_up,
    to_mg_per_kg_min,
)
from ivig.errors import InvalidInput


@pytest.mark.parametrize(
    ("mg_per_kg_min", "concentration", "ml_per_kg_h"),
    [
        # products.md: 10 % (100 mg/mL): 1 mg/kg/min = 0.6 mL/kg/h
        (1, 100, 0.6),
        # 8 mg/kg/min at 10 % = 4.8 mL/kg/h
        (8, 100, 4.8),
        # 12 mg/kg/min at 10 % = 7.2 mL/kg/h
        (12, 100, 7.2),
        # 0.3 mL/kg/h at 10 % = 0.5 mg/kg/min
        (0.5, 100, 0.3),
        # 3.3 mg/kg/min at 10 % = 1.98, "about 2 mL/kg/h"
        (3.3, 100, 1.98),
        # 5 % (50 mg/mL): 1 mg/kg/min = 1.2 mL/kg/h
        (1, 50, 1.2),
        # 5 mL/kg/h at 5 % = 4.17 mg/kg/min ("about 4.2")
        (25 / 6, 50, 5.0),
    ],
)
def test_mg_per_kg_min_to_ml_per_kg_h(
    mg_per_kg_min: float, concentration: float, ml_per_kg_h: float
) -> None:
    # mL/h for a 1 kg patient is mL/kg/h
    assert mg_per_kg_min_to_ml_per_h(mg_per_kg_min, 1, concentration) == pytest.approx(ml_per_kg_h)


@pytest.mark.parametrize(
    ("mg_per_kg_min", "kg", "concentration", "ml_per_h"),
    [
        # mL/h = mg/kg/min x kg x 60 / (mg/mL) (formulas-and-fhir.md 1.7)
        (0.5, 85, 100, 25.5),  # 10 %, Privigen initial rate, 85 kg
        (8, 85, 100, 408),  # 10 %, Privigen maximum, 85 kg
        (0.5, 70, 50, 42),  # 5 %: twice the volume for the same mg
        (4, 70, 50, 336),  # 5 %, Gammaplex 5 % maximum, 70 kg
    ],
)
def test_pump_rate(mg_per_kg_min: float, kg: float, concentration: float, ml_per_h: float) -> None:
    assert mg_per_kg_min_to_ml_per_h(mg_per_kg_min, kg, concentration) == pytest.approx(ml_per_h)
    back = ml_per_h_to_mg_per_kg_min(ml_per_h, kg, concentration)
    assert back == pytest.approx(mg_per_kg_min)


@pytest.mark.parametrize(
    ("value", "unit", "concentration", "mg_per_kg_min", "ml_per_h_85_kg"),
    [
        # products.md "Unit conversions": a label's rate in its own unit
        (0.5, "mg/kg/min", 100, 0.5, 25.5),  # Privigen: mg/kg/min as written
        (0.01, "mL/kg/min", 100, 1.0, 51),  # Gamunex-C 10 %: mL/kg/min x mg/mL
        (0.07, "mL/kg/min", 50, 3.5, 357),  # Octagam 5 %: 0.07 mL/kg/min = 3.5 mg/kg/min
        (0.3, "mL/kg/h", 100, 0.5, 25.5),  # 0.3 mL/kg/h at 10 % = 0.5 mg/kg/min
        (5, "mL/kg/h", 50, 25 / 6, 425),  # 5 mL/kg/h at 5 %: mL/h = mL/kg/h x kg
    ],
)
def test_a_labels_rate_in_its_own_unit(
    value: float, unit: str, concentration: float, mg_per_kg_min: float, ml_per_h_85_kg: float
) -> None:
    assert to_mg_per_kg_min(value, unit, concentration) == pytest.approx(mg_per_kg_min)
    assert from_mg_per_kg_min(mg_per_kg_min, unit, concentration) == pytest.approx(value)
    assert rate_to_ml_per_h(value, unit, 85, concentration) == pytest.approx(ml_per_h_85_kg)


def test_every_rate_unit_converts_both_ways_and_no_other() -> None:
    for unit in RATE_UNITS:
        assert from_mg_per_kg_min(to_mg_per_kg_min(2.5, unit, 50), unit, 50) == pytest.approx(2.5)
    for convert in (to_mg_per_kg_min, from_mg_per_kg_min):
        with pytest.raises(InvalidInput) as caught:
            convert(1, "mL/h", 100)
        assert caught.value.field == "unit"


def test_floor_to_never_rounds_up_and_ignores_float_noise() -> None:
    assert floor_to(122.94) == 122.9
    assert floor_to(122.99999) == 122.9
    # 0.3 mL/kg/h -> 0.49999... mg/kg/min in floats; 85 kg must still give 25.5 mL/h
    noisy = mg_per_kg_min_to_ml_per_h(0.3 * 100 / 60, 85, 100)
    assert floor_to(noisy) == 25.5


def test_round_half_up() -> None:
    assert round_half_up(84.995, 1) == 85.0
    assert round_half_up(2.25, 1) == 2.3
    assert round_half_up(2.24, 1) == 2.2


def test_grams_to_ml() -> None:
    assert grams_to_ml(85, 100) == 850
    assert grams_to_ml(25, 50) == 500


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [
        (85.0, 2, "85"),  # a dose: "85 g", never "85.00 g" (issue 13)
        (42.5, 2, "42.5"),
        (25.5, 1, "25.5"),  # mL/h
        (0.5, 3, "0.5"),  # mg/kg/min: a leading zero, no trailing one (ISMP)
        (1.0, 1, "1"),  # never "1.0", which reads as 10
        (658.745, 2, "658.75"),
        (-0.0001, 2, "0"),  # no "-0"
        (0.0, 1, "0"),
    ],
)
def test_plain_number_drops_trailing_zeros(value: float, places: int, shown: str) -> None:
    assert plain_number(value, places) == shown
