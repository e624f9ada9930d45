"""Rate steps: label tables, protocol doubling, at-risk caps, pump rates and volumes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivig.core.catalogue import Catalogue, RateSchedule
from ivig.core.library import packaged_library
from ivig.core.rates import clock_times, rate_ramp, rate_steps


def _schedule(catalogue: Catalogue, product_id: str, group: str) -> RateSchedule:
    return next(s for s in catalogue.product(product_id).schedules if s.group == group)


def _steps(
    catalogue: Catalogue,
    product_id: str,
    group: str,
    *,
    kg: float,
    dose_g: float,
    at_risk: bool = False,
    first_infusion: bool = True,
) -> list[tuple[float, float, float, float, float]]:
    product = catalogue.product(product_id)
    ramp, _, _, _ = rate_ramp(
        _schedule(catalogue, product_id, group),
        product,
        catalogue.protocol,
        at_risk=at_risk,
        lowest_start=first_infusion,
    )
    steps = rate_steps(
        ramp,
        dose_ml=dose_g * 1000 / product.concentration,
        weight_kg=kg,
        concentration_mg_per_ml=product.concentration,
    )
    return [
        (s.start_min, s.end_min, s.rate_ml_per_h, s.rate_mg_per_kg_per_min, s.volume_ml)
        for s in steps
    ]


def test_octagam_10_table_1(catalogue: Catalogue) -> None:
    # Octagam 10% US label, chronic ITP, Table 1 (products.md section 4): 30 min at 1, then
    # 2, 4, 8 mg/kg/min for 30 min each, maximum 12 mg/kg/min (0.01..0.12 mL/kg/min).
    # 70 kg: mL/h = mL/kg/min x kg x 60 -> 42, 84, 168, 336, 504 mL/h.
    # 70 g = 700 mL: 21 + 42 + 84 + 168 = 315 mL in 2 h, then 385 mL at 504 mL/h = 45.8 min.
    assert _steps(catalogue, "octagam-10", "itp", kg=70, dose_g=70) == [
        (0, 30, 42.0, 1.0, 21.0),
        (30, 60, 84.0, 2.0, 42.0),
        (60, 90, 168.0, 4.0, 84.0),
        (90, 120, 336.0, 8.0, 168.0),
        (120, 165.8, 504.0, 12.0, 385.0),
    ]


def test_gammaplex_10_protocol_table(catalogue: Catalogue) -> None:
    # Gammaplex 10% pivotal-trial protocol on gammaplex.com (products.md section 8): 15 min each
    # at 0.005, 0.01, 0.02, 0.04, 0.06 mL/kg/min, then 0.08 mL/kg/min (8 mg/kg/min) to the end.
    # 70 kg: 21, 42, 84, 168, 252, 336 mL/h; volumes 5.25, 10.5, 21, 42, 63 mL.
    # 35 g = 350 mL: 141.75 mL in 75 min, then 208.25 mL at 336 mL/h = 37.2 min.
    assert _steps(catalogue, "gammaplex-10", "pi", kg=70, dose_g=35) == [
        (0, 15, 21.0, 0.5, 5.25),
        (15, 30, 42.0, 1.0, 10.5),
        (30, 45, 84.0, 2.0, 21.0),
        (45, 60, 168.0, 4.0, 42.0),
        (60, 75, 252.0, 6.0, 63.0),
        (75, 112.2, 336.0, 8.0, 208.25),
    ]


def test_gammaplex_10_later_infusions_start_higher(catalogue: Catalogue) -> None:
    # "patients who tolerated the first infusion ... could begin subsequent infusions at
    # 0.01 mL/kg/min" (products.md section 8)
    steps = _steps(catalogue, "gammaplex-10", "pi", kg=70, dose_g=35, first_infusion=False)
    assert steps[0][2:4] == (42.0, 1.0)
    assert [s[3] for s in steps] == [1.0, 2.0, 4.0, 6.0, 8.0]


def test_privigen_cidp_doubles_by_protocol(catalogue: Catalogue) -> None:
    # Privigen US CIDP: 0.5 -> 8 mg/kg/min "as tolerated", no interval stated: the service
    # protocol doubles every 30 min. 85 kg, 85 g = 850 mL: 25.5, 51, 102, 204, 408 mL/h;
    # 191.25 mL in 2 h, then 658.75 mL at 408 mL/h = 96.9 min.
    assert _steps(catalogue, "privigen-us", "cidp", kg=85, dose_g=85) == [
        (0, 30, 25.5, 0.5, 12.75),
        (30, 60, 51.0, 1.0, 25.5),
        (60, 90, 102.0, 2.0, 51.0),
        (90, 120, 204.0, 4.0, 102.0),
        (120, 216.9, 408.0, 8.0, 658.75),
    ]


def test_privigen_eu_in_ml_per_kg_h(catalogue: Catalogue) -> None:
    # Privigen EU: 0.3 mL/kg/h for about 30 min, gradually to 4.8 mL/kg/h (products.md section 1)
    # 85 kg: 25.5, 51, 102, 204, 408 mL/h (mL/kg/h x kg), i.e. 0.5 ... 8 mg/kg/min
    steps = _steps(catalogue, "privigen-eu", "general", kg=85, dose_g=85)
    assert [s[2] for s in steps] == [25.5, 51.0, 102.0, 204.0, 408.0]
    assert [s[3] for s in steps] == pytest.approx([0.5, 1, 2, 4, 8])


def test_five_percent_product_doubles_the_volume(catalogue: Catalogue) -> None:
    # Octagam 5% US PI: 0.5 -> 3.33 mg/kg/min; at 50 mg/mL, 0.5 mg/kg/min x 70 kg = 42 mL/h
    steps = _steps(catalogue, "octagam-5", "pi", kg=70, dose_g=35)
    assert steps[0][2] == 42.0
    assert steps[-1][3] == pytest.approx(3.33)
    assert sum(s[4] for s in steps) == pytest.approx(700)


def test_bivigam_fixed_increment(catalogue: Catalogue) -> None:
    # Bivigam: 0.5 mg/kg/min for 10 min, then +0.8 every 20 min up to 6 (products.md section 9)
    steps = _steps(catalogue, "bivigam", "pi", kg=70, dose_g=70)
    assert [s[3] for s in steps] == pytest.approx([0.5, 1.3, 2.1, 2.9, 3.7, 4.5, 5.3, 6.0])
    assert [s[0] for s in steps[:3]] == [0, 10, 30]


def test_at_risk_cap_from_the_label(catalogue: Catalogue) -> None:
    # Octagam 10%: "not to exceed 3.3 mg/kg/min (0.03 mL/kg/min)" for patients at risk
    steps = _steps(catalogue, "octagam-10", "itp", kg=70, dose_g=70, at_risk=True)
    assert [s[3] for s in steps] == [1.0, 2.0, 3.3]
    assert steps[-1][2] == 138.6  # 3.3 x 70 x 60 / 100


def test_at_risk_cap_from_the_protocol_when_the_label_has_none(catalogue: Catalogue) -> None:
    product = catalogue.product("privigen-us")
    schedule = _schedule(catalogue, "privigen-us", "cidp")
    ramp, maximum, source, parts = rate_ramp(
        schedule, product, catalogue.protocol, at_risk=True, lowest_start=True
    )
    assert maximum == 3.3
    assert source is catalogue.protocol.at_risk_max_mg_per_kg_min
    assert ramp[-1].basis == "at-risk cap (protocol)"
    assert any("at-risk maximum" in p for p in parts)


@pytest.mark.parametrize(
    ("product_id", "group", "kg", "last_ml_h", "basis"),
    [
        # Bivigam: "a maximum infusion rate of less [than] 2 mg/kg/min" (Skyscape monograph,
        # UNVERIFIED; issue 14, item 12): 2 x 60 x 60 / 100 = 72 mL/h exactly, so the pump runs
        # one 0.1 mL/h step under it: 71.9 mL/h, never 72
        ("bivigam", "pi", 60, 71.9, "at-risk cap, stays below (UNVERIFIED)"),
        # 61 kg: 2 x 61 x 60 / 100 = 73.2 mL/h, rounded down is 73.2 = the cap: 73.1
        ("bivigam", "pi", 61, 73.1, "at-risk cap, stays below (UNVERIFIED)"),
        # 60.5 kg: 72.6 mL/h exactly: 72.5
        ("bivigam", "pi", 60.5, 72.5, "at-risk cap, stays below (UNVERIFIED)"),
        # Gammagard Liquid: "less than 3.3 mg/kg/min (< 2 mL/kg/hr)" (UNVERIFIED label copy):
        # 3.3 x 70 x 60 / 100 = 138.6 mL/h: 138.5
        ("gammagard-liquid", "cidp", 70, 138.5, "at-risk cap, stays below (UNVERIFIED)"),
        # Octagam 10%: "not to exceed 3.3 mg/kg/min" (verified label): up to 138.6 mL/h
        ("octagam-10", "itp", 70, 138.6, "at-risk cap (label)"),
    ],
)
def test_a_less_than_cap_keeps_the_pump_below_it(
    catalogue: Catalogue, product_id: str, group: str, kg: float, last_ml_h: float, basis: str
) -> None:
    product = catalogue.product(product_id)
    ramp, maximum, source, _ = rate_ramp(
        _schedule(catalogue, product_id, group), product, catalogue.protocol,
        at_risk=True, lowest_start=True,
    )  # fmt: skip
    assert source is product.at_risk_max_mg_per_kg_min
    assert ramp[-1].basis == basis
    steps = rate_steps(
        ramp, dose_ml=500, weight_kg=kg, concentration_mg_per_ml=product.concentration
    )
    assert steps[-1].rate_ml_per_h == last_ml_h
    cap_ml_h = maximum * kg * 60 / product.concentration
    if product.at_risk_max_exclusive:
        assert all(s.rate_ml_per_h < cap_ml_h for s in steps)
    else:
        assert all(s.rate_ml_per_h <= cap_ml_h + 1e-9 for s in steps)


def test_a_later_start_only_when_the_caller_allows_it(catalogue: Catalogue) -> None:
    # Gammaplex 10% protocol: 0.5 mg/kg/min first; 1 mg/kg/min for later infusions
    lowest = _steps(catalogue, "gammaplex-10", "pi", kg=70, dose_g=70)
    later = _steps(catalogue, "gammaplex-10", "pi", kg=70, dose_g=70, first_infusion=False)
    assert (lowest[0][3], later[0][3]) == (0.5, 1.0)


def test_small_dose_ends_before_the_maximum(catalogue: Catalogue) -> None:
    # 5 g = 50 mL at 85 kg: 12.75 mL in the first 30 min, 25.5 in the next, 11.75 left at 102 mL/h
    steps = _steps(catalogue, "privigen-us", "cidp", kg=85, dose_g=5)
    assert len(steps) == 3
    assert steps[-1][4] == pytest.approx(11.75)
    assert steps[-1][1] == pytest.approx(60 + 11.75 / 102 * 60, abs=0.05)


def test_clock_times() -> None:
    from ivig.core.rates import RateStep

    steps = (RateStep(0, 30, 25.5, 0.5, 12.75, "label"), RateStep(30, 95.5, 51, 1, 55.6, "label"))
    times = clock_times(steps, dt.datetime(2026, 12, 1, 9, 0))
    assert times[1] == (dt.datetime(2026, 12, 1, 9, 30), dt.datetime(2026, 12, 1, 10, 35, 30))


EXCLUSIVE = sorted(
    p.id
    for p in packaged_library().catalogue.products.values()
    if p.at_risk_max_exclusive and p.schedules
)


@given(
    product_id=st.sampled_from(EXCLUSIVE),
    kg=st.floats(10, 250),
    dose_g=st.floats(5, 150),
)
def test_a_less_than_cap_is_never_reached(product_id: str, kg: float, dose_g: float) -> None:
    # "less than" (Bivigam, Gammagard Liquid, Octagam 5%): every pump rate stays below the cap
    catalogue = packaged_library().catalogue
    product = catalogue.product(product_id)
    for schedule in product.schedules:
        ramp, maximum, _, _ = rate_ramp(
            schedule, product, catalogue.protocol, at_risk=True, lowest_start=True
        )
        steps = rate_steps(
            ramp,
            dose_ml=dose_g * 1000 / product.concentration,
            weight_kg=kg,
            concentration_mg_per_ml=product.concentration,
        )
        cap_ml_h = maximum * kg * 60 / product.concentration
        assert all(s.rate_ml_per_h < cap_ml_h for s in steps)
