"""Outcome measures: improved, worsened or no meaningful change (clinical-rules.md section 6)."""

from __future__ import annotations

import copy
import math
import tomllib
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivig.core.library import packaged_library
from ivig.core.outcomes import (
    Direction,
    classify_change,
    read_outcome_measures,
)
from ivig.errors import CatalogueError, InvalidInput, OutOfRange

IMPROVED, WORSENED, SAME = Direction.improved, Direction.worsened, Direction.no_meaningful_change

LIBRARY = packaged_library()
MEASURES = LIBRARY.outcomes


@pytest.mark.parametrize(
    ("measure", "baseline", "current", "direction", "change", "percent"),
    [
        # 3TUG (6a, Sanders 2018/2019): MORE than 20% of the baseline time is outside test-retest
        # noise (2019: "an acceptable 3TUG difference of <=0.2").
        ("3tug", 30, 23, IMPROVED, -7, -23.3),  # 7/30 = 23% faster
        ("3tug", 30, 25, SAME, -5, -16.7),  # 5/30 = 17%: within noise
        ("3tug", 30, 37, WORSENED, 7, 23.3),
        ("3tug", 12.5, 10.4, SAME, -2.1, -16.8),  # judged by percent: 2.1 s is 16.8%
        # QMG (6b, Katzberg 2014): 3 points; lower is better.
        ("qmg", 14, 12, SAME, -2, -14.3),  # 2 < 3
        ("qmg", 14, 10, IMPROVED, -4, -28.6),
        ("qmg", 10, 14, WORSENED, 4, 40.0),
        # MG-ADL (6c, Muppidi et al., Muscle Nerve 2011;44:727-31): "A 2-point improvement in
        # the MG-ADL best predicted clinical improvement"; lower is better.
        ("mg-adl", 9, 5, IMPROVED, -4, -44.4),
        ("mg-adl", 9, 7, IMPROVED, -2, -22.2),  # 2 points: meaningful (was "no change" at 3)
        ("mg-adl", 9, 10, SAME, 1, 11.1),
        # MRC sum score (6d, Practical Neurology): 2 points; HIGHER is better.
        ("mrc-sum", 50, 52, IMPROVED, 2, 4.0),
        ("mrc-sum", 50, 47, WORSENED, -3, -6.0),
        ("mrc-sum", 50, 51, SAME, 1, 2.0),
        ("mrc-sum", 50, 50, SAME, 0, 0.0),
    ],
)
def test_worked_examples(
    measure: str,
    baseline: float,
    current: float,
    direction: Direction,
    change: float,
    percent: float,
) -> None:
    result = classify_change(measure, baseline, current, measures=MEASURES)
    assert result.direction is direction
    assert result.change == pytest.approx(change)
    assert result.percent_change == pytest.approx(percent, abs=0.05)


@pytest.mark.parametrize(
    ("measure", "baseline", "current", "direction"),
    [
        # 3TUG: a change must EXCEED 20% (Sanders 2019: a difference of <= 0.2 is test-retest
        # noise); exactly 20% is no meaningful change, however the floats round.
        ("3tug", 30, 24, SAME),  # exactly -20% (6/30)
        ("3tug", 30, 36, SAME),  # exactly +20%
        ("3tug", 10, 8, SAME),
        ("3tug", 12.5, 10, SAME),  # 2.5/12.5
        ("3tug", 45.5, 36.4, SAME),  # 9.1/45.5: 20.000000000000004% in floats
        ("3tug", 15.5, 18.6, SAME),  # 3.1/15.5: 20.00000000000001% in floats
        ("3tug", 30, 23.99, IMPROVED),  # just over 20%
        ("3tug", 30, 36.01, WORSENED),
        ("3tug", 30, 24.01, SAME),  # just under 20%
        # Points: a change EQUAL to the threshold counts (MCIDs: QMG 3, MG-ADL 2, MRC 2).
        ("qmg", 14, 11, IMPROVED),  # exactly 3
        ("qmg", 11, 14, WORSENED),
        ("mg-adl", 10, 8, IMPROVED),  # exactly 2 (Muppidi 2011)
        ("mg-adl", 8, 10, WORSENED),
        ("mg-adl", 10, 9, SAME),
        ("mrc-sum", 48, 50, IMPROVED),  # exactly 2
        ("mrc-sum", 50, 48, WORSENED),
        ("qmg", 0, 3, WORSENED),  # from 0: no percent, judged in points
        ("mrc-sum", 58, 60, IMPROVED),  # to the top of the scale
    ],
)
def test_threshold_boundaries(
    measure: str, baseline: float, current: float, direction: Direction
) -> None:
    assert classify_change(measure, baseline, current, measures=MEASURES).direction is direction


def test_result_carries_threshold_source_and_caveat() -> None:
    tug = classify_change("3tug", 30, 23, measures=MEASURES)
    assert (tug.threshold, tug.threshold_kind, tug.unit, tug.better) == (
        20,
        "percent",
        "s",
        "lower",
    )
    assert "Sanders" in tug.source
    assert "not a formally derived minimal clinically important difference" in tug.caveat
    assert tug.verified
    assert tug.message.startswith("triple timed up-and-go (3TUG): 30 -> 23 s, -7 s (-23.3%)")
    assert tug.message.count("improved") == 1
    assert "the change is more than the threshold of 20% of the baseline" in tug.message
    noise = classify_change("3tug", 30, 24, measures=MEASURES).message
    assert "-6 s (-20.0%); the change is not more than the threshold of 20%" in noise

    qmg = classify_change("QMG", 14, 12, measures=MEASURES)
    assert (qmg.measure, qmg.threshold, qmg.threshold_kind) == ("qmg", 3, "absolute")
    assert "Katzberg" in qmg.source
    assert "not LEMS" in qmg.caveat
    assert "is below the threshold of 3 points" in qmg.message

    mrc = classify_change("MRC sum", 50, 52, measures=MEASURES)
    assert mrc.better == "higher"
    assert "Practical Neurology" in mrc.source
    assert "LEMS is not in the source table" in mrc.caveat

    assert classify_change("qmg", 0, 0, measures=MEASURES).percent_change is None


@pytest.mark.parametrize("name", ["3TUG", " mg adl ", "MG_ADL", "mrc-sum", "Mrc Sum"])
def test_measure_names_are_forgiving(name: str) -> None:
    assert classify_change(name, 10, 10, measures=MEASURES).direction is SAME


@pytest.mark.parametrize(
    ("measure", "baseline", "current", "field"),
    [
        ("qmg", 40, 10, "baseline"),  # QMG 0-39
        ("qmg", 10, -1, "current"),
        ("mg-adl", 25, 10, "baseline"),  # MG-ADL 0-24
        ("mrc-sum", 50, 61, "current"),  # MRC sum 0-60
        ("3tug", 0, 10, "baseline"),  # 3TUG above 0 ...
        ("3tug", 10, 600, "current"),  # ... and below 600 s
    ],
)
def test_out_of_range_is_refused(measure: str, baseline: float, current: float, field: str) -> None:
    with pytest.raises(OutOfRange) as caught:
        classify_change(measure, baseline, current, measures=MEASURES)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("measure", "baseline", "current", "field"),
    [
        ("qmg", 14.5, 10, "baseline"),  # a sum of whole-number items
        ("mrc-sum", 50, 50.5, "current"),
        ("3tug", math.nan, 10, "baseline"),
        ("3tug", 10, math.inf, "current"),
        ("tug", 10, 10, "measure"),
        ("fvc", 10, 10, "measure"),
    ],
)
def test_invalid_input_is_refused(
    measure: str, baseline: float, current: float, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        classify_change(measure, baseline, current, measures=MEASURES)
    assert caught.value.field == field


def test_decimal_3tug_times_are_accepted() -> None:
    assert classify_change("3tug", 31.4, 24.9, measures=MEASURES).direction is IMPROVED  # 20.7%


@given(
    measure=st.sampled_from(["qmg", "mg-adl", "mrc-sum"]),
    a=st.integers(0, 24),
    b=st.integers(0, 24),
)
def test_swapping_points_swaps_the_direction(measure: str, a: int, b: int) -> None:
    # Point thresholds are symmetric: a -> b improved exactly when b -> a worsened.
    forward, back = (
        classify_change(measure, a, b, measures=MEASURES),
        classify_change(measure, b, a, measures=MEASURES),
    )
    swap = {IMPROVED: WORSENED, WORSENED: IMPROVED, SAME: SAME}
    assert back.direction is swap[forward.direction]
    assert (forward.direction is SAME) == (abs(b - a) < forward.threshold)


@given(baseline=st.floats(1, 500), factor=st.floats(0.5, 1.5))
def test_3tug_meaningful_only_beyond_20_percent(baseline: float, factor: float) -> None:
    current = baseline * factor
    if not 0 < current < 600:
        return
    result = classify_change("3tug", baseline, current, measures=MEASURES)
    if abs(factor - 1) >= 0.2 + 1e-6:
        assert result.direction is (IMPROVED if factor < 1 else WORSENED)
    elif abs(factor - 1) <= 0.2 - 1e-6:
        assert result.direction is SAME


@given(
    tenths=st.integers(5, 4000),  # a baseline of 0.5 to 400.0 s, as a nurse writes it
    sign=st.sampled_from([-1, 1]),
    extra=st.integers(-2, 2),  # hundredths of a second away from exactly 20%
)
def test_3tug_exactly_20_percent_is_noise(tenths: int, sign: int, extra: int) -> None:
    # Sanders 2019: a difference of <= 0.2 is acceptable (noise). Written to the hundredth, a
    # time exactly 20% from the baseline is no meaningful change, one hundredth beyond it is.
    baseline = tenths / 10
    current = (tenths * 10 + sign * (tenths * 2 + extra)) / 100  # baseline +-20%, +-0.01 s
    if not 0 < current < 600:
        return
    result = classify_change("3tug", baseline, current, measures=MEASURES)
    if extra > 0:
        assert result.direction is (IMPROVED if sign < 0 else WORSENED)
    else:
        assert result.direction is SAME


# --- the data file ----------------------------------------------------------------------------


def test_shipped_measures() -> None:
    measures = MEASURES
    assert list(measures) == ["3tug", "qmg", "mg-adl", "mrc-sum"]
    assert [(m.low, m.high, m.range_inclusive) for m in measures.values()] == [
        (0, 600, False),
        (0, 39, True),
        (0, 24, True),
        (0, 60, True),
    ]
    assert [m.threshold.source.key for m in measures.values()] == [
        "sanders-3tug",
        "katzberg-2014",
        "muppidi-2011",
        "pn-outcome-measures",
    ]
    assert [(m.threshold.value, m.threshold_counts) for m in measures.values()] == [
        (20, "exceeded"),
        (3, "reached"),
        (2, "reached"),
        (2, "reached"),
    ]


def _raw() -> dict[str, Any]:
    data = resources.files("ivig").joinpath("data", "outcomes.toml").read_bytes()
    return tomllib.loads(data.decode())


@pytest.mark.parametrize(
    ("measure", "key", "value", "complaint"),
    [
        ("qmg", "better", "up", "must be one of lower, higher"),
        ("qmg", "high", -1, "must be above low"),
        ("qmg", "threshold", {"value": 3, "source": "nowhere", "verified": True}, "unknown source"),
        ("qmg", "threshold", {"value": 0, "source": "katzberg-2014", "verified": True}, "positive"),
        ("qmg", "threshold", {"value": 3, "source": "katzberg-2014"}, "verified"),
        ("qmg", "threshold_kind", "relative", "must be one of"),
        ("qmg", "whole_numbers", "yes", "true or false"),
        ("3tug", "range_inclusive", True, "percent threshold"),  # 0 s has no percent change
        ("qmg", "caveat", "", "non-empty"),
        ("3tug", "threshold_counts", "equal", "must be one of reached, exceeded"),
        ("3tug", "threshold_counts", None, "non-empty"),
    ],
)  # fmt: skip
def test_broken_outcomes_file(measure: str, key: str, value: Any, complaint: str) -> None:
    data = copy.deepcopy(_raw())
    data["measures"][measure][key] = value
    with pytest.raises(CatalogueError) as caught:
        read_outcome_measures(data, sources=LIBRARY.catalogue.sources)
    assert complaint in caught.value.message


def test_empty_outcomes_file() -> None:
    with pytest.raises(CatalogueError):
        read_outcome_measures({}, sources=LIBRARY.catalogue.sources)
