"""bench/bookings.py's own parts: the request stream (seeded, lengths as the service books
them) and the simulation's counts; the benchmark itself is a command."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bookings import (
    CHAIRS,
    CLOSES,
    OPENS,
    _first_fit,
    _levelled,
    requests,
    simulate,
)

from ivig.core.library import packaged_library


def test_the_stream_is_seeded_and_the_figures_add_up() -> None:
    library = packaged_library()
    days = requests(7, 3, 12, library)
    assert days == requests(7, 3, 12, library)
    every = [r for rows in days for r in rows]
    assert {r.kind for r in every} == {"first", "induction", "maintenance"}
    firsts = [r.minutes for r in every if r.kind == "first"]
    assert min(firsts) > 60  # set-up 15 + a pump + 60 minutes' observation
    for place in (_first_fit, _levelled):
        figures = simulate(days, place)
        assert 0 < figures.booked_minutes <= CHAIRS * (CLOSES - OPENS) * len(days)
        assert 0 <= figures.turned_away < len(every)
        assert figures.overtime >= 0
        assert figures.peak_to_mean >= 1
    level, early = simulate(days, _levelled), simulate(days, _first_fit)
    assert level.peak_to_mean <= early.peak_to_mean
