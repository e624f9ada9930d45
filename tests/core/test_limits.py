"""The drug library's guards on a typed pump rate (``core.limits.check_rate_entry``) and the
limits file (``data/limits.toml``).

The reference order is the golden case of requirement 45: Privigen 10 % (100 mg/mL), 70 kg,
US PI CIDP schedule doubled every 30 minutes by the service protocol: 21, 42, 84, 168 and
336 mL/h (0.5 to 8 mg/kg/min); the label maximum of 8 mg/kg/min is 336 mL/h. At risk (the
protocol's 3.3 mg/kg/min cap): 21, 42, 84, 138.6 mL/h, under the same label maximum.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
import tomllib
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivig.core.catalogue import Catalogue
from ivig.core.library import packaged_library
from ivig.core.limits import (
    SoftLimit,
    check_rate_entry,
    course_soft_limits,
    read_limits,
    usual_dose_limits,
)
from ivig.core.phases import Phase
from ivig.core.plan import Patient, Regimen, plan_course
from ivig.core.rates import RateStep, rate_ramp, rate_steps
from ivig.core.units import mg_per_kg_min_to_ml_per_h
from ivig.core.weights import Sex
from ivig.errors import CatalogueError, HardLimit, InvalidInput

CONCENTRATION = 100.0  # Privigen 10 %
LIBRARY = packaged_library()
RULES = LIBRARY.limits


def _privigen(kg: float, *, at_risk: bool = False, dose_g: float | None = None) -> list[RateStep]:
    catalogue = LIBRARY.catalogue
    product = catalogue.product("privigen-us")
    schedule = next(s for s in product.schedules if s.group == "cidp")
    ramp, _, _, _ = rate_ramp(
        schedule, product, catalogue.protocol, at_risk=at_risk, lowest_start=True
    )
    dose = dose_g if dose_g is not None else kg
    return list(
        rate_steps(
            ramp,
            dose_ml=dose * 1000 / product.concentration,
            weight_kg=kg,
            concentration_mg_per_ml=product.concentration,
        )
    )


def _label_max(kg: float) -> float:
    """Privigen's label maximum, 8 mg/kg/min, in mL/h for ``kg``."""
    return mg_per_kg_min_to_ml_per_h(8.0, kg, CONCENTRATION)


STEPS = _privigen(70)
AT_RISK = _privigen(70, at_risk=True)
LABEL_MAX = _label_max(70)


def test_the_reference_order() -> None:
    """Requirement 45's golden numbers, which the rows below rely on."""
    assert [s.rate_ml_per_h for s in STEPS] == [21, 42, 84, 168, 336]
    assert [s.rate_ml_per_h for s in AT_RISK] == [21, 42, 84, 138.6]
    assert LABEL_MAX == 336


def _check(
    rate: float, steps: list[RateStep], planned: float, previous: float | None
) -> tuple[SoftLimit, ...]:
    return check_rate_entry(
        rate,
        steps=steps,
        planned_ml_per_h=planned,
        previous_ml_per_h=previous,
        weight_kg=70,
        concentration_mg_per_ml=CONCENTRATION,
        label_max_ml_per_h=LABEL_MAX,
        rules=RULES,
    )


@pytest.mark.parametrize(
    ("rate", "steps", "planned", "previous", "rule"),
    [
        # Item 50 (Lam 2018; Husch 2005): 4.8 typed as mL/h for a 70 kg patient whose planned
        # step is 336 mL/h: 4.8 is the step's mL/kg/h (8 mg/kg/min x 60 / 100 mg/mL).
        pytest.param(4.8, STEPS, 336, 168, "wrong-field", id="50-4.8-ml-per-kg-h"),
        # Item 50: the same step's 8 mg/kg/min and 0.08 mL/kg/min in the mL/h field.
        pytest.param(8, STEPS, 336, 168, "wrong-field", id="50-8-mg-per-kg-min"),
        pytest.param(0.08, STEPS, 336, 168, "wrong-field", id="50-0.08-ml-per-kg-min"),
        # Item 50: the first step's 0.5 mg/kg/min while it is due.
        pytest.param(0.5, STEPS, 21, 21, "wrong-field", id="50-first-step-0.5"),
        # Item 49 (BMC Pediatr 2022: 2x, 5x, 10x slips): twice the planned step where the
        # double is no planned step (the at-risk top, 138.6 -> 277.2, under the label's 336).
        pytest.param(277.2, AT_RISK, 138.6, 138.6, "fold-2x", id="49-2x-planned"),
        # Item 49: five and ten times the planned step (21 mL/h): 105 and 210 are not steps.
        pytest.param(105, STEPS, 21, 21, "fold-5x", id="49-5x-planned"),
        pytest.param(210, STEPS, 21, 21, "fold-10x", id="49-10x-planned"),
        # Item 49: ten times the rate before it (the pump still at 21 when the 84 step is due).
        pytest.param(210, STEPS, 84, 21, "fold-10x", id="49-10x-previous"),
        # Item 49: a slip within the match tolerance (3 %) of five times the step.
        pytest.param(107, STEPS, 21, 21, "fold-5x", id="49-5x-typed-107"),
        # Item 48: above the label maximum, whatever the step (10x the 42 step is 420).
        pytest.param(420, STEPS, 42, 42, "label-maximum", id="48-10x-above-label"),
        pytest.param(336.5, STEPS, 336, 168, "label-maximum", id="48-just-above-label"),
        # Item 49: a mix-up with another patient's rate: the 85 kg patient's 408 mL/h top step
        # is above this patient's label maximum; their 25.5 x 5 = 127.5 is no step here.
        pytest.param(408, STEPS, 168, 168, "label-maximum", id="49-other-patients-top"),
    ],
)
def test_implausible_rates_are_hard_limits(
    rate: float, steps: list[RateStep], planned: float, previous: float, rule: str
) -> None:
    """Requirements 48, 49, 50: each is refused as a hard limit naming the field and rule."""
    with pytest.raises(HardLimit) as caught:
        _check(rate, steps, planned, previous)
    assert (caught.value.rule, caught.value.field, caught.value.unit) == (
        rule,
        "rate_ml_per_h",
        "mL/h",
    )
    assert caught.value.value == rate


@pytest.mark.parametrize(
    ("rate", "steps", "planned", "previous"),
    [
        # Item 49: a legitimate doubling to the next planned step is no slip (21 -> 42).
        pytest.param(42, STEPS, 42, 21, id="doubling-to-the-next-step"),
        # ... and on to the top: 168 -> 336, exactly the label maximum.
        pytest.param(336, STEPS, 336, 168, id="doubling-to-the-top"),
        # A planned step typed a little off (pump rates to the nearest 1 mL/h).
        pytest.param(83, STEPS, 84, 42, id="near-the-planned-step"),
        # Slowing down after a reaction: half the current rate.
        pytest.param(10.5, STEPS, 42, 21, id="slowing-down"),
        # Restarting at the last tolerated rate.
        pytest.param(42, STEPS, 168, 84, id="back-to-a-lower-step"),
    ],
)
def test_plausible_rates_pass(
    rate: float, steps: list[RateStep], planned: float, previous: float
) -> None:
    """Requirement 49: the guards stop slips, not the plan."""
    assert _check(rate, steps, planned, previous) == ()


def test_above_the_plans_ceiling_is_a_soft_limit() -> None:
    """Requirement 47 (ISMP drug library): above the plan's ceiling (the at-risk maximum,
    138.6 mL/h) but within the label's (336) is a soft limit, with the ceiling and the value."""
    [limit] = _check(150, AT_RISK, 138.6, 138.6)
    assert (limit.code, limit.limit, limit.value, limit.unit) == (
        "above-planned-maximum",
        138.6,
        150,
        "mL/h",
    )
    assert limit.source


@pytest.mark.parametrize("rate", [0, -5, math.nan, math.inf])
def test_a_rate_must_be_a_positive_number(rate: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        _check(rate, STEPS, 21, 21)
    assert caught.value.field == "rate_ml_per_h"


# --- invariants -----------------------------------------------------------------------------


@st.composite
def _entries(draw: st.DrawFn) -> tuple[float, list[RateStep], float, float | None, float]:
    """A patient (30-150 kg, at risk or not), a moment in the plan (the step due and the rate
    before it) and a typed rate from 0.1 mL/h to twice the label maximum."""
    kg = draw(st.floats(30, 150).map(lambda x: round(x, 1)))
    steps = _privigen(kg, at_risk=draw(st.booleans()), dose_g=draw(st.floats(10, 150)))
    planned = draw(st.sampled_from(steps)).rate_ml_per_h
    previous = draw(st.none() | st.sampled_from(steps).map(lambda s: s.rate_ml_per_h))
    label = _label_max(kg)
    rate = draw(
        st.floats(0.1, 2 * label)
        | st.sampled_from([s.rate_ml_per_h * k for s in steps for k in (0.5, 1, 2, 5, 10)])
    )
    return rate, steps, planned, previous, label


def _guard(rate: float, steps: list[RateStep], planned: float, previous: float | None,
           label: float) -> tuple[SoftLimit, ...]:  # fmt: skip
    return check_rate_entry(
        rate,
        steps=steps,
        planned_ml_per_h=planned,
        previous_ml_per_h=previous,
        weight_kg=70,
        concentration_mg_per_ml=CONCENTRATION,
        label_max_ml_per_h=label,
        rules=RULES,
    )


@given(_entries())
def test_a_rate_accepted_without_a_soft_limit_is_within_the_plan(
    entry: tuple[float, list[RateStep], float, float | None, float],
) -> None:
    """Requirement 47: whatever is typed, a rate accepted with no soft limit never exceeds the
    plan's highest step; one above it always carries the soft limit."""
    rate, steps, planned, previous, label = entry
    try:
        soft = _guard(rate, steps, planned, previous, label)
    except HardLimit:
        return
    top = max(s.rate_ml_per_h for s in steps)
    if not soft:
        assert rate <= top * (1 + 1e-9)
    else:
        assert rate > top
        assert [s.code for s in soft] == ["above-planned-maximum"]


@given(_entries())
def test_nothing_accepted_exceeds_the_label_maximum(
    entry: tuple[float, list[RateStep], float, float | None, float],
) -> None:
    """Requirement 48: no rate above the label maximum is ever accepted, soft limit or not."""
    rate, steps, planned, previous, label = entry
    rule = None
    try:
        _guard(rate, steps, planned, previous, label)
    except HardLimit as exc:
        rule = exc.rule
    if rate > label + 1e-6:
        assert rule == "label-maximum"


@given(_entries())
def test_every_planned_step_is_accepted(
    entry: tuple[float, list[RateStep], float, float | None, float],
) -> None:
    """Requirement 49: the guards never stop a planned step of the order, whatever the moment."""
    _, steps, planned, previous, label = entry
    for step in steps:
        assert _guard(step.rate_ml_per_h, steps, planned, previous, label) == ()


# --- the limits file ------------------------------------------------------------------------


def _shipped() -> dict[str, Any]:
    with resources.files("ivig").joinpath("data", "limits.toml").open("rb") as f:
        return tomllib.load(f)


def test_the_shipped_limits_load(catalogue: Catalogue) -> None:
    rules = read_limits(_shipped(), catalogue.sources)
    assert rules.fold_multiples.value == (2, 5, 10)
    assert rules == RULES
    assert rules.reason("clinical-need").label
    with pytest.raises(InvalidInput) as caught:
        rules.reason("because")
    assert caught.value.field == "reason_code"


def _set(path: str, value: Any) -> Any:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return edit


_DELETE = object()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("rate_entry.fold_multiples", _DELETE), "'fold_multiples' is missing"),
        (_set("rate_entry.fold_multiples.value", [1, 5]), "numbers above 1"),
        (_set("rate_entry.fold_multiples.value", []), "numbers above 1"),
        (_set("rate_entry.fold_multiples.value", "2x"), "numbers above 1"),
        (_set("rate_entry.fold_multiples.source", "nowhere"), "unknown source 'nowhere'"),
        (_set("rate_entry.fold_multiples.verified", _DELETE), "verified = true or false"),
        (_set("rate_entry.match_tolerance.value", -0.03), "positive number"),
        (_set("rate_entry.match_tolerance.value", True), "positive number"),
        (_set("rate_entry.wrong_field_check.value", "yes"), "true or false"),
        (_set("rate_increase.vitals_within_minutes.value", 0), "positive number"),
        (_set("rate_increase.minimum_step_share.value", math.nan), "positive number"),
        (_set("rate_increase.clock_leeway_minutes.value", -1), "0 or more"),
        (_set("rate_increase.clock_leeway_minutes.value", 1.5), "0 or more"),
        (_set("usual_dose.day_maximum_g_per_kg", _DELETE), "'day_maximum_g_per_kg' is missing"),
        (_set("usual_dose.day_maximum_g_per_kg.value", 0), "positive number"),
        (_set("override_reasons", []), "at least one"),
        (_set("override_reasons", [{"code": "x"}]), "needs a code and a label"),
        (_set("override_reasons", [{"code": "", "label": "y"}]), "needs a code and a label"),
    ],
)
def test_a_broken_limits_file_is_refused(catalogue: Catalogue, edit: Any, message: str) -> None:
    """A site's edited limits.toml is checked when read: a broken value is a CatalogueError
    naming it, never a silent default."""
    data = copy.deepcopy(_shipped())
    edit(data)
    with pytest.raises(CatalogueError, match=message):
        read_limits(data, catalogue.sources)


def test_the_soft_limits_cite_the_librarys_own_source(catalogue: Catalogue) -> None:
    """A soft limit without a source of its own (a rate above the plan, a product switch) cites
    the ISMP guideline of the library's sources.toml; a library without it is refused."""
    [above] = check_rate_entry(
        150, steps=AT_RISK, planned_ml_per_h=138.6, previous_ml_per_h=138.6, weight_kg=70,
        concentration_mg_per_ml=CONCENTRATION, label_max_ml_per_h=LABEL_MAX, rules=RULES,
    )  # fmt: skip
    assert above.source == catalogue.sources["ismp-drug-library"].cite()
    sources = {k: v for k, v in catalogue.sources.items() if k != "ismp-drug-library"}
    with pytest.raises(CatalogueError, match="'ismp-drug-library', which is missing"):
        read_limits(_shipped(), sources)


# --- the usual dose: one rule for the plan, the preview and the order (issue 14 item 11) -------

M, IND = Phase.maintenance, Phase.induction


@pytest.mark.parametrize(
    ("indication", "phase", "g_per_kg", "days", "code", "limit", "value"),
    [
        # Maintenance: 0.4-1 g/kg per infusion (NBA Criteria V3 neurology pattern, UNVERIFIED).
        ("lems", M, 1.0, 1, None, None, None),
        ("lems", M, 0.4, 1, None, None, None),
        ("cidp", M, 0.3, 1, "dose-outside-usual-range", 0.4, 0.3),
        # A single-day 2 g/kg "maintenance" dose: above the range, and more than the 1 g/kg a
        # day the labels give (Privigen US PI, CIDP: loading 2 g/kg over 2-5 consecutive days,
        # maintenance 1 g/kg in 1-2 infusions): one limit saying both.
        ("cidp", M, 2.0, 1, "dose-outside-usual-range", 1.0, 2.0),
        # Induction: 2 g/kg over 2-5 days (Privigen US PI; Ontario MG).
        ("cidp", IND, 2.0, 2, None, None, None),
        ("mg", IND, 2.0, 5, None, None, None),
        ("mg", IND, 1.6, 4, "dose-outside-usual-range", 2.0, 1.6),
    ],
)
def test_usual_dose_worked_examples(
    catalogue: Catalogue, indication: str, phase: Phase, g_per_kg: float, days: int,
    code: str | None, limit: float | None, value: float | None,
) -> None:  # fmt: skip
    found = usual_dose_limits(
        catalogue.indication(indication), phase, g_per_kg, days=days, rules=RULES
    )
    assert [(f.code, f.limit, f.value) for f in found] == ([(code, limit, value)] if code else [])


def test_a_single_day_2_g_per_kg_says_why(catalogue: Catalogue) -> None:
    [limit] = usual_dose_limits(catalogue.indication("cidp"), M, 2.0, rules=RULES)
    assert limit.message == (
        "2 g/kg per infusion is above the usual 0.4-1 g/kg for CIDP maintenance (UNVERIFIED), and "
        "more than the 1 g/kg a day the labels give: divide it over consecutive days"
    )
    assert "NBA Ig Criteria" in limit.source
    assert "Privigen" in limit.source


def test_the_day_maximum_holds_where_a_service_allows_2_g_per_kg(catalogue: Catalogue) -> None:
    # A service whose maintenance range reaches 2 g/kg (Panzyga CIDP: 1-2 g/kg "divided in 2
    # doses over 2 consecutive days") still gets the day's limit for 2 g/kg in one infusion.
    cidp = catalogue.indication("cidp")
    wide = dataclasses.replace(
        cidp,
        maintenance_dose_g_per_kg=dataclasses.replace(
            cidp.maintenance_dose_g_per_kg, value=(0.4, 2.0)
        ),
    )
    [limit] = usual_dose_limits(wide, M, 2.0, rules=RULES)
    assert (limit.code, limit.limit, limit.value, limit.unit) == (
        "dose-above-usual-day", 1.0, 2.0, "g/kg a day",
    )  # fmt: skip
    assert limit.message.startswith("2 g/kg in one infusion is more than the 1 g/kg a day")
    assert usual_dose_limits(wide, M, 1.0, rules=RULES) == ()


@given(
    dose=st.floats(0.05, 4.0),
    indication=st.sampled_from(["lems", "cidp", "mg", "mmn"]),
)
def test_a_maintenance_dose_is_flagged_exactly_outside_the_usual_range(
    dose: float, indication: str
) -> None:
    ind = LIBRARY.catalogue.indication(indication)
    low, high = ind.maintenance_dose_g_per_kg.value
    day = RULES.day_maximum_g_per_kg.value
    found = usual_dose_limits(ind, M, dose, rules=RULES)
    assert bool(found) == (not low - 1e-9 <= dose <= high + 1e-9 or dose > day + 1e-9)
    assert len(found) <= 1


@given(
    dose=st.sampled_from([0.3, 0.4, 0.8, 1.0, 1.2, 2.0]),
    indication=st.sampled_from(["lems", "cidp", "mg", "mmn"]),
    weight=st.floats(40, 150),
)
def test_the_plan_and_the_order_share_the_rule(dose: float, indication: str, weight: float) -> None:
    # The plan's findings and the order's soft limits come from one rule: the same codes.
    patient = Patient(sex=Sex.female, height_cm=170, weight_kg=weight, age=50)
    regimen = Regimen(
        indication=indication, product="privigen-us", phase=M, start=dt.date(2026, 12, 1),
        dose_g_per_kg=dose, every_weeks=6, count=1,
    )  # fmt: skip
    plan = plan_course(patient, regimen, LIBRARY)
    usual = {"dose-outside-usual-range", "dose-above-usual-day"}
    in_plan = [f.code for f in plan.findings if f.code in usual]
    in_order = [s.code for s in course_soft_limits(plan, regimen, RULES) if s.code in usual]
    assert in_plan == in_order
    assert bool(in_plan) == (not 0.4 <= dose <= 1.0)
