"""Suggested slots that level a unit's day (issue 18): every chair and start where a new
infusion fits, ranked so that the unit's occupancy stays flat, not just the earliest.

Why: units that book first come, first served fill the middle of the day and leave mornings
and evenings empty; published infusion-centre operations figures put average units at 65-72 %
of their chair-hours and the best at 82-90 %, and commercial schedulers sequence start times by
appointment length to flatten occupancy. Those figures are the motivation, not constants here:
``bench/bookings.py`` measures what this ranking does against first-fit.

The score of a slot, smaller is better, compared in this order:

1. the **peak** of the day's occupancy profile (chairs in use, minute by minute) with the new
   infusion in it: a suggestion never raises the peak above what first-fit's slot would;
2. a **cost** in chair-minutes, the sum of three parts:

   - the growth of the profile's **sum of squares** (the flatter the profile, the smaller the
     sum for the same chair-minutes): ``2 * (chairs already in use, summed over the slot's
     minutes) + length``. One more chair in use beside the infusion for all its length costs
     ``2 * length``: that is the unit the other two parts are weighed in;
   - **lateness** of a long infusion: ``2 * length * share * position``, where ``share`` is
     the infusion's part of the opening hours and ``position`` runs from 0 (its earliest
     possible start) to 1 (its latest). At its latest start a 5-hour infusion of a 10-hour day
     (share 0.5) costs as much as half a chair more beside it all along; a 1-hour one (share
     0.1) a tenth of that. Long infusions are the ones that run past closing when the day slips
     (a slowed rate, a late arrival), and the short ones are what can fill the afternoon;
   - a **sliver**: a free time left on the chair beside the slot shorter than the shortest
     bookable infusion is lost for the day; each of its minutes costs ``SLIVER_WEIGHT`` (4):
     twice a concurrency minute, as the minute is lost and the infusion that could have used
     it has to stack beside another one elsewhere;
   - an end **close to closing**: each minute of the last ``CLOSING_MARGIN_MINUTES`` (60, the
     longer observation after a first infusion, a switch or a long gap) that the infusion
     takes costs ``2 * chairs``, as if the whole unit had one more chair in use that minute: an
     infusion that overruns there (a paused or slowed rate, a late start) is overtime for the
     unit's staff. Without it, levelling fills the evening to the minute of closing:
     ``bench/bookings.py`` measured 1,266 overtime minutes a month against 467 with it (68 for
     first-fit, which leaves the evenings empty).

Ties go to the earlier start, then to the chair given first. Times are whole minutes from the
day's local midnight; candidates start on the granularity's grid (15 minutes) and also right at
the start and flush with the end of each free interval, so a slot can fill a gap exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ivig.errors import InvalidInput

__all__ = [
    "CLOSING_MARGIN_MINUTES",
    "SLIVER_WEIGHT",
    "ChairFree",
    "Slot",
    "first_fit",
    "free_intervals",
    "hhmm",
    "profile",
    "suggest",
]

SLIVER_WEIGHT = 4
CLOSING_MARGIN_MINUTES = 60
DAY_MINUTES = 24 * 60


def hhmm(minute: int) -> str:
    """``HH:MM`` of a minute from midnight."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class ChairFree:
    """One chair (its name, in the unit's order) and its free intervals ``[start, end)`` in
    minutes from midnight: the opening hours minus its bookings."""

    name: str
    free: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Slot:
    """A place for the infusion: the chair (index into the chairs given, and its name), its
    start and end minute, the resulting peak, the cost, and why, in words."""

    chair: int
    chair_name: str
    start: int
    end: int
    peak: int
    cost: float
    reason: str

    @property
    def key(self) -> tuple[int, float, int, int]:
        return (self.peak, self.cost, self.start, self.chair)


def free_intervals(
    opens: int, closes: int, busy: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """The free intervals of a chair open ``[opens, closes)`` with ``busy`` intervals."""
    if not 0 <= opens < closes <= DAY_MINUTES:
        raise InvalidInput("the opening hours are not a part of one day", field="hours")
    free: list[tuple[int, int]] = []
    at = opens
    for start, end in sorted(busy):
        if start > at:
            free.append((at, min(start, closes)))
        at = max(at, end)
        if at >= closes:
            break
    if at < closes:
        free.append((at, closes))
    return tuple((s, e) for s, e in free if e > s)


def _check(opens: int, closes: int, chairs: Sequence[ChairFree]) -> None:
    if not 0 <= opens < closes <= DAY_MINUTES:
        raise InvalidInput("the opening hours are not a part of one day", field="hours")
    for chair in chairs:
        at = opens
        for start, end in chair.free:
            if not at <= start < end <= closes:
                raise InvalidInput(
                    f"{chair.name}: the free times are not ordered, separate intervals within "
                    "the opening hours",
                    field="chairs",
                )
            at = end


def profile(opens: int, closes: int, chairs: Sequence[ChairFree]) -> list[int]:
    """Chairs in use at each minute of ``[opens, closes)``: every minute not free is in use."""
    counts = [len(chairs)] * (closes - opens)
    for chair in chairs:
        for start, end in chair.free:
            for minute in range(start - opens, end - opens):
                counts[minute] -= 1
    return counts


def _starts(start: int, end: int, length: int, granularity: int) -> list[int]:
    """Candidate starts in a free interval: its start, the grid, and flush with its end."""
    last = end - length
    if last < start:
        return []
    grid = range(-(-start // granularity) * granularity, last + 1, granularity)
    return sorted({start, last, *grid})


@dataclass(frozen=True, slots=True)
class _Day:
    opens: int
    closes: int
    chairs: Sequence[ChairFree]
    counts: list[int]
    peak: int
    length: int
    shortest: int


def _slot(day: _Day, index: int, gap: tuple[int, int], start: int) -> Slot:
    """Score the infusion on chair ``index`` from ``start`` inside its free ``gap``."""
    end = start + day.length
    inside = day.counts[start - day.opens : end - day.opens]
    busiest = max(inside)  # this chair is free, so these are the other chairs
    peak = max(day.peak, busiest + 1)
    squares = 2 * sum(inside) + day.length
    hours = day.closes - day.opens
    share = day.length / hours
    room = hours - day.length
    position = (start - day.opens) / room if room > 0 else 0.0
    late = 2 * day.length * share * position
    before, after = start - gap[0], gap[1] - end
    sliver = sum(s for s in (before, after) if 0 < s < day.shortest)
    chairs = len(day.chairs)
    close = 2 * chairs * max(0, CLOSING_MARGIN_MINUTES - (day.closes - end))
    cost = squares + late + SLIVER_WEIGHT * sliver + close
    name = day.chairs[index].name
    words = [
        f"keeps the peak at {peak} of {chairs} chairs"
        if peak == day.peak
        else f"raises the peak to {peak} of {chairs} chairs",
        f"at most {busiest} other chairs in use meanwhile" if busiest else "no other chair in use",
    ]
    if before == 0 and after == 0 and gap != (day.opens, day.closes):
        words.append(f"fills the gap {hhmm(gap[0])}-{hhmm(gap[1])} on {name}")
    elif sliver:
        words.append(f"leaves {sliver} minutes unusable on {name}")
    if close:
        words.append(f"ends {day.closes - end} minutes before closing")
    if share >= 0.25 and position <= 0.25:
        words.append("a long infusion started early")
    elif share >= 0.25 and position > 0.5:
        words.append("a long infusion started late")
    return Slot(index, name, start, end, peak, round(cost, 3), "; ".join(words))


def _day(opens: int, closes: int, chairs: Sequence[ChairFree], length: int, shortest: int) -> _Day:
    _check(opens, closes, chairs)
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise InvalidInput("the infusion's length is a whole number of minutes", field="length")
    if isinstance(shortest, bool) or not isinstance(shortest, int) or shortest < 1:
        raise InvalidInput("the shortest infusion is a whole number of minutes", field="shortest")
    counts = profile(opens, closes, chairs)
    return _Day(opens, closes, chairs, counts, max(counts, default=0), length, shortest)


def suggest(
    opens: int,
    closes: int,
    chairs: Sequence[ChairFree],
    length: int,
    *,
    n: int = 5,
    granularity: int = 15,
    shortest: int = 60,
) -> tuple[Slot, ...]:
    """The best ``n`` slots for an infusion of ``length`` minutes on a day open ``[opens,
    closes)``, best first (see the module's docstring for the score); none when it fits nowhere.
    ``shortest``: the shortest infusion the unit books, in minutes (a free time shorter than it
    beside a slot is a sliver)."""
    if isinstance(granularity, bool) or not isinstance(granularity, int) or granularity < 1:
        raise InvalidInput("the granularity is a whole number of minutes", field="granularity")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidInput("ask for one suggestion or more", field="n")
    day = _day(opens, closes, chairs, length, shortest)
    slots = [
        _slot(day, index, gap, start)
        for index, chair in enumerate(chairs)
        for gap in chair.free
        for start in _starts(gap[0], gap[1], length, granularity)
    ]
    slots.sort(key=lambda s: s.key)
    return tuple(slots[:n])


def first_fit(
    opens: int, closes: int, chairs: Sequence[ChairFree], length: int, *, shortest: int = 60
) -> Slot | None:
    """First come, first served: the earliest start where the infusion fits (the chair given
    first on a tie), scored as :func:`suggest` scores it; ``None`` when it fits nowhere."""
    day = _day(opens, closes, chairs, length, shortest)
    best: tuple[int, int, tuple[int, int]] | None = None
    for index, chair in enumerate(chairs):
        for gap in chair.free:
            if gap[1] - gap[0] >= length:
                if best is None or (gap[0], index) < (best[0], best[1]):
                    best = (gap[0], index, gap)
                break
    if best is None:
        return None
    return _slot(day, best[1], best[2], best[0])
