"""Course planning: dose dates, whole-vial rounding and the rolling cap.

Rules (issue 2; clinical-rules.md sections 2 and 4):
- Induction: the total (default 2 g/kg) split evenly over 2-5 consecutive days.
- Maintenance: a dose every 2-6 weeks, for a count of doses or until a date.
- No window of ``window_days`` (28) consecutive days may hold more than the cap (2 g/kg), earlier
  doses included. A plan that would break it is refused, naming the window and the g/kg reached.
- Doses are rounded to whole vials (ASCIA: "ensure that doses are rounded to the full vial
  size"), to a multiple of the service's rounding increment when it sets one, and the course as
  a whole (issue 14, items 1 and 16): each dose less than one step (the smallest vial) from its
  prescribed share, the doses of a course at most one step apart, never above the cap; among
  those, the fewest vials, then the course total nearest the prescribed total.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ivig.core.checks import date_in_range, number, number_in_range, shown, whole_in_range
from ivig.core.units import plain_number
from ivig.core.weights import WEIGHT_RANGE_KG
from ivig.errors import CapExceeded, InvalidInput

__all__ = [
    "LARGER_LAST_WHY",
    "CapWindow",
    "GivenDose",
    "RoundingReason",
    "VialPick",
    "check_under_cap",
    "earliest_allowed_date",
    "earliest_start",
    "induction_dates",
    "maintenance_dates",
    "rolling_cap",
    "round_course",
    "round_to_vials",
    "vial_counts",
    "vial_label",
    "worst_window",
]

_GRAMS_TOLERANCE = 1e-6
# Fewer vials may take a course this % further from its prescribed total than the nearest
# course (the packaged protocol's `fewer_vials_within_pct`, data/protocol.toml).
FEWER_VIALS_WITHIN_PCT = 2.0
_UNIT_TOLERANCE = 1e-7  # in vial units: a share exactly one step from an amount is not "less"
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


class RoundingReason(StrEnum):
    """Why a dose is the amount it is."""

    nearest = "nearest"  # the whole-vial amount nearest the prescribed dose
    fewer_vials = "fewer vials"  # a nearer amount needs more vials
    course_total = "course total"  # as many vials as the nearer amount; brings the course nearer
    cap = "cap"  # the nearer amount would pass the cap


LARGER_LAST_WHY = (
    "smaller doses first and larger doses last: the first infusion carries the most reactions "
    "(EU SmPC: adverse reactions are more frequent at the first infusion and at a high rate), "
    "so it is the shorter one"
)


@dataclass(frozen=True, slots=True)
class VialPick:
    """Whole vials for one dose: ``vials`` is ``((size_g, count), ...)``, largest first.

    ``step_g`` is one rounding step (the smallest vial, or the smallest multiple of the
    service's rounding increment the vials make); ``nearest_g`` (in ``nearest_vials``) is the
    allowed amount nearest the prescribed dose (tie: the lower); ``reason`` says why the dose is
    ``total_g`` and not ``nearest_g``.
    """

    prescribed_g: float
    total_g: float
    vials: tuple[tuple[float, int], ...]
    limited_by_cap: bool  # a nearer amount would have passed the cap; a lower one was taken
    step_g: float
    nearest_g: float
    nearest_vials: tuple[tuple[float, int], ...]
    reason: RoundingReason

    @property
    def deviation_pct(self) -> float:
        return (self.total_g - self.prescribed_g) / self.prescribed_g * 100.0

    @property
    def vial_count(self) -> int:
        return sum(count for _, count in self.vials)

    @property
    def nearest_vial_count(self) -> int:
        return sum(count for _, count in self.nearest_vials)

    @property
    def why(self) -> str:
        """One sentence: why this dose is this amount."""
        got, near = plain_number(self.total_g, 2), plain_number(self.nearest_g, 2)
        share = plain_number(self.prescribed_g, 2)
        if self.reason is RoundingReason.nearest:
            if math.isclose(self.total_g, self.prescribed_g, abs_tol=_GRAMS_TOLERANCE):
                return f"{got} g is the prescribed dose in whole vials"
            return f"{got} g is the allowed amount nearest the prescribed {share} g"
        if self.reason is RoundingReason.fewer_vials:
            return (
                f"{got} g in {_vials_word(self.vial_count)} rather than the nearer {near} g in "
                f"{_vials_word(self.nearest_vial_count)}: the fewest vials within one step "
                f"({plain_number(self.step_g, 2)} g) of the prescribed {share} g"
            )
        if self.reason is RoundingReason.course_total:
            return (
                f"{got} g rather than the nearer {near} g (as many vials): brings the course "
                "total nearer the prescribed total"
            )
        return f"{got} g: the nearer {near} g would pass the cap"


def _vials_word(count: int) -> str:
    return f"{count} vial" if count == 1 else f"{count} vials"


Vials = Iterable[tuple[float, int]] | Iterable[Mapping[str, Any]]
"""Vials as ``(size_g, count)`` pairs (``VialPick.vials``) or as the plan's JSON rows
(``{"size_g": 40, "count": 2}``: an order's ``vials``)."""


def vial_counts(vials: Vials) -> dict[float, int]:
    """How many vials of each size (g), largest first; two rows of one size add up."""
    counts: dict[float, int] = {}
    for vial in vials:
        size, count = (vial["size_g"], vial["count"]) if isinstance(vial, Mapping) else vial
        counts[float(size)] = counts.get(float(size), 0) + int(count)
    return dict(sorted(counts.items(), reverse=True))


def vial_label(vials: Vials, *, sign: str = "x", space: str = " ", compact: bool = False) -> str:
    """A dose's vials in words, largest first: ``2 x 40 g + 1 x 5 g``; the pages write ``sign``
    "\u00d7" (with a no-break ``space`` where a size must not break); ``compact``, for the
    command's tables: ``2x40 + 1x5 g``. Empty for no vials."""
    counts = vial_counts(vials)
    if not counts:
        return ""
    if compact:
        return " + ".join(f"{n}x{plain_number(s, 2)}" for s, n in counts.items()) + " g"
    return " + ".join(
        f"{n}{space}{sign}{space}{plain_number(s, 2)}{space}g" for s, n in counts.items()
    )


@dataclass(frozen=True, slots=True)
class _Vials:
    """The whole-vial amounts of one product, in units of the sizes' gcd (``unit`` tenths of a
    gram), that are multiples of ``increment`` tenths (``None``: any)."""

    unit: int
    sizes: tuple[int, ...]  # largest first
    increment: int | None

    @classmethod
    def of(cls, sizes_g: Sequence[float], increment_g: float | None) -> _Vials:
        tenths = sorted({_units(s) for s in sizes_g}, reverse=True)
        unit = functools.reduce(math.gcd, tenths)
        increment = None if increment_g is None else _units(increment_g)
        return cls(unit, tuple(t // unit for t in tenths), increment)

    def table(self, limit: float) -> tuple[int, ...]:
        """Fewest vials for each amount up to at least ``limit`` units (-1: impossible)."""
        top = max(math.ceil(limit), 1) + self.sizes[0]
        # Grow the table in blocks so that plans of similar size share it.
        return _fewest_vials(self.sizes, -(-top // 512) * 512)

    def allowed(self, table: tuple[int, ...], amount: int) -> bool:
        return (
            0 < amount < len(table)
            and table[amount] > 0
            and (self.increment is None or amount * self.unit % self.increment == 0)
        )

    def step(self) -> int:
        """The smallest allowed amount: every multiple of it is allowed too."""
        top = self.sizes[-1] * (1 if self.increment is None else self.increment)
        table = self.table(top)
        return next(t for t in range(1, top + 1) if self.allowed(table, t))

    def grams(self, amount: int) -> float:
        return amount * self.unit / _TENTHS

    def mix(self, table: tuple[int, ...], amount: int) -> tuple[tuple[float, int], ...]:
        """The fewest vials making ``amount``, largest first."""
        vials: dict[int, int] = {}
        left = amount
        while left:
            size = next(s for s in self.sizes if s <= left and table[left - s] == table[left] - 1)
            vials[size] = vials.get(size, 0) + 1
            left -= size
        return tuple((self.grams(s), n) for s, n in sorted(vials.items(), reverse=True))


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


def _check_increment(increment_g: float | None) -> float | None:
    """A rounding increment is ``None`` (whole vials only) or whole tenths of a gram, 0.1 to
    1000 g."""
    if increment_g is None:
        return None
    value = number_in_range(
        increment_g, VIAL_SIZE_RANGE_G, field="rounding_increment", unit="g", what="the increment"
    )
    if abs(value * _TENTHS - round(value * _TENTHS)) > 1e-6:
        raise InvalidInput(
            f"a rounding increment of {value:g} g is not a whole number of tenths of a gram",
            field="rounding_increment",
        )
    return value


def _no_vial_fits(step_g: float, max_g: float | None) -> InvalidInput:
    return InvalidInput(
        f"no whole vial fits: the smallest dose the vials make is {step_g:g} g and at most "
        f"{max(max_g or 0.0, 0.0):.1f} g may be given under the cap; choose a product "
        "with smaller vials",
        field="product",
    )


def _candidates(vials: _Vials, table: tuple[int, ...], share: float, step: int) -> list[int]:
    """The allowed amounts less than one step from ``share`` (every multiple of the step is
    allowed, so there is one unless the share is almost nothing)."""
    low, high = max(1, math.floor(share - step)), math.ceil(share + step)
    found = [
        t
        for t in range(low, high + 1)
        if vials.allowed(table, t) and abs(t - share) < step - _UNIT_TOLERANCE
    ]
    return found or [step]  # a share of almost nothing: one step, the smallest dose


def _nearest_amount(candidates: Sequence[int], share: float) -> int:
    """The candidate nearest ``share``; on a tie the lower."""
    return min(candidates, key=lambda t: (abs(t - share), t))


def _reason(nearest: int, amount: int, table: tuple[int, ...], blocked: bool) -> RoundingReason:
    if amount == nearest:
        return RoundingReason.nearest
    if blocked:  # the nearer amount would pass the cap: whatever its vials
        return RoundingReason.cap
    if table[amount] < table[nearest]:
        return RoundingReason.fewer_vials
    return RoundingReason.course_total


def _pick(
    vials: _Vials,
    table: tuple[int, ...],
    prescribed_g: float,
    amount: int,
    nearest: int,
    reason: RoundingReason,
) -> VialPick:
    return VialPick(
        prescribed_g=prescribed_g,
        total_g=vials.grams(amount),
        vials=vials.mix(table, amount),
        limited_by_cap=reason is RoundingReason.cap,
        step_g=vials.grams(vials.step()),
        nearest_g=vials.grams(nearest),
        nearest_vials=vials.mix(table, nearest),
        reason=reason,
    )


def round_to_vials(
    prescribed_g: float,
    sizes_g: Sequence[float],
    *,
    max_g: float | None = None,
    increment_g: float | None = None,
) -> VialPick:
    """Round one dose to whole vials (ASCIA: "ensure that doses are rounded to the full vial
    size"; issue 14 item 16).

    Among the allowed amounts (whole vials; multiples of ``increment_g`` when the service sets
    one) less than one step from the prescribed dose and not above ``max_g`` (the most this dose
    may be under the cap): the fewest vials, then the nearest, then the lower. When the cap
    leaves less than that, the largest allowed amount under it (``limited_by_cap``). Raises
    :class:`InvalidInput` when no whole vial fits.
    """
    prescribed_g = number(prescribed_g, field="dose", what="the prescribed dose")
    if not 0 < prescribed_g <= MAX_DOSE_G:
        raise InvalidInput(
            f"the prescribed dose must be above 0 and up to {MAX_DOSE_G:g} g "
            f"(got {prescribed_g:g} g)",
            field="dose",
        )
    _check_vial_sizes(sizes_g)
    increment_g = _check_increment(increment_g)
    if max_g is not None:
        max_g = number(max_g, field="dose", what="the most this dose may be")
        # No room below 0 g; and room beyond twice the largest dose allows every amount considered
        # (each is at most one step above the dose): the same answer without float overflow.
        max_g = min(max(max_g, 0.0), 2 * MAX_DOSE_G)
    vials = _Vials.of(sizes_g, increment_g)
    step = vials.step()
    share = prescribed_g * _TENTHS / vials.unit
    table = vials.table(share + step)
    candidates = _candidates(vials, table, share, step)
    nearest = _nearest_amount(candidates, share)
    ceiling = math.inf if max_g is None else (max_g + _GRAMS_TOLERANCE) * _TENTHS / vials.unit
    fitting = [t for t in candidates if t <= ceiling]
    if fitting:
        amount = min(fitting, key=lambda t: (table[t], abs(t - share), t))
        return _pick(
            vials,
            table,
            prescribed_g,
            amount,
            nearest,
            _reason(nearest, amount, table, nearest > ceiling),
        )
    below = next((t for t in range(math.floor(ceiling), 0, -1) if vials.allowed(table, t)), None)
    if below is None:
        raise _no_vial_fits(vials.grams(step), max_g)
    return _pick(vials, table, prescribed_g, below, nearest, RoundingReason.cap)


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
    """The first start date, from the planned one and moving the whole course later day by day,
    on which no window of ``window_days`` holds more than ``cap_g`` with the ``earlier`` doses
    (issue 2; clinical-rules.md sections 2 and 4: 2 g/kg in any 28 days); ``None`` when the
    course alone passes the cap or no start within a year fits. The planned start when the
    course fits as planned; the cap refusal names it (issue 16 item 14)."""
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
    for shift in range(SEARCH_DAYS):
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
    every_weeks: int | None = None,
    weeks_range: tuple[int, int] | None = None,
    start_movable: bool = True,
) -> None:
    """Refuse (:class:`CapExceeded`) the first planned dose that takes a window over the cap.

    When the planned doses alone fit and the earlier doses tip the window over, the start date is
    at fault (``field="start"``) and the earliest start that fits is suggested. Otherwise
    ``field`` is at fault and, if ``suggest_date``, the earliest date for the offending dose is.
    For a maintenance series (``every_weeks`` in ``weeks_range``) the refusal also says what a
    prescriber can change (issue 14 item 14): the largest dose that fits at this interval, and the
    shortest interval in the range at which this dose fits. ``start_movable=False`` (a re-plan
    of a course whose dates stand) suggests no start.
    """
    _check_cap_inputs(planned, earlier, cap_g, window_days)
    weight_kg = number_in_range(
        weight_kg, WEIGHT_RANGE_KG, field="weight_kg", unit="kg", what="dosing weight"
    )
    breach = _first_breach(planned, earlier, cap_g, window_days)
    if breach is None:
        return
    dose, window, fixed = breach
    largest = interval = series = None
    if _first_breach(planned, [], cap_g, window_days) is None:
        field = "start"
        earliest = _earliest_start(planned, earlier, cap_g, window_days) if start_movable else None
        dose_date = min(d.date for d in planned)
    else:
        earliest = (
            _earliest_allowed_date(dose.grams, dose.date, fixed, cap_g, window_days)
            if suggest_date
            else None
        )
        dose_date = dose.date
        if every_weeks is not None and weeks_range is not None:
            series = every_weeks
            largest = _largest_dose_g_per_kg(planned, earlier, cap_g, window_days, weight_kg)
            interval = _shortest_interval(planned, earlier, cap_g, window_days, every_weeks,
                                          weeks_range)  # fmt: skip
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
        course_start=field == "start" and start_movable,
        every_weeks=series,
        dose_g_per_kg=max(d.grams for d in planned) / weight_kg,
        largest_g_per_kg=largest,
        fits_every_weeks=interval,
        weeks_range=weeks_range,
        with_earlier=any(window.start <= d.date <= window.end for d in earlier),
    )


def _largest_dose_g_per_kg(
    planned: Sequence[GivenDose],
    earlier: Sequence[GivenDose],
    cap_g: float,
    window_days: int,
    weight_kg: float,
) -> float | None:
    """The largest dose (g/kg, two decimals, rounded down) that fits on the planned dates."""
    hundredths = math.floor(max(d.grams for d in planned) / weight_kg * 100)

    def fits(n: int) -> bool:
        doses = [GivenDose(d.date, n / 100 * weight_kg) for d in planned]
        return _first_breach(doses, earlier, cap_g, window_days) is None

    low, high = 0, hundredths  # fits(low) is assumed, fits(high) is known false
    if not fits(1):
        return None
    low = 1
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low / 100


def _shortest_interval(
    planned: Sequence[GivenDose],
    earlier: Sequence[GivenDose],
    cap_g: float,
    window_days: int,
    every_weeks: int,
    weeks_range: tuple[int, int],
) -> int | None:
    """The shortest interval in ``weeks_range``, longer than ``every_weeks``, at which the same
    number of doses of the same size fits from the same start."""
    first = min(d.date for d in planned)
    grams = max(d.grams for d in planned)
    for weeks in range(every_weeks + 1, weeks_range[1] + 1):
        doses = [
            GivenDose(first + dt.timedelta(weeks=weeks * i), grams) for i in range(len(planned))
        ]
        if doses[-1].date > DOSE_DATES[1]:
            return None
        if _first_breach(doses, earlier, cap_g, window_days) is None:
            return weeks
    return None


def round_course(
    planned: Sequence[GivenDose],
    earlier: Sequence[GivenDose],
    sizes_g: Sequence[float],
    *,
    cap_g: float,
    window_days: int,
    increment_g: float | None = None,
    fewer_vials_within_pct: float = FEWER_VIALS_WITHIN_PCT,
) -> list[VialPick]:
    """Round a course to whole vials as a whole, never taking a window past the cap (issue 14,
    items 1 and 16; ASCIA: doses rounded to the full vial size).

    Every planned dose has the same prescribed share. Each dose is an allowed amount less than
    one step (the smallest vial, or the smallest multiple of ``increment_g`` the vials make)
    from the share, and the doses differ by at most one step: the course takes one amount, or
    two (``lo`` and ``hi``). Among such courses under the cap, those whose total is within
    ``fewer_vials_within_pct`` % of the prescribed total of the nearest one (no vials for a few
    tenths of a gram, without moving a dose far from its share: a rounded dose stays near its
    share); among them the fewest vials, then the course total nearest the prescribed total,
    then the lower total. The ``hi`` doses go on the latest
    dates the cap allows: smaller doses first and larger last, because the first infusion
    carries the most reactions (``LARGER_LAST_WHY``). One such course always exists when the
    shares fit under the cap: every dose rounded down to the allowed amount below its share.
    """
    _check_cap_inputs(planned, earlier, cap_g, window_days)
    _check_vial_sizes(sizes_g)
    increment_g = _check_increment(increment_g)
    shares = {round(d.grams, 9) for d in planned}
    if len(shares) != 1:
        raise InvalidInput("the doses of a course share one prescribed amount", field="dose")
    prescribed_g = planned[0].grams
    vials = _Vials.of(sizes_g, increment_g)
    step = vials.step()
    share = prescribed_g * _TENTHS / vials.unit
    table = vials.table(share + step)
    candidates = _candidates(vials, table, share, step)
    order = sorted(range(len(planned)), key=lambda i: planned[i].date)
    dates = [planned[i].date for i in order]
    span = dt.timedelta(days=window_days - 1)
    nearby = [d for d in earlier if dates[0] - span <= d.date <= dates[-1] + span]

    def fits_at(amounts: list[int], i: int) -> bool:
        given = [
            *nearby,
            *(GivenDose(d, vials.grams(a)) for d, a in zip(dates, amounts, strict=True)),
        ]
        return _worst_window(given, dates[i], window_days).grams <= cap_g + _GRAMS_TOLERANCE

    target = share * len(dates)

    def courses_of(amounts_allowed: Sequence[int]) -> list[list[int]]:
        made: list[list[int]] = []
        for lo in amounts_allowed:
            amounts = [lo] * len(dates)
            if not all(fits_at(amounts, i) for i in range(len(dates))):
                continue
            for hi in amounts_allowed:
                if lo <= hi <= lo + step:
                    count = _hi_count(table, lo, hi, target, len(dates))
                    made.append(_raise_last(amounts, lo, hi, count, fits_at))
        return made

    # A dose saves vials only near its share: within the tolerance of the nearest amount; when
    # the cap allows none of those, any amount less than one step away (the lower ones fit).
    tolerance = share * fewer_vials_within_pct / 100
    nearest_off = min(abs(c - share) for c in candidates)
    close = [c for c in candidates if abs(c - share) <= nearest_off + tolerance + 1e-9]
    courses = courses_of(close)
    if courses:
        candidates = close
    else:
        courses = courses_of(candidates)
    if not courses:
        raise _no_vial_fits(vials.grams(step), cap_g - _worst_window(nearby, dates[0],
                                                                   window_days).grams)  # fmt: skip
    # How far from the prescribed total the course may go to save vials.
    slack = min(abs(sum(c) - target) for c in courses) + target * fewer_vials_within_pct / 100
    near = [c for c in courses if abs(sum(c) - target) <= slack + 1e-9]
    best = min(near, key=lambda c: (sum(table[a] for a in c), abs(sum(c) - target), sum(c)))
    course = _fewer_vials(
        best, candidates, table, share, step, fits_at, lambda c: abs(sum(c) - target) <= slack
    )
    nearest = _nearest_amount(candidates, share)
    picks: dict[int, VialPick] = {}
    for i, amount in enumerate(course):
        blocked = False
        if nearest > amount:
            trial = [*course[:i], nearest, *course[i + 1 :]]
            blocked = not fits_at(trial, i)
        reason = _reason(nearest, amount, table, blocked)
        picks[order[i]] = _pick(vials, table, prescribed_g, amount, nearest, reason)
    return [picks[i] for i in range(len(planned))]


def _fewer_vials(
    course: list[int],
    candidates: Sequence[int],
    table: tuple[int, ...],
    share: float,
    step: int,
    fits_at: Callable[[list[int], int], bool],
    near_enough: Callable[[list[int]], bool],
) -> list[int]:
    """Move single doses to an amount with fewer vials while the cap, the one-step spread and
    the nearness to the prescribed total (``near_enough``) still hold, until none can move: then
    no dose could take fewer vials on its own (the two amounts chosen first can leave such a
    dose when the cap is tight)."""
    course = list(course)
    better = sorted(candidates, key=lambda t: (table[t], abs(t - share), t))
    moved = True
    while moved:
        moved = False
        for i, amount in enumerate(course):
            rest = course[:i] + course[i + 1 :]
            for t in better:
                if table[t] >= table[amount]:
                    break
                if rest and (max(rest) - t > step or t - min(rest) > step):
                    continue
                trial = [*rest[:i], t, *rest[i:]]
                if not near_enough(trial):
                    continue
                if t < amount or fits_at(trial, i):
                    course, moved = trial, True
                    break
    return course


def _hi_count(table: tuple[int, ...], lo: int, hi: int, target: float, n: int) -> int:
    """How many doses take ``hi``: all when it takes fewer vials than ``lo``, else as many as
    bring the course total nearest ``target`` (tie: fewer)."""
    if hi == lo:
        return 0
    if table[hi] < table[lo]:
        return n
    return min(range(n + 1), key=lambda k: (abs(n * lo + k * (hi - lo) - target), k))


def _raise_last(
    amounts: list[int], lo: int, hi: int, count: int, fits_at: Callable[[list[int], int], bool]
) -> list[int]:
    """Raise up to ``count`` doses from ``lo`` to ``hi``, latest first, each only if the cap
    still holds (raising a dose changes only the windows that hold it)."""
    course = list(amounts)
    raised = 0
    for i in reversed(range(len(course))):
        if raised == count:
            break
        course[i] = hi
        if fits_at(course, i):
            raised += 1
        else:
            course[i] = lo
    return course
