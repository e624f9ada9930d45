"""A prescriber's ceiling after a reaction as a ramp input (issue 16's closing note): the steps,
volumes and end follow it; without one the steps are as before."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivig.core.library import packaged_library
from ivig.core.plan import Patient, Phase, Regimen, plan_course
from ivig.core.rates import RateCeiling, rate_ramp, rate_steps
from ivig.core.weights import Sex
from ivig.errors import InvalidInput

CATALOGUE = packaged_library().catalogue
SCHEDULED = sorted(p.id for p in CATALOGUE.products.values() if p.schedules)
BASIS = "prescriber's cap after the reaction of 2026-12-08: 51 mL/h"


def _ceiling(ml_h: float, after: dt.date | None = None) -> RateCeiling:
    return RateCeiling(ml_h, BASIS, "reaction decision 1", after)


def _steps(
    product_id: str, kg: float, dose_ml: float, ceiling: RateCeiling | None, *, at_risk: bool
) -> list[tuple[float, float, float, float, str]]:
    product = CATALOGUE.product(product_id)
    ramp = rate_ramp(
        product.schedules[0], product, CATALOGUE.protocol, at_risk=at_risk, lowest_start=True
    )[0]
    steps = rate_steps(
        ramp, dose_ml=dose_ml, weight_kg=kg, concentration_mg_per_ml=product.concentration,
        ceiling=ceiling,
    )  # fmt: skip
    return [(s.start_min, s.end_min, s.rate_ml_per_h, s.volume_ml, s.basis) for s in steps]


@pytest.mark.parametrize(
    ("ceiling_ml_h", "expected"),
    [
        # The worked example: Privigen (US PI, CIDP) for 85 kg, 85 g = 850 mL; the planned ramp
        # is 25.5, 51, 102, 204, 408 mL/h (30 minutes each, the last to the end at 216.9 min).
        # A reaction at 102 mL/h, tolerated 51, the prescriber caps at 51: 25.5 for 30 minutes
        # (12.75 mL), then 51 mL/h until the dose is given: 837.25 mL, 985 minutes more,
        # ending at 1015 minutes (16 h 55 min) instead of 216.9.
        (51, [(0, 30, 25.5, 12.75, "label"), (30, 1015, 51, 837.25, BASIS)]),
        # A cap below the first step: the whole dose at the cap (850 mL / 20 mL/h = 42.5 h)
        (20, [(0, 2550, 20, 850, BASIS)]),
        # A cap between steps: the step that would pass it runs at it to the end
        (150, [(0, 30, 25.5, 12.75, "label"), (30, 60, 51, 25.5, "protocol"),
               (60, 90, 102, 51, "protocol"), (90, 394.3, 150, 760.75, BASIS)]),
        # A cap above the label's maximum changes nothing
        (500, [(0, 30, 25.5, 12.75, "label"), (30, 60, 51, 25.5, "protocol"),
               (60, 90, 102, 51, "protocol"), (90, 120, 204, 102, "protocol"),
               (120, 216.9, 408, 658.75, "protocol")]),
    ],
)  # fmt: skip
def test_the_ramp_stops_at_the_prescribers_ceiling(
    ceiling_ml_h: float, expected: list[tuple[float, float, float, float, str]]
) -> None:
    assert _steps("privigen-us", 85, 850, _ceiling(ceiling_ml_h), at_risk=False) == expected


def test_a_ceiling_is_a_pump_rate_of_at_least_0_1_ml_h() -> None:
    with pytest.raises(InvalidInput, match="maximum rate") as caught:
        _steps("privigen-us", 85, 850, _ceiling(0), at_risk=False)
    assert caught.value.field == "max_ml_per_h"


@given(
    product_id=st.sampled_from(SCHEDULED),
    kg=st.floats(10, 250),
    dose_g=st.floats(5, 150),
    ceiling_ml_h=st.floats(0.1, 1000),
    at_risk=st.booleans(),
)
def test_no_step_passes_the_lower_of_the_maximum_and_the_ceiling(
    product_id: str, kg: float, dose_g: float, ceiling_ml_h: float, at_risk: bool
) -> None:
    product = CATALOGUE.product(product_id)
    dose_ml = dose_g * 1000 / product.concentration
    plain = _steps(product_id, kg, dose_ml, None, at_risk=at_risk)
    capped = _steps(product_id, kg, dose_ml, _ceiling(ceiling_ml_h), at_risk=at_risk)
    highest = max(rate for _, _, rate, _, _ in plain)  # the label's or at-risk maximum, pumped
    assert all(rate <= min(highest, ceiling_ml_h) + 1e-9 for _, _, rate, _, _ in capped)
    assert sum(v for _, _, _, v, _ in capped) == pytest.approx(dose_ml, abs=1e-6)
    # the steps below the ceiling are the plan's own; the step that would reach it runs at it
    # from the same minute to the end, never ending sooner
    *head, last = capped
    assert head == plain[: len(head)]
    assert last[0] == plain[len(head)][0]
    assert last[2] <= plain[len(head)][2]
    assert last[1] >= plain[-1][1] - 0.1


@given(
    product_id=st.sampled_from(SCHEDULED),
    kg=st.floats(10, 250),
    dose_g=st.floats(5, 150),
    at_risk=st.booleans(),
)
def test_without_a_ceiling_the_steps_are_as_before(
    product_id: str, kg: float, dose_g: float, at_risk: bool
) -> None:
    product = CATALOGUE.product(product_id)
    ramp = rate_ramp(
        product.schedules[0], product, CATALOGUE.protocol, at_risk=at_risk, lowest_start=True
    )[0]
    args = {
        "dose_ml": dose_g * 1000 / product.concentration,
        "weight_kg": kg,
        "concentration_mg_per_ml": product.concentration,
    }
    assert rate_steps(ramp, **args, ceiling=None) == rate_steps(ramp, **args)


def test_a_plan_caps_the_doses_after_the_reaction_only() -> None:
    patient = Patient(sex=Sex.male, height_cm=180, weight_kg=85, age=60)
    start = dt.date(2026, 12, 7)
    regimen = Regimen(
        indication="lems", product="privigen-us", phase=Phase.induction, start=start, days=3,
        total_g_per_kg=2.0, rate_ceiling=_ceiling(51, after=dt.date(2026, 12, 8)),
    )  # fmt: skip
    plan = plan_course(patient, regimen, packaged_library())
    tops = [max(s.rate_ml_per_h for s in d.steps) for d in plan.doses]
    assert min(tops[:2]) > 51  # day 1 and the reaction's day: as planned
    assert tops[2] == 51  # after the reaction: at most the cap
    assert plan.doses[2].steps[-1].basis == BASIS
    assert plan.doses[2].duration_min > plan.doses[1].duration_min
    found = [f for f in plan.findings if f.code == "rate-ceiling"]
    assert [f.message for f in found] == [
        f"dose 3 (2026-12-09): the rate steps go no higher than the {BASIS}"
    ]
    assert found[0].source == "reaction decision 1"
