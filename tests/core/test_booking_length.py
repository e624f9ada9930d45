"""A booking's length: set-up + the pump time of the order's steps + the observation the
monitoring protocol gives (monitoring.toml [observation]: 20 minutes, SmPC; 60 after a first
infusion, a product switch or a gap longer than protocol.toml long_gap_weeks = 8)."""

from __future__ import annotations

from typing import Any

import pytest

from ivig.core.booking_length import booking_length, pump_minutes
from ivig.core.library import packaged_library
from ivig.errors import InvalidInput

PROTOCOL = packaged_library().monitoring

# Privigen (US) label ramp, 85 kg, 85 g at 100 mg/mL: 0-30 min, 30-60 min, then the top rate
# to the end of 850 mL (the shape rate_steps gives; the last step ends at a fraction).
STEPS: list[dict[str, Any]] = [
    {"start_min": 0, "end_min": 30},
    {"start_min": 30, "end_min": 60},
    {"start_min": 60, "end_min": 151.3},
]


@pytest.mark.parametrize(
    ("setup", "first", "switch", "gap", "observe", "total", "why"),
    [
        # monitoring.toml default_minutes = 20 (eu-smpc-ig): a maintenance infusion 4 weeks on
        (15, False, False, 28, 20, 15 + 152 + 20, "after every infusion"),
        # extended_minutes = 60 (ema-core-smpc-ig, UNVERIFIED): the first infusion
        (15, True, False, None, 60, 15 + 152 + 60, "first infusion"),
        # item 63: a product switch
        (0, False, True, 28, 60, 152 + 60, "product switch"),
        # item 63: a gap longer than long_gap_weeks (8 weeks = 56 days); 56 days is not longer
        (30, False, False, 57, 60, 30 + 152 + 60, "57 days since the last infusion"),
        (30, False, False, 56, 20, 30 + 152 + 20, "after every infusion"),
    ],
)
def test_worked_examples(
    setup: int,
    first: bool,
    switch: bool,
    gap: int | None,
    observe: int,
    total: int,
    why: str,
) -> None:
    length = booking_length(
        setup_minutes=setup,
        steps=STEPS,
        first_infusion=first,
        product_switch=switch,
        gap_days=gap,
        protocol=PROTOCOL,
    )
    assert (length.setup_minutes, length.pump_minutes, length.observation_minutes) == (
        setup,
        152,
        observe,
    )
    assert length.minutes == total
    assert why in length.observation.reason
    assert length.observation.source  # the protocol's citation


def test_pump_minutes_sums_durations_and_rounds_up() -> None:
    assert pump_minutes([{"start_min": 0, "end_min": 30}]) == 30
    assert pump_minutes([{"start_min": 0, "end_min": 30.01}]) == 31
    assert pump_minutes([{"start_min": 0, "end_min": 0.1}]) == 1


@pytest.mark.parametrize(
    "steps",
    [[], [{"start_min": 10, "end_min": 5}], [{"end_min": 5}], [{"start_min": "x", "end_min": 1}]],
)
def test_bad_steps_refused(steps: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidInput) as caught:
        pump_minutes(steps)
    assert caught.value.field == "steps"


@pytest.mark.parametrize("setup", [-1, 241, True])
def test_setup_out_of_range_refused(setup: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        booking_length(
            setup_minutes=setup,
            steps=STEPS,
            first_infusion=True,
            product_switch=False,
            gap_days=None,
            protocol=PROTOCOL,
        )
    assert caught.value.field == "setup_minutes"
