"""Guards for the numbers the core is given: refuse what is not a usable value, never adjust it.

Every guard raises an :class:`~ivig.errors.InvalidInput` (or :class:`~ivig.errors.OutOfRange`)
naming the field, so that hostile input (NaN, infinities, integers too large for a float, booleans
passed as numbers, values that would make the work unbounded) ends as a clear refusal and never
as a ``ValueError``, ``OverflowError`` or ``ZeroDivisionError`` deeper down.
"""

from __future__ import annotations

import datetime as dt
import math

from ivig.errors import InvalidInput, OutOfRange

__all__ = ["date_in_range", "number", "number_in_range", "shown", "whole_in_range"]

_SHOWN_DIGITS = 15  # integers longer than this are described, not printed


def shown(value: object) -> str:
    """A value for a message: integers too long to print (or to read) are described."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10**_SHOWN_DIGITS:
            sign = "-" if value < 0 else ""
            return f"{sign}a number of about {int(value.bit_length() * math.log10(2)) + 1} digits"
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)[:80]


def number(value: object, *, field: str, what: str) -> float:
    """``value`` as a finite float; refuse anything else (NaN, infinity, a boolean, text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number (got {shown(value)})", field=field)
    if isinstance(value, int):
        if abs(value) >= 10**300:
            raise InvalidInput(f"{what} is not a usable number ({shown(value)})", field=field)
        return float(value)
    if not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number (got {value:g})", field=field)
    return value


def number_in_range(
    value: object, bounds: tuple[float, float], *, field: str, unit: str, what: str
) -> float:
    """A finite number within ``bounds`` (inclusive), as a float; else :class:`OutOfRange`."""
    v = number(value, field=field, what=what)
    low, high = bounds
    if not low <= v <= high:
        raise OutOfRange(field, v, low, high, unit, what=what)
    return v


def whole_in_range(
    value: object, bounds: tuple[int, int], *, field: str, what: str, unit: str = ""
) -> int:
    """A whole number (an ``int``, not a boolean) within ``bounds`` (inclusive); outside them,
    :class:`OutOfRange` (or :class:`InvalidInput` for a number too long to print)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be a whole number (got {shown(value)})", field=field)
    low, high = bounds
    if not low <= value <= high:
        if abs(value) < 10**_SHOWN_DIGITS:
            raise OutOfRange(field, value, low, high, unit, what=what)
        raise InvalidInput(
            f"{what} must be {low} to {high} {unit} (got {shown(value)})".replace("  ", " "),
            field=field,
        )
    return value


def date_in_range(
    value: object, bounds: tuple[dt.date, dt.date], *, field: str, what: str
) -> dt.date:
    """A date (not a datetime) within ``bounds`` (inclusive)."""
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InvalidInput(f"{what} must be a date (got {shown(value)})", field=field)
    low, high = bounds
    if not low <= value <= high:
        raise InvalidInput(
            f"{what} {value.isoformat()} is outside {low.isoformat()} to {high.isoformat()}",
            field=field,
        )
    return value
