"""A weight changed by 10 % or more is confirmed before dosing (issue 14 item 8;
``core.weight_change``; Group Health Gammagard plan, nursing orders: "notify the physician if
it changes by 10% or more"; safety-security-requirements.md item 52)."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivig.core.library import packaged_library
from ivig.core.weight_change import (
    check_measured_on,
    read_weight_rule,
    weight_change,
)
from ivig.errors import CatalogueError, InvalidInput

LIBRARY = packaged_library()
RULE = LIBRARY.weight_rule


def test_the_rule_is_sourced_and_verified() -> None:
    rule = RULE
    assert rule.value == 10
    assert rule.verified is True
    assert "10% or more" in rule.source.title


@pytest.mark.parametrize(
    ("previous", "new", "percent", "needs"),
    [
        # issue 14 item 8: a nurse records 250 kg for a 100 kg patient
        (100, 250, 150.0, True),
        # Group Health nursing orders: "changes by 10% or more" (either way; 10 % included)
        (100, 110, 10.0, True),
        (100, 90, -10.0, True),
        (100, 109.9, 9.9, False),
        (100, 90.1, -9.9, False),
        (70, 77, 10.0, True),  # 7 kg on 70 kg: exactly 10 %
        (85, 85, 0.0, False),
    ],
)
def test_worked_examples(previous: float, new: float, percent: float, needs: bool) -> None:
    change = weight_change(previous, new, rule=RULE)
    assert change.percent == pytest.approx(percent)
    assert change.needs_confirmation is needs


def test_the_words_of_a_change() -> None:
    assert weight_change(100, 250, rule=RULE).describe() == "250 kg is +150 % from 100 kg"


@given(
    previous=st.floats(min_value=1, max_value=350),
    ratio=st.floats(min_value=0.01, max_value=5),
)
def test_a_change_needs_confirmation_exactly_at_10_percent_or_more(
    previous: float, ratio: float
) -> None:
    """Property: confirmation iff |new - previous| >= 10 % of previous (to 9 decimals)."""
    new = previous * ratio
    change = weight_change(previous, new, rule=RULE)
    relative = abs(new - previous) / previous * 100
    if relative >= 10 + 1e-6:
        assert change.needs_confirmation
    elif relative <= 10 - 1e-6:
        assert not change.needs_confirmation
    assert (change.percent > 0) == (new > previous) or change.percent == 0


def test_a_weight_of_zero_is_refused() -> None:
    with pytest.raises(InvalidInput):
        weight_change(0, 70, rule=RULE)


@pytest.mark.parametrize(
    ("measured_on", "message"),
    [
        (dt.date(1966, 4, 30), "before the date of birth"),
        (dt.date(2030, 1, 2), "in the future"),
    ],
)
def test_a_weight_is_dated_between_birth_and_today(measured_on: dt.date, message: str) -> None:
    born, today = dt.date(1966, 5, 1), dt.date(2030, 1, 1)  # a pure function: its own dates
    with pytest.raises(InvalidInput, match=message) as caught:
        check_measured_on(measured_on, born=born, today=today)
    assert caught.value.field == "measured_on"
    check_measured_on(born, born=born, today=today)  # the day of birth and today: accepted
    check_measured_on(today, born=born, today=today)


def _limits() -> dict[str, Any]:
    with resources.files("ivig").joinpath("data", "limits.toml").open("rb") as f:
        return tomllib.load(f)


@pytest.mark.parametrize("value", [0, 100, -5, "ten", True, float("nan")])
def test_a_broken_rule_is_a_catalogue_error(value: Any) -> None:
    data = copy.deepcopy(_limits())
    data["weight_change"]["confirm_percent"]["value"] = value
    with pytest.raises(CatalogueError, match="confirm_percent"):
        read_weight_rule(data, LIBRARY.catalogue.sources)


def test_a_missing_rule_is_a_catalogue_error() -> None:
    data = copy.deepcopy(_limits())
    del data["weight_change"]
    with pytest.raises(CatalogueError, match="confirm_percent"):
        read_weight_rule(data, LIBRARY.catalogue.sources)
