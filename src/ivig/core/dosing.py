"""Course planning: dose dates, whole-vial rounding and the rolling cap.

Rules (issue 2; clinical-rules.md sections 2 and 4):
- Induction: the total (default 2 g/kg) split evenly over 2-5 consecutive days.
- Maintenance: a dose every 2-6 weeks, for a count of doses or until a date.
- No window of ``window_days`` (28) consecutive days may hold more than the cap (2 g/kg), earlier
  doses included. A plan that would break it is refused, naming the window and the g/kg reached.
- Each dose is rounded to whole vials: the achievable total nearest to the prescribed dose (tie:
  the lower), then the fewest vials; never rounded up past the cap (ASCIA: "ensure that doses
  are rounded to the full vial size").
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ivig.core.checks import date_in_range, number, number_in_range, shown, whole_in_range
from ivig.core.weights import WEIGHT_RANGE_KG
from ivig.errors import CapExceeded, InvalidInput

__all__ = [
    "CapWindow",
    "GivenDose",
    "VialPick",
    "check_under_cap",
    "earliest_allowed_date",
    "earliest_start",
    "induction_dates",
    "maintenance_dates",
    "rolling_cap",
    "round_to_vials",
    "worst_window",
]

_GRAMS_TOLERANCE = 1e-6
_TENTHS = 10  # vial sizes are whole tenths of a gram
MAX_DOSES = 100
SEARCH_DAYS = 366  # how far ahead the earliest allowed date is looked for
# Bounds on the work and on plausible values: beyond them an input is refused, never adjusted.
DOSE_DATES = (dt.date(1900, 1, 1), dt.date(2299, 12, 31))  # any dose, earlier or planned
MAX_DOSE_G = 2_000.0  # one dose in grams (4 g/kg for 350 kg is 1,400 g)
MAX_COUNTED_DOSES = 20_000  # earlier and other doses counted toward the cap (a dose a day for
# 50 years is 18,250)
MAX_EVERY_WEEKS = 52
WINDOW_DAYS_RANGE = (1, SEARCH_DAYS)
VIAL_SIZE_RANGE_G = (0.1, 1000.0)


@dataclass(frozen=True, slots=True)
class GivenDose:
    """A dose on a date, in grams (given earlier, or planned)."""

    date: dt.date
    grams: float


@dataclass(frozen=True, slots=True)
class VialPick:
    """Whole vials for one dose: ``vials`` is ``((size_g, count), ...)``, largest first."""

    prescribed_g: float
    total_g: float
    vials: tuple[tuple[float, int], ...]
    limited_by_cap: bool  # the nearest total would have passed the cap; a lower one was taken

    @property
    def deviation_pct(self) -> float:
        return (self.total_g - self.prescribed_g) / self.prescribed_g * 100.0

    @property
    def vial_count(self) -> int:
        return sum(count for _, count in self.vials)


@dataclass(frozen=True, slots=True)
class CapWindow:
    """The fullest window of consecutive days around a date, and what it holds."""

    start: dt.date
    end: dt.date
    grams: float


# --- dates ------------------------------------------------------------------------------------


def induction_dates(start: dt.date, days: int) -> list[dt.date]:
    """Consecutive days from ``start``."""
    date_in_range(start, DOSE_DATES, field="start", what="the start date")
    whole_in_range(days, (1, MAX_DOSES), field="days", what="the number of days", unit="days")
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    date_in_range(dates[-1], DOSE_DATES, field="start", what="the last dose")
    return dates


def maintenance_dates(
    start: dt.date, every_weeks: int, *, count: int | None = None, until: dt.date | None = None
) -> list[dt.date]:
    """A dose every ``every_weeks`` from ``start``: ``count`` doses, or up to ``until``."""
    if (count is None) == (until is None):
        raise InvalidInput(
            "give either a number of doses or an end date, not both and not neither", field="count"
        )
    date_in_range(start, DOSE_DATES, field="start", what="the start date")
    whole_in_range(
        every_weeks, (1, MAX_EVERY_WEEKS), field="every_weeks", what="the interval", unit="weeks"
    )
    step = dt.timedelta(weeks=every_weeks)
    if until is not None:
        date_in_range(until, DOSE_DATES, field="until", what="the end date")
        if until < start:
            raise InvalidInput(
                f"the end date {until.isoformat()} is before the start {start.isoformat()}",
                field="until",
            )
        count = (until - start) // step + 1
    assert count is not None
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_DOSES:
        raise InvalidInput(
            f"a plan holds 1 to {MAX_DOSES} doses (asked for {shown(count)})",
            field="until" if until is not None else "count",
        )
    dates = [start + i * step for i in range(count)]
    date_in_range(dates[-1], DOSE_DATES, field="start", what="the last dose")
    return dates


# --- the rolling cap --------------------------------------------------------------------------


def _check_window(window_days: int) -> None:
    whole_in_range(
        window_days, WINDOW_DAYS_RANGE, field="window_days", what="the cap window", unit="days"
    )


def _check_doses(doses: Sequence[GivenDose], field: str) -> None:
    """Refuse doses that are no doses: a date outside the calendar the core works in, or grams
    that are not a finite positive amount up to MAX_DOSE_G; and more than MAX_COUNTED_DOSES."""
    if len(doses) > MAX_COUNTED_DOSES:
        raise InvalidInput(
            f"{len(doses)} doses is more than the {MAX_COUNTED_DOSES} a plan can count",
            field=field,
        )
    for i, dose in enumerate(doses, start=1):
        date_in_range(dose.date, DOSE_DATES, field=field, what=f"dose {i}: the date")
        grams = number(dose.grams, field=field, what=f"dose {i}: the amount")
        if not 0 < grams <= MAX_DOSE_G:
            raise InvalidInput(
                f"dose {i}: {grams:g} g is not a dose (above 0 and up to {MAX_DOSE_G:g} g)",
                field=field,
            )


def worst_window(doses: Sequence[GivenDose], day: dt.date, window_days: int) -> CapWindow:
    """The window of ``window_days`` consecutive days containing ``day`` that holds the most.

    The fullest such window can always be taken to start on a dose date (or on ``day``), so only
    those starts are tried; on a tie the later start wins, so the window starts at the first
    dose it holds.
    """
    _check_window(window_days)
    _check_doses(doses, "doses")
    date_in_range(day, DOSE_DATES, field="date", what="the date")
    return _worst_window(doses, day, window_days)


def _worst_window(doses: Sequence[GivenDose], day: dt.date, window_days: int) -> CapWindow:
    """:func:`worst_window` on checked input (the planner's inner loops)."""
    span = dt.timedelta(days=window_days - 1)
    near = [d for d in doses if day - span <= d.date <= day + span]
    starts = sorted({d.date for d in near if d.date <= day} | {day})
    best: CapWindow | None = None
    for start in starts:
        end = start + span
        grams = sum(d.grams for d in near if start <= d.date <= end)
        if best is None or grams >= best.grams - _GRAMS_TOLERANCE:
            best = CapWindow(start, end, grams)
    assert best is not None
    return best


def rolling_cap(doses: Sequence[GivenDose], window_days: int) -> CapWindow | None:
    """The fullest window of ``window_days`` consecutive days over all ``doses``."""
    _check_window(window_days)
    _check_doses(doses, "doses")
    ordered = sorted(doses, key=lambda d: d.date)
    days = [d.date for d in ordered]
    best: CapWindow | None = None
    for dose in doses:
        # The fullest window always starts on a dose's date.
        end = dose.date + dt.timedelta(days=window_days - 1)
        inside = ordered[bisect.bisect_left(days, dose.date) : bisect.bisect_right(days, end)]
        grams = sum(d.grams for d in inside)
        if best is None or grams > best.grams + _GRAMS_TOLERANCE:
            best = CapWindow(dose.date, end, grams)
    return best


def earliest_allowed_date(
    grams: float, after: dt.date, others: Sequence[GivenDose], cap_g: float, window_days: int
) -> dt.date | None:
    """The first date from ``after`` on which ``grams`` fits under the cap beside ``others``."""
    _check_window(window_days)
    _check_doses([GivenDose(after, grams), *others], "doses")
    cap_g = number(cap_g, field="cap_g", what="the cap")
    return _earliest_allowed_date(grams, after, others, cap_g, window_days)


def _earliest_allowed_date(
    grams: float, after: dt.date, others: Sequence[GivenDose], cap_g: float, window_days: int
) -> dt.date | None:
    for i in range(SEARCH_DAYS):
        day = after + dt.timedelta(days=i)
        if _worst_window(others, day, window_days).grams + grams <= cap_g + _GRAMS_TOLERANCE:
            return day
    return None


# --- vials ------------------------------------------------------------------------------------


def _units(grams: float) -> int:
    return round(grams * _TENTHS)


@functools.lru_cache(maxsize=256)
def _fewest_vials(sizes: tuple[int, ...], limit: int) -> tuple[int, ...]:
    """Fewest vials making each total 0..limit (in units of the sizes' gcd); -1 where impossible."""
    impossible = limit + 1
    table = [0] + [impossible] * limit
    for total in range(1, limit + 1):
        best = impossible
        for size in sizes:
            if size <= total and table[total - size] + 1 < best:
                best = table[total - size] + 1
        table[total] = best
    return tuple(-1 if v == impossible else v for v in table)


def _nearest(table: tuple[int, ...], target: float, ceiling: float) -> int | None:
    """The achievable total (``table[t] > 0``) nearest ``target`` and not above ``ceiling``;
    on a tie the lower one."""
    top = math.floor(ceiling)
    below = next((t for t in range(min(math.floor(target), top), 0, -1) if table[t] > 0), None)
    above = next(
        (t for t in range(max(math.ceil(target), 1), top + 1) if table[t] > 0 and t > target),
        None,
    )
    if below is None or (above is not None and above - target < target - below):
        return above
    return below


def _check_vial_sizes(sizes_g: Sequence[float]) -> None:
    """Vial sizes are whole tenths of a gram, 0.1 to 1000 g: any other size would be rounded,
    so it is refused."""
    if not sizes_g:
        raise InvalidInput("the product lists no vial size", field="product")
    for size in sizes_g:
        value = number_in_range(
            size, VIAL_SIZE_RANGE_G, field="product", unit="g", what="a vial size"
        )
        if abs(value * _TENTHS - round(value * _TENTHS)) > 1e-6:
            raise InvalidInput(
                f"a vial size of {value:g} g is not a whole number of tenths of a gram",
                field="product",
            )


def _no_vial_fits(sizes_g: Sequence[float], max_g: float | None) -> InvalidInput:
    return InvalidInput(
        f"no whole vial fits: the smallest vial is {min(sizes_g):g} g and at most "
        f"{max(max_g or 0.0, 0.0):.1f} g may be given under the cap; choose a product "
        "with smaller vials",
        field="product",
    )


def round_to_vials(
    prescribed_g: float, sizes_g: Sequence[float], *, max_g: float | None = None
) -> VialPick:
    """Round a dose to whole vials (see the module docstring for the rule).

    ``max_g`` is the most this dose may be without breaking the cap; the nearest achievable total
    above it is never taken. Raises :class:`InvalidInput` when no whole vial fits.
    """
    prescribed_g = number(prescribed_g, field="dose", what="the prescribed dose")
    if not 0 < prescribed_g <= MAX_DOSE_G:
        raise InvalidInput(
            f"the prescribed dose must be above 0 and up to {MAX_DOSE_G:g} g "
            f"(got {prescribed_g:g} g)",
            field="dose",
        )
    _check_vial_sizes(sizes_g)
    if max_g is not None:
        max_g = number(max_g, field="dose", what="the most this dose may be")
    return _round_to_vials(prescribed_g, sizes_g, max_g)


def _round_to_vials(prescribed_g: float, sizes_g: Sequence[float], max_g: float | None) -> VialPick:
    """:func:`round_to_vials` on checked input (a course's doses, its sizes checked once)."""
    if max_g is not None and max_g < min(sizes_g) - _GRAMS_TOLERANCE:
        raise _no_vial_fits(sizes_g, max_g)
    tenths = sorted({_units(s) for s in sizes_g}, reverse=True)
    unit = functools.reduce(math.gcd, tenths)
    sizes = tuple(t // unit for t in tenths)
    target = prescribed_g * _TENTHS / unit
    ceiling = math.inf if max_g is None else (max_g + _GRAMS_TOLERANCE) * _TENTHS / unit
    limit = math.ceil(target) + sizes[0]
    # Grow the table in blocks so that plans of similar size share it.
    table = _fewest_vials(sizes, -(-limit // 512) * 512)
    best = _nearest(table, target, min(ceiling, limit))
    if best is None:
        raise _no_vial_fits(sizes_g, max_g)
    unconstrained = _nearest(table, target, limit)
    vials: dict[int, int] = {}
    left = best
    while left:
        size = next(s for s in sizes if s <= left and table[left - s] == table[left] - 1)
        vials[size] = vials.get(size, 0) + 1
        left -= size
    return VialPick(
        prescribed_g=prescribed_g,
        total_g=best * unit / _TENTHS,
        vials=tuple((s * unit / _TENTHS, n) for s, n in sorted(vials.items(), reverse=True)),
        limited_by_cap=best != unconstrained,
    )


def _first_breach(
    planned: Sequence[GivenDose], earlier: Sequence[GivenDose], cap_g: float, window_days: int
) -> tuple[GivenDose, CapWindow, list[GivenDose]] | None:
    """The first planned dose (by date) whose fullest window passes the cap, with that window
    and the doses fixed before it; ``None`` when every window is within the cap."""
    fixed = list(earlier)
    for dose in sorted(planned, key=lambda d: d.date):
        window = _worst_window([*fixed, dose], dose.date, window_days)
        if window.grams > cap_g + _GRAMS_TOLERANCE:
            return dose, window, fixed
        fixed.append(dose)
    return None


def earliest_start(
    planned: Sequence[GivenDose], earlier: Sequence[GivenDose], cap_g: float, window_days: int
) -> dt.date | None:
    """The first start date, moving the whole course later day by day, on which it fits."""
    _check_cap_inputs(planned, earlier, cap_g, window_days)
    return _earliest_start(planned, earlier, cap_g, window_days)


def _check_cap_inputs(
    planned: Sequence[GivenDose], earlier: Sequence[GivenDose], cap_g: float, window_days: int
) -> None:
    _check_window(window_days)
    if not planned:
        raise InvalidInput("there is no planned dose to check", field="count")
    if len(planned) > MAX_DOSES:
        raise InvalidInput(
            f"a plan holds 1 to {MAX_DOSES} doses (asked for {len(planned)})", field="count"
        )
    _check_doses(planned, "dose")
    _check_doses(earlier, "history")
    number(cap_g, field="cap_g", what="the cap")
    if cap_g <= 0:
        raise InvalidInput(f"the cap must be above 0 g (got {cap_g:g})", field="cap_g")


def _earliest_start(
    planned: Sequence[GivenDose], earlier: Sequence[GivenDose], cap_g: float, window_days: int
) -> dt.date | None:
    first = min(d.date for d in planned)
    for shift in range(1, SEARCH_DAYS):
        moved = [GivenDose(d.date + dt.timedelta(days=shift), d.grams) for d in planned]
        if _first_breach(moved, earlier, cap_g, window_days) is None:
            return first + dt.timedelta(days=shift)
    return None


def check_under_cap(
    planned: Sequence[GivenDose],
    earlier: Sequence[GivenDose],
    *,
    cap_g: float,
    weight_kg: float,
    window_days: int,
    field: str,
    indication: str,
    suggest_date: bool,
) -> None:
    """Refuse (:class:`CapExceeded`) the first planned dose that takes a window over the cap.

    When the planned doses alone fit and the earlier doses tip the window over, the start date is
    at fault (``field="start"``) and the earliest start that fits is suggested. Otherwise
    ``field`` is at fault and, if ``suggest_date``, the earliest date for the offending dose is.
    """
    _check_cap_inputs(planned, earlier, cap_g, window_days)
    weight_kg = number_in_range(
        weight_kg, WEIGHT_RANGE_KG, field="weight_kg", unit="kg", what="dosing weight"
    )
    breach = _first_breach(planned, earlier, cap_g, window_days)
    if breach is None:
        return
    dose, window, fixed = breach
    if _first_breach(planned, [], cap_g, window_days) is None:
        field = "start"
        earliest = _earliest_start(planned, earlier, cap_g, window_days)
        dose_date = min(d.date for d in planned)
    else:
        earliest = (
            _earliest_allowed_date(dose.grams, dose.date, fixed, cap_g, window_days)
            if suggest_date
            else None
        )
        dose_date = dose.date
    raise CapExceeded(
        field=field,
        dose_date=dose_date,
        window_start=window.start,
        window_end=window.end,
        reached_g_per_kg=window.grams / weight_kg,
        cap_g_per_kg=cap_g / weight_kg,
        window_days=window_days,
        indication=indication,
        earliest_allowed=earliest,
        course_start=field == "start",
    )


def round_course(
    planned: Sequence[GivenDose],
    earlier: Sequence[GivenDose],
    sizes_g: Sequence[float],
    *,
    cap_g: float,
    window_days: int,
) -> list[VialPick]:
    """Round each planned dose to vials, in date order, never taking a window past the cap.

    Each dose's room is the cap less what its fullest window already holds (earlier doses, and
    the planned doses before it as rounded). The last dose of any window therefore sees every
    other dose in it as finally given, and no window ends above the cap.
    """
    _check_cap_inputs(planned, earlier, cap_g, window_days)
    _check_vial_sizes(sizes_g)
    order = sorted(range(len(planned)), key=lambda i: planned[i].date)
    given = list(earlier)
    picks: dict[int, VialPick] = {}
    for i in order:
        dose = planned[i]
        room = cap_g - _worst_window(given, dose.date, window_days).grams
        picks[i] = _round_to_vials(dose.grams, sizes_g, room)
        given.append(GivenDose(dose.date, picks[i].total_g))
    return [picks[i] for i in range(len(planned))]
