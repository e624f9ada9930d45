"""The pump log's volume and grams, and the checkpoints after a restart (issue 16 items 4, 5):
worked examples from ``core.infused``'s docstring (formulas-and-fhir.md section 1.7)."""

from __future__ import annotations

import datetime as dt

import pytest

from ivig.core.infused import (
    grams_counted,
    grams_given,
    is_short,
    minutes_to_give,
    schedule_after_restart,
    volume_infused,
)
from ivig.core.library import packaged_library
from ivig.core.monitoring import CheckReason, VitalsCheck
from ivig.errors import InvalidInput

T0 = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_the_worked_example() -> None:
    """25.5 mL/h for 30 minutes, then 51 mL/h for 1 minute: 12.75 + 0.85 = 13.6 mL; at 10 %
    (100 mg/mL), 1.36 g."""
    log = [(at(0), 25.5), (at(30), 51.0)]
    volume = volume_infused(log, at(31))
    assert volume == pytest.approx(13.6)
    assert grams_given(volume, 100) == pytest.approx(1.36)


def test_a_pause_gives_nothing_and_later_rows_are_ignored() -> None:
    """A pause is a row at 0 mL/h; rows at or after ``until`` give nothing; order does not
    matter."""
    log = [(at(60), 20.5), (at(0), 60.0), (at(30), 0.0), (at(120), 100.0)]
    # 60 mL/h for 30 min (30 mL), paused 30 min, 20.5 mL/h for 30 min (10.25 mL)
    assert volume_infused(log, at(90)) == pytest.approx(40.25)
    assert volume_infused(log, at(0)) == 0
    assert volume_infused([], at(10)) == 0


def test_the_issue_example_is_well_short() -> None:
    """Issue 16 item 4: 11 of 250 mL given is well short of the dose (below 90 %); 225 of 250
    (exactly 90 %) is not."""
    assert is_short(11, 250)
    assert not is_short(225, 250)
    assert is_short(224.9, 250)


def test_minutes_to_give_the_remaining_volume() -> None:
    """125 mL at 20.5 mL/h: 365.9 minutes (6 h 6 min)."""
    assert minutes_to_give(125, 20.5) == pytest.approx(365.85, abs=0.01)
    with pytest.raises(InvalidInput):
        minutes_to_give(10, 0)


def test_bad_numbers_are_refused() -> None:
    with pytest.raises(InvalidInput):
        grams_given(-1, 100)
    with pytest.raises(InvalidInput):
        grams_given(1, 0)
    with pytest.raises(InvalidInput):
        volume_infused([(at(0), -5.0)], at(10))


def test_the_checkpoints_after_a_restart_at_a_kept_rate() -> None:
    """Issue 16 item 5: held at minute 35, restarted at minute 50 at 20.5 mL/h for 366
    minutes: the planned checkpoints before the hold stay; then at the restart, 15 minutes
    after it, hourly, at the end and at the end of the observation; no "before rate
    increase" after the restart."""
    protocol = packaged_library().monitoring
    planned = [
        VitalsCheck(0, CheckReason.baseline),
        VitalsCheck(15, CheckReason.ramp),
        VitalsCheck(30, CheckReason.rate_increase),
        VitalsCheck(60, CheckReason.rate_increase),
        VitalsCheck(90, CheckReason.rate_increase),
    ]
    after = schedule_after_restart(
        planned, held_from_minute=35, restart_minute=50, rate_ml_per_h=20.5, minutes=366,
        observation_minutes=60, protocol=protocol,
    )  # fmt: skip
    minutes = [c.minute for c in after]
    assert minutes[:3] == [0, 15, 30]
    assert minutes[3:5] == [50, 65]  # the restart, then 15 minutes after it
    assert after[3].text == "baseline: restart at 20.5 mL/h after the reaction"
    assert [c.reason for c in after[3:]].count(CheckReason.hourly) == 6  # 110 ... 410
    assert (after[-2].minute, after[-2].reason) == (416, CheckReason.end_of_infusion)
    assert (after[-1].minute, after[-1].reason) == (476, CheckReason.end_of_observation)
    assert CheckReason.rate_increase not in {c.reason for c in after if c.minute >= 35}
    with pytest.raises(InvalidInput):
        schedule_after_restart(
            planned, held_from_minute=50, restart_minute=35, rate_ml_per_h=20.5, minutes=1,
            observation_minutes=60, protocol=protocol,
        )  # fmt: skip


def test_the_cap_counts_the_grams_given_when_recorded_else_the_dose() -> None:
    """The grams given when the end recorded them (an infusion stopped short counts what went
    in, none too: 0 g), else the planned dose."""
    assert grams_counted(None, 70.0) == 70.0
    assert grams_counted(1.36, 70.0) == 1.36
    assert grams_counted(0.0, 70.0) == 0.0
    assert grams_counted(72.5, 70.0) == 72.5
