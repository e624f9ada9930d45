"""Suggested slots that level the day (issue 18): worked examples of the ranking (peak, then
the sum of squares, a long infusion's lateness and slivers; ties to the earlier start, then the
chair given first), and Hypothesis properties: every suggestion fits the hours and overlaps no
booking, and the top one never raises the peak above first-fit's."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivig.core.slots import (
    CLOSING_MARGIN_MINUTES,
    SLIVER_WEIGHT,
    ChairFree,
    first_fit,
    free_intervals,
    hhmm,
    profile,
    suggest,
)
from ivig.errors import InvalidInput

OPENS, CLOSES = 8 * 60, 18 * 60  # 08:00-18:00


def m(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def day(*busy: list[tuple[str, str]]) -> list[ChairFree]:
    """Chairs 1, 2... with their bookings as ("HH:MM", "HH:MM")."""
    return [
        ChairFree(f"Chair {i}", free_intervals(OPENS, CLOSES, [(m(a), m(b)) for a, b in rows]))
        for i, rows in enumerate(busy, start=1)
    ]


def test_free_intervals_and_profile() -> None:
    assert free_intervals(OPENS, CLOSES, [(m("10:00"), m("12:00")), (m("08:00"), m("09:00"))]) == (
        (m("09:00"), m("10:00")),
        (m("12:00"), CLOSES),
    )
    assert free_intervals(OPENS, CLOSES, [(OPENS, CLOSES)]) == ()
    chairs = day([("09:00", "10:00")], [("09:30", "11:00")])
    counts = profile(OPENS, CLOSES, chairs)
    assert (counts[m("08:59") - OPENS], counts[m("09:45") - OPENS], counts[m("10:30") - OPENS]) == (
        0,
        2,
        1,
    )


@pytest.mark.parametrize(
    ("busy", "length", "chair", "start", "peak", "words"),
    [
        # Chair 1 busy 10:00-13:00, Chair 2 09:00-12:00, Chair 3 empty: a 4-hour infusion goes
        # where no other chair is busy (13:00), not at 08:00 beside both (first-fit's place),
        # which would raise the peak to 3; the chair given first wins the tie.
        (
            [[("10:00", "13:00")], [("09:00", "12:00")], []],
            240, 1, "13:00", 2, "keeps the peak at 2 of 3 chairs; no other chair in use",
        ),
        # The morning's peak is 3; from 11:00 one other chair is in use wherever the hour goes:
        # the earliest such start wins, and of Chairs 2 and 3 free at 11:00 the first given,
        # which fills its gap 11:00-12:00 exactly.
        (
            [[("08:00", "12:00")], [("08:00", "11:00"), ("12:00", "18:00")], [("08:00", "11:00")]],
            60, 2, "11:00", 3, "fills the gap 11:00-12:00 on Chair 2",
        ),
        # Two equal chairs, both free: a long infusion (5 h of 10) starts at opening.
        ([[], []], 300, 1, "08:00", 1, "a long infusion started early"),
        # A 90-minute gap 12:00-13:30 on Chair 1 and a 60-minute one 12:00-13:00 on Chair 2: an
        # hour in Chair 1's gap leaves a 30-minute sliver (shorter than the shortest infusion,
        # 60) wherever it starts, so the hour fills Chair 2's gap, though Chair 1 comes first.
        (
            [[("08:00", "12:00"), ("13:30", "18:00")], [("08:00", "12:00"), ("13:00", "18:00")]],
            60, 2, "12:00", 2, "fills the gap 12:00-13:00 on Chair 2",
        ),
    ],
)  # fmt: skip
def test_worked_examples(
    busy: list[list[tuple[str, str]]],
    length: int,
    chair: int,
    start: str,
    peak: int,
    words: str,
) -> None:
    best = suggest(OPENS, CLOSES, day(*busy), length, n=3)[0]
    assert (best.chair + 1, hhmm(best.start), best.peak) == (chair, start, peak)
    assert best.end == best.start + length
    assert words in best.reason


def test_first_fit_is_the_earliest_and_can_raise_the_peak() -> None:
    chairs = day([("10:00", "13:00")], [("09:00", "12:00")], [])
    early = first_fit(OPENS, CLOSES, chairs, 240)
    assert early is not None
    assert (early.chair_name, hhmm(early.start), early.peak) == ("Chair 3", "08:00", 3)
    assert "raises the peak to 3 of 3 chairs" in early.reason
    assert suggest(OPENS, CLOSES, chairs, 240)[0].peak == 2


def test_a_sliver_costs_its_minutes() -> None:
    chairs = day([("08:00", "12:00"), ("14:00", "18:00")])  # a 2-hour gap
    found = {hhmm(s.start): s for s in suggest(OPENS, CLOSES, chairs, 60, n=10)}
    # 12:00 and 13:00 leave an hour (bookable), 12:30 two half-hours (30 minutes lost each)
    lateness = 2 * 60 * (60 / 600) * 30 / 540  # per half-hour later
    assert found["12:30"].cost - found["12:00"].cost == pytest.approx(
        SLIVER_WEIGHT * 60 + lateness, abs=0.01
    )
    assert found["13:00"].cost - found["12:00"].cost == pytest.approx(2 * lateness, abs=0.01)
    assert "leaves 60 minutes unusable on Chair 1" in found["12:30"].reason
    assert "unusable" not in found["12:00"].reason


def test_nothing_fits_and_ties() -> None:
    full = day([("08:00", "18:00")], [("08:00", "17:00")])
    assert suggest(OPENS, CLOSES, full, 61) == ()
    assert first_fit(OPENS, CLOSES, full, 61) is None
    twins = suggest(OPENS, CLOSES, day([], []), 600, n=5)
    assert [(s.chair, s.start) for s in twins] == [(0, OPENS), (1, OPENS)]  # chair order


@pytest.mark.parametrize(
    "call",
    [
        lambda: suggest(OPENS, OPENS, [], 60),
        lambda: suggest(OPENS, CLOSES, [ChairFree("x", ((m("07:00"), m("09:00")),))], 60),
        lambda: suggest(OPENS, CLOSES, [ChairFree("x", ((600, 700), (650, 800)))], 60),
        lambda: suggest(OPENS, CLOSES, [], 0),
        lambda: suggest(OPENS, CLOSES, [], 60, n=0),
        lambda: suggest(OPENS, CLOSES, [], 60, granularity=0),
        lambda: suggest(OPENS, CLOSES, [], 60, shortest=0),
    ],
)
def test_refuses_what_is_not_a_day(call: object) -> None:
    with pytest.raises(InvalidInput):
        call()  # type: ignore[operator]


# Hypothesis: a day of 1-6 chairs, each with bookings placed on a 5-minute grid
_bookings = st.lists(
    st.tuples(st.integers(0, 119), st.integers(1, 60)), max_size=6
)  # (start in 5-min steps from opening, length in 5-min steps)


def _chairs(rows: list[list[tuple[int, int]]]) -> list[ChairFree]:
    chairs = []
    for i, row in enumerate(rows):
        busy: list[tuple[int, int]] = []
        for step, steps in row:
            start, end = OPENS + 5 * step, min(CLOSES, OPENS + 5 * (step + steps))
            if all(end <= a or start >= b for a, b in busy):
                busy.append((start, end))
        chairs.append(ChairFree(f"C{i}", free_intervals(OPENS, CLOSES, busy)))
    return chairs


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(_bookings, min_size=1, max_size=6),
    length=st.integers(1, 600),
    granularity=st.sampled_from([5, 15, 30]),
)
def test_every_suggestion_fits_and_never_peaks_above_first_fit(
    rows: list[list[tuple[int, int]]], length: int, granularity: int
) -> None:
    chairs = _chairs(rows)
    found = suggest(OPENS, CLOSES, chairs, length, n=20, granularity=granularity)
    early = first_fit(OPENS, CLOSES, chairs, length)
    assert (early is None) == (found == ())
    for slot in found:
        assert slot.start >= OPENS
        assert slot.end <= CLOSES
        assert slot.end - slot.start == length
        free = chairs[slot.chair].free
        assert any(a <= slot.start and slot.end <= b for a, b in free)  # overlaps no booking
    assert [s.key for s in found] == sorted(s.key for s in found)
    if early is not None:
        assert found[0].peak <= early.peak
        assert found[0].key <= early.key


def test_an_end_near_closing_costs_each_minute_for_every_chair() -> None:
    chairs = day([], [("08:00", "18:00")])  # Chair 2 busy all day: one other chair in use
    found = {hhmm(s.start): s for s in suggest(OPENS, CLOSES, chairs, 60, n=50)}
    lateness = 2 * 60 * (60 / 600) * 480 / 540
    assert found["16:00"].cost == pytest.approx(2 * 60 * 1 + 60 + lateness, abs=0.001)
    last = found["17:00"]
    assert last.cost - found["16:00"].cost == pytest.approx(
        2 * 2 * CLOSING_MARGIN_MINUTES + 2 * 60 * 0.1 * 60 / 540, abs=0.001
    )
    assert "ends 0 minutes before closing" in last.reason
