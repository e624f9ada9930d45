"""The exceptions the clinical core raises.

Every error the core raises is an :class:`IvigError`. Each carries a stable ``code`` (for machines),
the ``field`` at fault (the input a user must change, or ``None``) and a plain ``message`` written
for the clinician. Edges translate the tree in one place each: the CLI prints ``Error: <message>``
and exits with ``exit_code``; the API answers JSON 4xx naming the field; a web form shows the
message next to the field.

    IvigError                    code="error"
    ├── InvalidInput             code="invalid_input"      a value a user typed is unusable
    │   └── OutOfRange           code="out_of_range"       a number outside its plausible range
    ├── CatalogueError           code="catalogue_error"    the drug library data file is broken
    ├── UnknownProduct           code="unknown_product"    no such product id in the catalogue
    ├── UnknownIndication        code="unknown_indication" no such indication id in the catalogue
    ├── NoRateSchedule           code="no_rate_schedule"   listed, but no rate schedule is known
    ├── CapExceeded              code="cap_exceeded"       a plan would break the rolling dose cap
    ├── NotFound                 code="not_found"          no such record (or not yours to see)
    ├── Forbidden                code="forbidden"          your role may not do this
    └── Conflict                 code="conflict"           the record is in the wrong state
        └── StaleVersion         code="stale_version"      someone saved a newer version first

The records services raise the last four; the core raises the others. ``http_status`` is what
the API answers with.
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "CapExceeded",
    "CatalogueError",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "IvigError",
    "NoRateSchedule",
    "NotFound",
    "OutOfRange",
    "StaleVersion",
    "UnknownIndication",
    "UnknownProduct",
]


class IvigError(Exception):
    """Base of every error the clinical core raises."""

    code = "error"
    exit_code = 1
    http_status = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def with_hint(self, hint: str) -> IvigError:
        """Add a suggestion to the message (``"...; hint"``) and return the same error."""
        self.message = f"{self.message}; {hint}"
        self.args = (self.message,)
        return self

    def as_dict(self) -> dict[str, str | None]:
        """The error as the JSON contract's ``{"code", "message", "field"}``."""
        return {"code": self.code, "message": self.message, "field": self.field}


class InvalidInput(IvigError):
    """A value given by a user cannot be used (wrong format, missing, contradictory)."""

    code = "invalid_input"


class OutOfRange(InvalidInput):
    """A number outside the range the core accepts for it."""

    code = "out_of_range"

    def __init__(
        self, field: str, value: float, low: float, high: float, unit: str, *, what: str
    ) -> None:
        super().__init__(
            f"{what} {value:g} {unit} is outside the accepted range {low:g}-{high:g} {unit}",
            field=field,
        )
        self.value = value
        self.low = low
        self.high = high
        self.unit = unit


class CatalogueError(IvigError):
    """The product catalogue (the drug library data files) is missing a value or malformed."""

    code = "catalogue_error"


class UnknownProduct(IvigError):
    """No product with this id is in the catalogue."""

    code = "unknown_product"

    def __init__(self, product_id: str, known: list[str]) -> None:
        super().__init__(
            f"unknown product '{product_id}'; known products: {', '.join(known)}",
            field="product",
        )
        self.product_id = product_id


class UnknownIndication(IvigError):
    """No indication with this id is in the catalogue."""

    code = "unknown_indication"

    def __init__(self, indication_id: str, known: list[str]) -> None:
        super().__init__(
            f"unknown indication '{indication_id}'; known indications: {', '.join(known)}",
            field="indication",
        )
        self.indication_id = indication_id


class NoRateSchedule(IvigError):
    """The product is listed, but no label rate schedule is known, so it cannot be planned."""

    code = "no_rate_schedule"

    def __init__(self, product_id: str, product_name: str) -> None:
        super().__init__(
            f"no infusion rate schedule is known for {product_name} ('{product_id}'): "
            "its label rates were not found, so it cannot be planned; choose another product",
            field="product",
        )
        self.product_id = product_id


class CapExceeded(IvigError):
    """A dose would take some window of ``window_days`` consecutive days above the cap.

    ``earliest_allowed`` is the first date on which the offending dose (or, when
    ``course_start``, the whole course) would fit under the cap, given the doses before it
    (``None`` when none is suggested or no such date exists within a year).
    """

    code = "cap_exceeded"
    http_status = 409

    def __init__(
        self,
        *,
        field: str,
        dose_date: dt.date,
        window_start: dt.date,
        window_end: dt.date,
        reached_g_per_kg: float,
        cap_g_per_kg: float,
        window_days: int,
        indication: str,
        earliest_allowed: dt.date | None = None,
        course_start: bool = False,
    ) -> None:
        what = (
            f"with the earlier doses, a course starting on {dose_date.isoformat()}"
            if course_start
            else f"the dose on {dose_date.isoformat()}"
        )
        message = (
            f"{what} would bring {window_start.isoformat()} to "
            f"{window_end.isoformat()} to {reached_g_per_kg:.2f} g/kg, above the cap of "
            f"{cap_g_per_kg:g} g/kg in any {window_days} days for {indication}"
        )
        if earliest_allowed is not None:
            thing = "course may start" if course_start else "this dose is allowed"
            message += f"; the earliest date this {thing} is {earliest_allowed.isoformat()}"
        super().__init__(message, field=field)
        self.dose_date = dose_date
        self.window_start = window_start
        self.window_end = window_end
        self.reached_g_per_kg = reached_g_per_kg
        self.cap_g_per_kg = cap_g_per_kg
        self.window_days = window_days
        self.earliest_allowed = earliest_allowed


class NotFound(IvigError):
    """No such record, or none the user may see."""

    code = "not_found"
    http_status = 404

    def __init__(self, what: str, ident: object) -> None:
        super().__init__(f"no {what} {ident}", field=None)


class Forbidden(IvigError):
    """The user's roles do not allow this action."""

    code = "forbidden"
    http_status = 403

    def __init__(self, action: str, roles: tuple[str, ...]) -> None:
        need = " or ".join(roles)
        super().__init__(f"{action} needs the role {need}", field=None)
        self.roles = roles


class Conflict(IvigError):
    """The record is not in a state that allows this (e.g. verifying a cancelled order)."""

    code = "conflict"
    http_status = 409


class StaleVersion(Conflict):
    """The record was saved by someone else since it was read: nothing was overwritten."""

    code = "stale_version"

    def __init__(self, what: str, given: int, current: int) -> None:
        super().__init__(
            f"{what} has changed since you read it (your version {given}, now {current}); "
            "reload it and try again",
            field="version",
        )
        self.given = given
        self.current = current
