"""Dose dates, whole-vial rounding and the rolling 28-day cap."""

from __future__ import annotations

import datetime as dt

import pytest

from ivig.core.dosing import (
    GivenDose,
    check_under_cap,
    earliest_allowed_date,
    induction_dates,
    maintenance_dates,
    rolling_cap,
    round_course,
    round_to_vials,
    worst_window,
)
from ivig.errors import CapExceeded, InvalidInput

D = dt.date


@pytest.mark.parametrize(
    ("prescribed", "sizes", "total", "vials"),
    [
        # Nearest achievable total (ASCIA: round to the full vial size), then fewest vials.
        # Privigen US 5/10/20/40 g: 85 g = 2 x 40 + 1 x 5
        (85, (5, 10, 20, 40), 85, ((40, 2), (5, 1))),
        # 24.84 g -> 25 g (nearest), as 20 + 5 rather than 5 x 5
        (24.84, (5, 10, 20, 40), 25, ((20, 1), (5, 1))),
        # 22.5 g is halfway between 20 and 25: the tie goes to the lower dose
        (22.5, (5, 10, 20, 40), 20, ((20, 1),)),
        # Privigen EU adds 2.5 g: 22.5 is then exact
        (22.5, (2.5, 5, 10, 20, 40), 22.5, ((20, 1), (2.5, 1))),
        # Octagam 10% 2/5/10/20/30 g: 49.7 g -> 50 g = 30 + 20 (2 vials, not 5 x 10)
        (49.7, (2, 5, 10, 20, 30), 50, ((30, 1), (20, 1))),
        # Gamunex-C has 1 and 2.5 g vials: 67.2 -> 67 (67.5 is 0.3 away) = 40 + 20 + 5 + 2 x 1
        (67.2, (1, 2.5, 5, 10, 20, 40), 67, ((40, 1), (20, 1), (5, 1), (1, 2))),
        # ... and 67.4 -> 67.5 = 40 + 20 + 5 + 2.5
        (67.4, (1, 2.5, 5, 10, 20, 40), 67.5, ((40, 1), (20, 1), (5, 1), (2.5, 1))),
        # A dose below half the smallest vial still gets one vial (never nothing)
        (1.0, (5, 10), 5, ((5, 1),)),
    ],
)
def test_round_to_vials(
    prescribed: float,
    sizes: tuple[float, ...],
    total: float,
    vials: tuple[tuple[float, int], ...],
) -> None:
    pick = round_to_vials(prescribed, sizes)
    assert pick.total_g == total
    assert pick.vials == vials
    assert not pick.limited_by_cap
    assert pick.deviation_pct == pytest.approx((total - prescribed) / prescribed * 100)


def test_rounding_never_goes_up_past_the_cap() -> None:
    # Nearest to 24.84 is 25, but only 24.84 g is left under the cap: 20 g
    pick = round_to_vials(24.84, (5, 10, 20, 40), max_g=24.84)
    assert pick.total_g == 20
    assert pick.limited_by_cap


def test_no_vial_fits_under_the_cap() -> None:
    with pytest.raises(InvalidInput) as caught:
        round_to_vials(3, (5, 10), max_g=3)
    assert caught.value.field == "product"  # a product with smaller vials is the way out


def test_induction_dates_are_consecutive() -> None:
    assert induction_dates(D(2026, 12, 30), 3) == [D(2026, 12, 30), D(2026, 12, 31), D(2027, 1, 1)]


def test_maintenance_dates() -> None:
    assert maintenance_dates(D(2026, 12, 1), 4, count=3) == [
        D(2026, 12, 1),
        D(2026, 12, 29),
        D(2027, 1, 26),
    ]
    # --until is inclusive
    assert maintenance_dates(D(2026, 12, 1), 4, until=D(2026, 12, 29))[-1] == D(2026, 12, 29)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "count"),  # neither count nor until
        ({"count": 2, "until": D(2027, 1, 1)}, "count"),  # both
        ({"until": D(2026, 11, 1)}, "until"),  # until before start
        ({"count": 0}, "count"),
        ({"count": 101}, "count"),
    ],
)
def test_maintenance_dates_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        maintenance_dates(D(2026, 12, 1), 4, **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_windows() -> None:
    doses = [GivenDose(D(2026, 12, 1), 85), GivenDose(D(2026, 12, 2), 85)]
    # The fullest 28-day window around 2 Dec that holds both starts at the first dose
    window = worst_window(doses, D(2026, 12, 2), 28)
    assert (window.start, window.end, window.grams) == (D(2026, 12, 1), D(2026, 12, 28), 170)
    fullest = rolling_cap([*doses, GivenDose(D(2026, 12, 29), 85)], 28)
    assert fullest is not None
    assert fullest.grams == 170  # 1 Dec and 29 Dec are 28 days apart: never in one window
    assert rolling_cap([], 28) is None


def _check(planned: list[GivenDose], earlier: list[GivenDose], *, suggest: bool) -> None:
    check_under_cap(
        planned,
        earlier,
        cap_g=170,
        weight_kg=85,
        window_days=28,
        field="dose_g_per_kg",
        indication="LEMS",
        suggest_date=suggest,
    )


def test_cap_exceeded_names_the_window_and_the_earliest_date() -> None:
    # 2 g/kg induction on 1-2 Dec, then 1 g/kg on 15 Dec: 3 g/kg in 1-28 Dec.
    earlier = [GivenDose(D(2026, 12, 1), 85), GivenDose(D(2026, 12, 2), 85)]
    with pytest.raises(CapExceeded) as caught:
        _check([GivenDose(D(2026, 12, 15), 85)], earlier, suggest=True)
    error = caught.value
    assert (error.window_start, error.window_end) == (D(2026, 12, 1), D(2026, 12, 28))
    assert error.reached_g_per_kg == pytest.approx(3.0)
    # 1 Dec leaves the window on 29 Dec; then 2 Dec + 29 Dec = 2 g/kg, within the cap
    assert error.earliest_allowed == D(2026, 12, 29)
    assert "3.00 g/kg" in error.message
    assert "2026-12-29" in error.message


def test_cap_at_exactly_the_limit_passes() -> None:
    _check([GivenDose(D(2026, 12, 1), 85), GivenDose(D(2026, 12, 2), 85)], [], suggest=False)


def test_earliest_allowed_date_none_within_a_year() -> None:
    assert earliest_allowed_date(200, D(2026, 12, 1), [], cap_g=170, window_days=28) is None


def test_round_course_rounds_the_last_dose_of_a_full_window_down() -> None:
    # 2 g/kg over 5 days for 62.1 kg: 24.84 g a day, cap 124.2 g. Nearest is 25 g a day
    # (125 g), over the cap: the first four take 25 g, the fifth only what is left (20 g).
    planned = [GivenDose(D(2026, 12, d), 24.84) for d in range(1, 6)]
    picks = round_course(planned, [], (5, 10, 20, 40), cap_g=124.2, window_days=28)
    assert [p.total_g for p in picks] == [25, 25, 25, 25, 20]
    assert [p.limited_by_cap for p in picks] == [False] * 4 + [True]
