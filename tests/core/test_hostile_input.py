"""Hostile input through the clinical core (issue 8, "Bad input").

``test_invariants.py`` checks plans built from well-formed input. Here every input may be hostile:
NaN, infinities, -0.0, subnormals, 1e308 and integers too large for a float; empty, blank,
unicode and very long text; date.min and date.max; unknown ids and codes; absurd regimens
(0 or 10**9 doses, an interval of 0 or -1 weeks, an induction over 0 or 99 days, a dose of
1e308 g/kg); weights and heights at and beyond the plausible bounds.

The property, for every public entry point of the core: the call either returns a result that
keeps every invariant (no 28-day window above the cap, step volumes summing to the dose volume,
no rate above the product's maximum, whole vials covering the dose, every number finite and not
negative) or raises an :class:`~ivig.errors.IvigError` child with a message and the field at
fault. Never another exception, and never unbounded work (each call is timed).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import given
from hypothesis import strategies as st

from ivig.core.dosing import (
    MAX_DOSES,
    GivenDose,
    check_under_cap,
    earliest_allowed_date,
    induction_dates,
    maintenance_dates,
    rolling_cap,
    round_to_vials,
    worst_window,
)
from ivig.core.library import packaged_library
from ivig.core.limits import (
    check_rate_entry,
    course_soft_limits,
    label_maximum_ml_per_h,
)
from ivig.core.monitoring import (
    check_vitals,
    checks_due,
    classify_symptoms,
    observation_minutes,
    recommended_action,
    vitals_schedule,
)
from ivig.core.plan import Patient, Phase, Plan, Regimen, plan_course
from ivig.core.rates import RampStep, clock_times, rate_ramp, rate_steps
from ivig.core.renal import CreatinineUnit, ckd_epi_2021, cockcroft_gault, creatinine_mg_dl
from ivig.core.screening import assess_risks, check_risk_codes
from ivig.core.weights import Sex, WeightBasis, dosing_weight
from ivig.errors import IvigError

T = TypeVar("T")

LIBRARY = packaged_library()
CATALOGUE = LIBRARY.catalogue
PROTOCOL = LIBRARY.monitoring
PRODUCTS = sorted(CATALOGUE.products)
PLANNABLE = sorted(p.id for p in CATALOGUE.products.values() if p.schedules)
INDICATIONS = sorted(CATALOGUE.indications)
RISK_CODES = sorted(CATALOGUE.risks)
SLOWEST_CALL_S = 5.0  # a call that takes longer is treated as a hang: the work must be bounded
D = dt.date

# --- hostile values ---------------------------------------------------------------------------

_SPECIAL_FLOATS = [
    0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 1e-9, 1e300,
    1.7976931348623157e308, -1.7976931348623157e308, math.inf, -math.inf, math.nan, -1.0,
]  # fmt: skip
HUGE_INTS = st.sampled_from([10**400, -(10**400), 10**5000, 2**63, -(2**63)])
ANY_FLOAT = st.one_of(
    st.floats(),  # NaN, infinities, subnormals, huge
    st.sampled_from(_SPECIAL_FLOATS),
    st.integers(-(10**20), 10**20),
    HUGE_INTS,
)
ANY_INT = st.one_of(
    st.integers(),
    st.sampled_from([-1, 0, 1, 2, 7, 99, 100, 101, 1000, 10**9]),
    HUGE_INTS,
)
ANY_TEXT = st.one_of(
    st.text(),
    st.sampled_from(
        ["", " ", "\t\n", "\x00", "LEMS", "lems ", " lems", "Ω≈ç√", "x" * 100_000,
         "privigen-us\n", "'; DROP TABLE patient; --", "../../etc/passwd"]
    ),
)  # fmt: skip
ANY_DATE = st.one_of(
    st.dates(),
    st.sampled_from(
        [D.min, D.max, D(1899, 12, 31), D(1900, 1, 1), D(2199, 12, 31), D(2200, 1, 1),
         D(9999, 12, 1)]
    ),
)  # fmt: skip
NEAR_DATE = st.dates(D(2025, 6, 1), D(2027, 6, 30))


def _around(*bounds: float) -> st.SearchStrategy[float]:
    """Each bound and the floats just either side of it."""
    values = []
    for b in bounds:
        values += [math.nextafter(b, -math.inf), b, math.nextafter(b, math.inf)]
    return st.sampled_from(values)


def mostly(good: st.SearchStrategy[T], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a plausible value, so that a call gets deep; sometimes a hostile one."""
    return st.one_of(good, good, good, bad)


WEIGHTS = mostly(st.floats(0.5, 400), st.one_of(ANY_FLOAT, _around(1, 350)))
HEIGHTS = mostly(st.floats(30, 260), st.one_of(ANY_FLOAT, _around(40, 152, 250)))
AGES = mostly(st.integers(-2, 125), ANY_INT)
G_PER_KG = mostly(st.floats(0.01, 5), st.one_of(ANY_FLOAT, _around(0.05, 4)))
IDS = mostly(st.sampled_from(PRODUCTS), ANY_TEXT)
INDICATION_IDS = mostly(st.sampled_from(INDICATIONS), ANY_TEXT)
RISKS = st.frozensets(mostly(st.sampled_from(RISK_CODES), ANY_TEXT), max_size=4)
DOSES = st.builds(
    GivenDose, date=mostly(NEAR_DATE, ANY_DATE), grams=mostly(st.floats(1, 200), ANY_FLOAT)
)

patients = st.builds(
    Patient,
    sex=st.sampled_from(Sex),
    height_cm=HEIGHTS,
    weight_kg=WEIGHTS,
    age=AGES,
    pregnant=st.booleans(),
    risks=RISKS,
    egfr=st.none() | mostly(st.floats(1, 200), ANY_FLOAT),
    creatinine=st.none() | mostly(st.floats(10, 2000), ANY_FLOAT),
    creatinine_unit=st.sampled_from(CreatinineUnit),
)
regimens = st.builds(
    Regimen,
    indication=INDICATION_IDS,
    product=mostly(st.sampled_from(PLANNABLE), IDS),
    phase=st.sampled_from(Phase),
    start=mostly(NEAR_DATE, ANY_DATE),
    total_g_per_kg=st.none() | G_PER_KG,
    days=st.none() | mostly(st.integers(1, 6), ANY_INT),
    dose_g_per_kg=st.none() | G_PER_KG,
    every_weeks=st.none() | mostly(st.integers(1, 7), ANY_INT),
    count=st.none() | mostly(st.integers(0, MAX_DOSES + 1), ANY_INT),
    until=st.none() | mostly(st.dates(D(2026, 1, 1), D(2032, 1, 1)), ANY_DATE),
    weight_basis=st.sampled_from(WeightBasis),
    first_infusion=st.booleans(),
    history=st.lists(DOSES, max_size=6).map(tuple),
    other_doses=st.lists(DOSES, max_size=4).map(tuple),
    previous_product=st.none() | IDS,
    last_infusion=st.none() | mostly(NEAR_DATE, ANY_DATE),
)


# --- the property -----------------------------------------------------------------------------


def outcome(call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """The call's result, or ``None`` when it refused with a proper IvigError; anything else
    (another exception, or more than SLOWEST_CALL_S seconds) fails the test."""
    started = time.perf_counter()
    refused: IvigError | None = None
    try:
        result: T | None = call(*args, **kwargs)
    except IvigError as exc:
        refused, result = exc, None
    if refused is not None:
        assert isinstance(refused.message, str)
        assert refused.message.strip(), refused
        assert isinstance(refused.field, str)
        assert refused.field.strip(), (refused.field, refused.message)
        assert str(refused) == refused.message
        json.dumps(refused.body(), allow_nan=False)  # the API can send it
    elapsed = time.perf_counter() - started
    assert elapsed < SLOWEST_CALL_S, f"{call.__name__} took {elapsed:.1f} s: unbounded work"
    return result


def _numbers(data: Any, path: str = "") -> list[tuple[str, float]]:
    """Every number in JSON-like data, with its path."""
    if isinstance(data, bool) or data is None or isinstance(data, str):
        return []
    if isinstance(data, int | float):
        return [(path, float(data))]
    if isinstance(data, dict):
        return [n for k, v in data.items() for n in _numbers(v, f"{path}.{k}")]
    return [n for i, v in enumerate(data) for n in _numbers(v, f"{path}[{i}]")]


def check_plan(plan: Plan) -> None:
    """Every invariant a plan keeps, whatever it was asked."""
    data = plan.as_dict()
    json.dumps(data, allow_nan=False)
    for path, number in _numbers(data):
        assert math.isfinite(number), path
        assert number >= 0 or path.endswith("deviation_pct"), (path, number)
    weight = plan.dosing_weight.kg
    assert math.isfinite(weight)
    assert weight > 0
    window_days = plan.indication.cap_window_days.value
    doses = [*plan.history, *(GivenDose(d.date, d.vials.total_g) for d in plan.doses)]
    assert plan.doses
    assert len(plan.doses) <= MAX_DOSES
    for dose in plan.doses:
        # the rolling cap, counting every other dose
        assert worst_window(doses, dose.date, window_days).grams <= plan.cap_g + 1e-6
        # whole vials of the product's sizes make the dose
        sizes = plan.product.vial_sizes_g.value
        assert dose.vials.vials
        assert all(s in sizes and n > 0 for s, n in dose.vials.vials)
        assert math.isclose(sum(s * n for s, n in dose.vials.vials), dose.vials.total_g)
        assert dose.vials.total_g > 0
        # the steps give the dose volume, contiguously, at or below the maximum rate
        assert math.isclose(sum(s.volume_ml for s in dose.steps), dose.volume_ml, abs_tol=1e-6)
        assert dose.steps[0].start_min == 0
        for before, after in zip(dose.steps, dose.steps[1:], strict=False):
            assert before.end_min == after.start_min
        label_top = plan.schedule.mg_per_kg_per_min(
            plan.schedule.maximum, plan.product.concentration
        )
        assert plan.maximum_mg_per_kg_per_min <= label_top + 1e-9
        pump_top = plan.maximum_mg_per_kg_per_min * weight * 60 / plan.product.concentration
        for step in dose.steps:
            assert 0 < step.rate_mg_per_kg_per_min <= plan.maximum_mg_per_kg_per_min + 1e-9
            assert 0 < step.rate_ml_per_h <= pump_top + 1e-9
            assert step.volume_ml > 0
            assert step.end_min > step.start_min
    assert plan.max_window_g <= plan.cap_g + 1e-6


# --- whole plans ------------------------------------------------------------------------------


@given(patients, regimens)
def test_any_patient_and_regimen_plans_safely_or_is_refused(
    patient: Patient, regimen: Regimen
) -> None:
    plan = outcome(plan_course, patient, regimen, LIBRARY)
    if plan is not None:
        check_plan(plan)
        soft = outcome(course_soft_limits, plan, regimen, LIBRARY.limits)
        for limit in soft or ():
            json.dumps(limit.as_dict(), allow_nan=False)
        top = outcome(label_maximum_ml_per_h, plan)
        assert top is not None
        assert math.isfinite(top)
        assert top > 0


ADULT = Patient(sex=Sex.female, height_cm=165, weight_kg=70, age=50)
ABSURD = [
    # no doses, a thousand doses, a billion doses, none and both of count and until
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": 4, "count": 0},
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": 4, "count": 1000},
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": 4, "count": 10**9},
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": 4, "count": 10**5000},
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": 4},
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": 4, "count": 3,
     "until": D(2027, 1, 1)},
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": 4, "until": D.max},
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": 4, "until": D(2199, 12, 31)},
    # an interval of 0, negative or absurd weeks
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": 0, "count": 3},
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": -1, "count": 3},
    {"phase": Phase.maintenance, "dose_g_per_kg": 1, "every_weeks": 10**400, "count": 3},
    # an induction over 0 or 99 days
    {"phase": Phase.induction, "days": 0},
    {"phase": Phase.induction, "days": -1},
    {"phase": Phase.induction, "days": 99},
    {"phase": Phase.induction, "days": 10**5000},
    # a dose of 0, negative, NaN, infinite, 1e308 g/kg
    *({"phase": Phase.induction, "days": 2, "total_g_per_kg": g}
      for g in (0.0, -0.0, -1.0, 5e-324, math.nan, math.inf, 1e308, 10**400)),
    *({"phase": Phase.maintenance, "every_weeks": 4, "count": 2, "dose_g_per_kg": g}
      for g in (None, 0.0, -2.0, math.nan, -math.inf, 1e308)),
    # dates at the ends of the calendar
    {"phase": Phase.induction, "days": 2, "start": D.min},
    {"phase": Phase.induction, "days": 2, "start": D.max},
    {"phase": Phase.induction, "days": 2, "last_infusion": D.max},
    {"phase": Phase.induction, "days": 2, "history": (GivenDose(D.min, 10),)},
    {"phase": Phase.induction, "days": 2, "other_doses": (GivenDose(D.max, 10),)},
    {"phase": Phase.induction, "days": 2, "other_doses": (GivenDose(D.min, 10),)},
    {"phase": Phase.induction, "days": 2, "other_doses": (GivenDose(D(2026, 12, 2), 1e308),) * 3},
    # unknown and hostile ids
    {"phase": Phase.induction, "days": 2, "product": ""},
    {"phase": Phase.induction, "days": 2, "indication": " \t"},
    {"phase": Phase.induction, "days": 2, "previous_product": "x" * 100_000},
]  # fmt: skip


def test_absurd_regimens_are_refused_or_planned_safely() -> None:
    for changes in ABSURD:
        args: dict[str, Any] = {
            "indication": "cidp", "product": "privigen-us", "start": D(2026, 12, 1), **changes
        }  # fmt: skip
        plan = outcome(plan_course, ADULT, Regimen(**args), LIBRARY)
        if plan is not None:
            check_plan(plan)


def test_a_long_history_is_handled_in_bounded_time() -> None:
    # Thirty years of weekly 5-day courses (7,800 doses) on record, some on the same days as
    # the plan: the cap check and the suggestions stay fast.
    start = D(2026, 12, 1)
    history = tuple(
        GivenDose(start - dt.timedelta(days=i * 7 + k), 10.0)
        for i in range(1, 1561)
        for k in range(5)
    )
    for phase_args in (
        {"phase": Phase.induction, "days": 5},
        {"phase": Phase.maintenance, "dose_g_per_kg": 2.0, "every_weeks": 2, "count": MAX_DOSES},
    ):
        regimen = Regimen(
            indication="cidp", product="privigen-us", start=start, history=history,
            other_doses=history[:2000:7], **phase_args,  # type: ignore[arg-type]
        )  # fmt: skip
        plan = outcome(plan_course, ADULT, regimen, LIBRARY)
        if plan is not None:
            check_plan(plan)


# --- weights and kidneys ----------------------------------------------------------------------


@given(
    sex=st.sampled_from(Sex),
    height=HEIGHTS,
    weight=WEIGHTS,
    age=AGES,
    pregnant=st.booleans(),
    basis=st.sampled_from(WeightBasis),
)
def test_dosing_weight(
    sex: Sex, height: float, weight: float, age: int, pregnant: bool, basis: WeightBasis
) -> None:
    w = outcome(
        dosing_weight,
        sex=sex,
        height_cm=height,
        weight_kg=weight,
        age=age,
        pregnant=pregnant,
        basis=basis,
    )
    if w is not None:
        # every weight a dose can be computed on: at least the smallest plausible body weight
        assert 1.0 <= w.kg <= 350.0
        for number in (w.kg, w.actual_kg, w.bmi):
            assert math.isfinite(number)
            assert number > 0
        # no ideal or adjusted weight under 152 cm (the Devine formula misbehaves there)
        assert (w.ideal_kg is None) == (w.adjusted_kg is None) == (height < 152)
        if w.ideal_kg is not None and w.adjusted_kg is not None:
            assert math.isfinite(w.ideal_kg)
            assert math.isfinite(w.adjusted_kg)
        assert w.checked_kg <= w.kg


@given(
    value=mostly(st.floats(0.05, 3000), ANY_FLOAT),
    unit=st.sampled_from(CreatinineUnit),
    age=AGES,
    weight=WEIGHTS,
    sex=st.sampled_from(Sex),
)
def test_kidney_function(
    value: float, unit: CreatinineUnit, age: int, weight: float, sex: Sex
) -> None:
    mg_dl = outcome(creatinine_mg_dl, value, unit)
    if mg_dl is not None:
        assert math.isfinite(mg_dl)
        assert mg_dl > 0
    for scr in (value,) if mg_dl is None else (value, mg_dl):
        egfr = outcome(ckd_epi_2021, scr, age, sex)
        if egfr is not None:
            assert isinstance(egfr, float)
            assert math.isfinite(egfr)
            assert egfr > 0
        crcl = outcome(cockcroft_gault, scr, age, weight, sex)
        if crcl is not None:
            assert isinstance(crcl, float)
            assert math.isfinite(crcl)
            assert crcl > 0


# --- dates, the cap and vials -----------------------------------------------------------------


@given(
    start=ANY_DATE,
    every=ANY_INT,
    count=st.none() | ANY_INT,
    until=st.none() | ANY_DATE,
    days=ANY_INT,
)
def test_course_dates(
    start: dt.date, every: int, count: int | None, until: dt.date | None, days: int
) -> None:
    dates = outcome(maintenance_dates, start, every, count=count, until=until)
    if dates is not None:
        assert 1 <= len(dates) <= MAX_DOSES
        assert dates == sorted(set(dates))
    dates = outcome(induction_dates, start, days)
    if dates is not None:
        assert 1 <= len(dates) <= MAX_DOSES
        assert dates == sorted(set(dates))


@given(
    doses=st.lists(DOSES, max_size=12),
    earlier=st.lists(DOSES, max_size=12),
    day=mostly(NEAR_DATE, ANY_DATE),
    window=mostly(st.integers(1, 60), ANY_INT),
    cap=mostly(st.floats(10, 400), ANY_FLOAT),
    weight=mostly(st.floats(1, 350), ANY_FLOAT),
    grams=mostly(st.floats(1, 200), ANY_FLOAT),
)
def test_the_rolling_cap(
    doses: list[GivenDose],
    earlier: list[GivenDose],
    day: dt.date,
    window: int,
    cap: float,
    weight: float,
    grams: float,
) -> None:
    found = outcome(worst_window, doses, day, window)
    if found is not None:
        assert found.start <= day <= found.end
        assert math.isfinite(found.grams)
        assert found.grams >= 0
    peak = outcome(rolling_cap, doses, window)
    if peak is not None:
        assert math.isfinite(peak.grams)
        assert peak.grams >= 0
    after = outcome(earliest_allowed_date, grams, day, doses, cap, window)
    if after is not None:
        assert after >= day
    if doses:
        outcome(
            check_under_cap, doses, earlier, cap_g=cap, weight_kg=weight, window_days=window,
            field="dose", indication="LEMS", suggest_date=True,
        )  # fmt: skip


@given(
    prescribed=mostly(st.floats(0.1, 500), ANY_FLOAT),
    sizes=mostly(
        st.lists(st.sampled_from([0.5, 1, 2.5, 5, 10, 20, 40]), min_size=1, max_size=4),
        st.lists(ANY_FLOAT, max_size=4),
    ),
    room=st.none() | mostly(st.floats(0, 500), ANY_FLOAT),
)
def test_whole_vials(prescribed: float, sizes: list[float], room: float | None) -> None:
    pick = outcome(round_to_vials, prescribed, sizes, max_g=room)
    if pick is not None:
        # sizes as given (to float noise: 0.1 + 2e-17 g is the 0.1 g vial)
        assert pick.vials
        assert all(n > 0 for _, n in pick.vials)
        assert all(any(math.isclose(s, g, rel_tol=1e-9) for g in sizes) for s, _ in pick.vials)
        assert math.isfinite(pick.total_g)
        assert pick.total_g > 0
        assert math.isclose(sum(s * n for s, n in pick.vials), pick.total_g)
        if room is not None:
            assert pick.total_g <= room + 1e-6


# --- rates ------------------------------------------------------------------------------------

SCHEDULES = [(p, s) for p in CATALOGUE.products.values() for s in p.schedules]


@given(
    which=st.integers(0, len(SCHEDULES) - 1),
    at_risk=st.booleans(),
    first=st.booleans(),
    dose_ml=mostly(st.floats(1, 5000), ANY_FLOAT),
    weight=mostly(st.floats(1, 350), ANY_FLOAT),
    concentration=mostly(st.sampled_from([50.0, 100.0, 200.0]), ANY_FLOAT),
    ramp=st.none() | st.lists(
        st.builds(RampStep, mostly(st.floats(0.01, 10), ANY_FLOAT),
                  st.none() | mostly(st.integers(1, 60), ANY_INT), ANY_TEXT),
        max_size=5,
    ),
)  # fmt: skip
def test_rate_steps(
    which: int,
    at_risk: bool,
    first: bool,
    dose_ml: float,
    weight: float,
    concentration: float,
    ramp: list[RampStep] | None,
) -> None:
    product, schedule = SCHEDULES[which]
    nominal, maximum, _, _ = rate_ramp(
        schedule, product, CATALOGUE.protocol, at_risk=at_risk, lowest_start=first
    )
    steps = outcome(
        rate_steps, nominal if ramp is None else ramp, dose_ml=dose_ml, weight_kg=weight,
        concentration_mg_per_ml=concentration,
    )  # fmt: skip
    if steps is not None:
        assert steps
        assert steps[0].start_min == 0
        assert math.isclose(sum(s.volume_ml for s in steps), dose_ml, rel_tol=1e-9, abs_tol=1e-6)
        top = max(r.mg_per_kg_per_min for r in (nominal if ramp is None else ramp))
        for before, after in itertools.pairwise(steps):
            assert before.end_min == after.start_min
        for s in steps:
            for number in (s.start_min, s.end_min, s.rate_ml_per_h, s.volume_ml):
                assert math.isfinite(number)
                assert number >= 0
            assert s.end_min > s.start_min
            assert s.volume_ml > 0
            assert s.rate_ml_per_h > 0
            assert s.rate_ml_per_h <= top * weight * 60 / concentration + 1e-9
            if ramp is None:
                assert s.rate_mg_per_kg_per_min <= maximum + 1e-9


# --- screening and limits ---------------------------------------------------------------------


@given(codes=RISKS, age=AGES, egfr=st.none() | mostly(st.floats(1, 200), ANY_FLOAT))
def test_risk_assessment(codes: frozenset[str], age: int, egfr: float | None) -> None:
    outcome(check_risk_codes, codes, CATALOGUE)
    risks = outcome(assess_risks, codes, age=age, egfr=egfr, catalogue=CATALOGUE)
    if risks is not None:
        assert risks.codes >= codes


_REFERENCE = plan_course(
    Patient(sex=Sex.male, height_cm=180, weight_kg=100, age=60),
    Regimen(indication="lems", product="privigen-us", phase=Phase.induction,
            start=D(2026, 12, 1), days=2),
    LIBRARY,
)  # fmt: skip
_STEPS = _REFERENCE.doses[0].steps
_LABEL_MAX = label_maximum_ml_per_h(_REFERENCE)
RATES = mostly(st.floats(0.1, 1000), st.one_of(ANY_FLOAT, _around(_LABEL_MAX)))


@given(
    rate=RATES,
    planned=mostly(st.sampled_from([s.rate_ml_per_h for s in _STEPS]), ANY_FLOAT),
    previous=st.none() | RATES,
    weight=mostly(st.just(85.0), ANY_FLOAT),
    concentration=mostly(st.just(100.0), ANY_FLOAT),
    label_max=mostly(st.just(_LABEL_MAX), ANY_FLOAT),
    reason=ANY_TEXT,
)
def test_rate_entry(
    rate: float,
    planned: float,
    previous: float | None,
    weight: float,
    concentration: float,
    label_max: float,
    reason: str,
) -> None:
    soft = outcome(
        check_rate_entry, rate, steps=_STEPS, planned_ml_per_h=planned,
        previous_ml_per_h=previous, weight_kg=weight, concentration_mg_per_ml=concentration,
        label_max_ml_per_h=label_max, rules=LIBRARY.limits,
    )  # fmt: skip
    if soft is not None:
        # accepted: a finite positive rate, never above the label's maximum
        assert math.isfinite(rate)
        assert 0 < rate <= label_max + 1e-6
        for limit in soft:
            json.dumps(limit.as_dict(), allow_nan=False)
    outcome(LIBRARY.limits.reason, reason)


# --- monitoring -------------------------------------------------------------------------------

VITALS = mostly(st.floats(0, 300), ANY_FLOAT)
MOMENTS = st.one_of(
    st.datetimes(dt.datetime(2026, 11, 25), dt.datetime(2026, 11, 27)),
    st.datetimes(),
    st.sampled_from([dt.datetime.min, dt.datetime.max]),
    st.datetimes(timezones=st.just(dt.UTC)),
)


@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            name: st.none() | VITALS
            for name in ("temperature_c", "pulse_per_min", "systolic_mm_hg", "diastolic_mm_hg",
                         "respiratory_rate_per_min", "spo2_percent")
        },
    ),
    severity=mostly(st.sampled_from(["mild", "moderate", "severe"]), ANY_TEXT),
    current=RATES,
    tolerated=st.none() | RATES,
    today=AGES,
    symptoms=st.lists(mostly(st.sampled_from(["headache", "Back pain", "anaphylaxis"]), ANY_TEXT),
                      max_size=3),
    first=st.booleans(),
    switch=st.booleans(),
    gap=st.none() | AGES,
    observe=mostly(st.floats(0, 200), ANY_FLOAT),
    started=MOMENTS,
    now=MOMENTS,
    recorded=st.lists(MOMENTS, max_size=4),
    grace=st.none() | mostly(st.floats(0, 60), ANY_FLOAT),
)  # fmt: skip
def test_monitoring(
    values: dict[str, float | None],
    severity: str,
    current: float,
    tolerated: float | None,
    today: int,
    symptoms: list[str],
    first: bool,
    switch: bool,
    gap: int | None,
    observe: float,
    started: dt.datetime,
    now: dt.datetime,
    recorded: list[dt.datetime],
    grace: float | None,
) -> None:
    flags = outcome(check_vitals, **values, protocol=PROTOCOL)
    for flag in flags or ():
        assert flag.message
    advice = outcome(
        recommended_action, severity, current_rate_ml_per_h=current,
        last_tolerated_ml_per_h=tolerated, reactions_today=today, protocol=PROTOCOL,
    )  # fmt: skip
    if advice is not None and advice.restart_max_ml_per_h is not None:
        assert 0 < advice.restart_max_ml_per_h <= current
    outcome(classify_symptoms, symptoms, protocol=PROTOCOL)
    period = outcome(
        observation_minutes, first_infusion=first, product_switch=switch, gap_days=gap,
        protocol=PROTOCOL,
    )  # fmt: skip
    if period is not None:
        assert period.minutes > 0
    schedule = outcome(vitals_schedule, _STEPS, observation_minutes=observe, protocol=PROTOCOL)
    if schedule is not None:
        minutes = [c.minute for c in schedule]
        assert minutes == sorted(minutes)
        assert all(math.isfinite(m) and m >= 0 for m in minutes)
        outcome(checks_due, schedule, started_at=started, recorded=recorded, now=now,
                grace_minutes=grace, protocol=PROTOCOL)  # fmt: skip
    times = outcome(clock_times, _STEPS, started)
    if times is not None:
        assert all(begin < end for begin, end in times)
