"""The earliest start of a course under the rolling cap (issue 16 item 14; the rule: issue 2,
clinical-rules.md sections 2 and 4: no more than 2 g/kg in any 28 consecutive days, earlier
doses included). Worked examples on 85 kg, where the cap is 170 g."""

from __future__ import annotations

import datetime as dt

import pytest

from ivig.core.dosing import GivenDose, check_under_cap, earliest_start
from ivig.errors import CapExceeded, InvalidInput

D = dt.date
CAP_G = 170.0  # 2 g/kg x 85 kg
INDUCTION = [GivenDose(D(2026, 12, 1), 85), GivenDose(D(2026, 12, 2), 85)]  # 2 g/kg


def test_maintenance_after_an_induction_starts_when_the_induction_leaves_the_window() -> None:
    # 1 g/kg every 4 weeks from 15 Dec: 1 + 2 Dec + 15 Dec = 3 g/kg in 1-28 Dec. 1 Dec leaves
    # the window on 29 Dec; then 2 Dec (1 g/kg) + 29 Dec (1 g/kg) = 2 g/kg: exactly the cap,
    # allowed. The later doses move with the first (26 Jan, 23 Feb).
    series = [GivenDose(D(2026, 12, 15) + dt.timedelta(weeks=4 * i), 85) for i in range(3)]
    assert earliest_start(series, INDUCTION, CAP_G, 28) == D(2026, 12, 29)


def test_the_issue_example_and_its_words() -> None:
    # 1 g/kg on 7 Dec, then 1.4 g/kg (119 g) on 3 Jan: 7 Dec-3 Jan is 28 days holding 2.4 g/kg.
    # On 4 Jan, 7 Dec has left the window: 1.4 g/kg alone.
    earlier, planned = [GivenDose(D(2026, 12, 7), 85)], [GivenDose(D(2027, 1, 3), 119)]
    assert earliest_start(planned, earlier, CAP_G, 28) == D(2027, 1, 4)
    with pytest.raises(CapExceeded) as caught:
        check_under_cap(planned, earlier, cap_g=CAP_G, weight_kg=85, window_days=28,
                        field="dose_g_per_kg", indication="LEMS", suggest_date=False)  # fmt: skip
    assert caught.value.message == (
        "with the earlier doses, this course would give 2.4 g/kg between 7 December 2026 and "
        "3 January 2027; the cap is 2 g/kg in any 28 days for LEMS; the earliest start is "
        "4 January 2027"
    )
    assert (caught.value.field, caught.value.earliest_allowed) == ("start", D(2027, 1, 4))


def test_a_course_before_a_later_one_moves_past_it() -> None:
    # 2 g/kg on 20-21 Dec already planned; 1 g/kg on 1 Dec shares 1-28 Dec with both (3 g/kg).
    # Moving later only helps once it is 27 days after 21 Dec: 17 Jan shares 21 Dec-17 Jan with
    # 21 Dec only (1 + 1 = 2 g/kg); 16 Jan shares 20 Dec-16 Jan with both (3 g/kg).
    later = [GivenDose(D(2026, 12, 20), 85), GivenDose(D(2026, 12, 21), 85)]
    assert earliest_start([GivenDose(D(2026, 12, 1), 85)], later, CAP_G, 28) == D(2027, 1, 17)


def test_a_course_that_fits_keeps_its_start() -> None:
    assert earliest_start(INDUCTION, [], CAP_G, 28) == D(2026, 12, 1)


def test_a_course_over_the_cap_on_its_own_has_no_start() -> None:
    # 3 g/kg over two days: no start date helps; the refusal says so without a date.
    over = [GivenDose(D(2026, 12, 1), 127.5), GivenDose(D(2026, 12, 2), 127.5)]
    assert earliest_start(over, [], CAP_G, 28) is None
    with pytest.raises(CapExceeded) as caught:
        check_under_cap(over, [], cap_g=CAP_G, weight_kg=85, window_days=28,
                        field="total_g_per_kg", indication="LEMS", suggest_date=False)  # fmt: skip
    assert caught.value.message == (
        "this course would give 3 g/kg between 1 and 28 December 2026; the cap is 2 g/kg in any "
        "28 days for LEMS"
    )


def test_a_window_across_months_and_a_reach_just_above_the_cap_read_plainly() -> None:
    # 2.004 g/kg is not written '2' above a cap of 2: three decimals then.
    planned = [GivenDose(D(2026, 11, 20), 85), GivenDose(D(2026, 12, 10), 85.34)]
    with pytest.raises(CapExceeded) as caught:
        check_under_cap(planned, [], cap_g=CAP_G, weight_kg=85, window_days=28,
                        field="dose_g_per_kg", indication="LEMS", suggest_date=False)  # fmt: skip
    assert caught.value.message.startswith(
        "this course would give 2.004 g/kg between 20 November and 17 December 2026;"
    )


def test_no_planned_dose_is_refused() -> None:
    with pytest.raises(InvalidInput):
        earliest_start([], INDUCTION, CAP_G, 28)
