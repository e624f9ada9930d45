"""The errors ivig raises for a user to act on: the tree of :class:`IvigError`.

Every such error is an :class:`IvigError`, and every class of the tree lives here. Each carries
a stable ``code`` (for machines), the ``field`` at fault (the input a user must change, or
``None``), a plain ``message`` written for the clinician, the ``http_status`` the API answers
with and the ``exit_code`` of the command line; ``details`` (when not empty) is extra data for
machines, e.g. the soft limits an override must name. Edges translate the tree in one place
each: the CLI prints ``Error: <message>`` and exits with ``exit_code`` (``ivig.cli.main``); the
API answers :func:`error_body` with ``http_status`` (``ivig.api.api``); a page shows the message
next to the field, or an error page (``ivig.web.errors``).

The tree (name, ``code``, ``http_status``; tests/test_error_tree.py checks it against the code):

    IvigError                   error                 422  the base
    ├── InvalidInput            invalid_input         422  a value a user typed is unusable
    │   ├── OutOfRange          out_of_range          422  a number outside its accepted range
    │   └── InvalidTime         invalid_time          400  a clinical time outside its window
    ├── CatalogueError          catalogue_error       422  the drug library's data is broken
    ├── UnknownProduct          unknown_product       422  no such product id in the library
    ├── UnknownIndication       unknown_indication    422  no such indication id in the library
    ├── NoRateSchedule          no_rate_schedule      422  listed, but no rate schedule is known
    ├── HardLimit               hard_limit            422  a library hard limit: no one may save
    │   └── CapExceeded         cap_exceeded          422  over the rolling dose cap
    ├── OverrideRequired        override_required     422  a soft limit: needs a coded override
    ├── NotFound                not_found             404  no such record (or not yours to see)
    ├── Forbidden               forbidden             403  your role may not do this
    ├── Conflict                conflict              409  the record is in the wrong state
    │   └── StaleVersion        stale_version         409  someone saved a newer version first
    ├── DatabaseUnavailable     database_unavailable  503  the database cannot be reached
    ├── PdfUnavailable          pdf_unavailable       503  WeasyPrint's libraries are missing
    ├── MailUnavailable         mail_unavailable      503  the mail server did not take an e-mail
    ├── ConfigError             config_error          422  a setting in the environment is wrong
    ├── DatabaseProblem         database_error        422  no usable ivig database (commands)
    └── ToolFailed              tool_failed           422  pg_dump or pg_restore failed

Who raises what: the core, the errors of input, of the library and of its limits; the records
services, those too (``InvalidTime`` only they) and ``OverrideRequired``, ``NotFound``,
``Forbidden``, ``Conflict`` and ``StaleVersion``; the web edges, ``DatabaseUnavailable`` when
the database is down; ``ivig.interop.pdf``, ``PdfUnavailable``; the portal service,
``MailUnavailable``; ``ivig.server.config``,
``ConfigError`` at start (the server's, or any database command's); the database commands
(``ivig.commands``), ``DatabaseProblem`` and ``ToolFailed``. The last three never reach the
API: their status is the base's.
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "CapExceeded",
    "CatalogueError",
    "ConfigError",
    "Conflict",
    "DatabaseProblem",
    "DatabaseUnavailable",
    "Forbidden",
    "HardLimit",
    "InvalidInput",
    "InvalidTime",
    "IvigError",
    "MailUnavailable",
    "NoRateSchedule",
    "NotFound",
    "OutOfRange",
    "OverrideRequired",
    "PdfUnavailable",
    "StaleVersion",
    "ToolFailed",
    "UnknownIndication",
    "UnknownProduct",
    "error_body",
]


def error_body(
    code: str, message: str, field: str | None = None, **extra: object
) -> dict[str, object]:
    """The JSON body of every error answer, at every edge (the API, JSON answers under
    ``/api/`` outside it, the CLI's ``--json``): ``{"error": {"code", "message", "field"}}``,
    plus ``extra`` keys (``details``, data for machines; the CLI's ``log``).

    The API declares the shape as ``ivig.api.schemas.ErrorOut``."""
    return {"error": {"code": code, "message": message, "field": field, **extra}}


class IvigError(Exception):
    """Base of every error ivig raises for a user to act on."""

    code = "error"
    exit_code = 1
    http_status = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details: dict[str, object] = {}

    def with_hint(self, hint: str) -> IvigError:
        """Add a suggestion to the message (``"...; hint"``) and return the same error."""
        self.message = f"{self.message}; {hint}"
        self.args = (self.message,)
        return self

    def body(self) -> dict[str, object]:
        """The error's JSON answer (:func:`error_body`), with ``"details"`` when it carries any."""
        extra: dict[str, object] = {"details": self.details} if self.details else {}
        return error_body(self.code, self.message, self.field, **extra)


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


class InvalidTime(InvalidInput):
    """A clinical time in the future (beyond the clock skew) or before what it records
    (requirements 35, 9): HTTP 400."""

    code = "invalid_time"
    http_status = 400


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


class HardLimit(IvigError):
    """A drug-library hard limit (requirement 48): above the label's maximum rate, the course
    or rolling cap, a concentration mismatch, an expired or wrong-product lot, an implausible
    rate entry. No role can save it; every attempt is counted in the safety report.

    ``limit`` and ``value`` (with ``unit``) say what was crossed, when there are numbers.
    """

    code = "hard_limit"
    http_status = 422

    def __init__(
        self,
        message: str,
        *,
        field: str | None,
        rule: str,
        limit: float | None = None,
        value: float | None = None,
        unit: str = "",
    ) -> None:
        super().__init__(message, field=field)
        self.rule = rule
        self.limit = limit
        self.value = value
        self.unit = unit


class CapExceeded(HardLimit):
    """A dose would take some window of ``window_days`` consecutive days above the cap.

    ``earliest_allowed`` is the first date on which the offending dose (or, when
    ``course_start``, the whole course) would fit under the cap, given the doses before it
    (``None`` when none is suggested or no such date exists within a year). For a maintenance
    series (``every_weeks``) the message says instead what a prescriber can change: the largest
    dose that fits at this interval (``largest_g_per_kg``) and the shortest interval up to the
    indication's longest at which this dose fits (``fits_every_weeks``). ``with_earlier``: the
    window holds earlier doses too (the message says so). The message is in plain words, dates
    as a clinician writes them (issue 16 item 14); ``details`` holds the same numbers for
    machines (the window, g/kg reached and allowed, the earliest date, ISO dates).
    """

    code = "cap_exceeded"

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
        every_weeks: int | None = None,
        dose_g_per_kg: float | None = None,
        largest_g_per_kg: float | None = None,
        fits_every_weeks: int | None = None,
        weeks_range: tuple[int, int] | None = None,
        with_earlier: bool = False,
    ) -> None:
        # In plain words (issue 16 item 14), the same on a page, in the API and the CLI: "this
        # course would give 2.4 g/kg between 7 December 2026 and 3 January 2027; the cap is 2
        # g/kg in any 28 days for LEMS; the earliest start is 4 January 2027".
        reached = _g_per_kg(reached_g_per_kg, cap_g_per_kg)
        counted = "with the earlier doses, " if with_earlier else ""
        message = (
            f"{counted}this course would give {reached} g/kg between "
            f"{_between(window_start, window_end)}"
            + f"; the cap is {cap_g_per_kg:g} g/kg in any {window_days} days for {indication}"
        )
        if every_weeks is not None and dose_g_per_kg is not None and weeks_range is not None:
            # A maintenance series: what the prescriber can change (issue 14 item 14).
            if largest_g_per_kg is not None:
                message += (
                    f"; every {every_weeks} weeks, the largest dose that fits is "
                    f"{largest_g_per_kg:g} g/kg"
                )
            dose = f"{dose_g_per_kg:.2f}".rstrip("0").rstrip(".")
            if fits_every_weeks is not None:
                message += f"; {dose} g/kg fits every {fits_every_weeks} weeks or longer"
            else:
                message += (
                    f"; {dose} g/kg does not fit at any interval up to {weeks_range[1]} weeks "
                    f"for {indication}"
                )
        elif earliest_allowed is not None and course_start:
            message += f"; the earliest start is {_long_date(earliest_allowed)}"
        elif earliest_allowed is not None:
            message += (
                f"; the dose on {_long_date(dose_date)} may be given from "
                f"{_long_date(earliest_allowed)}"
            )
        elif course_start:
            message += "; no start within a year fits"
        super().__init__(
            message,
            field=field,
            rule="rolling-cap",
            limit=cap_g_per_kg,
            value=round(reached_g_per_kg, 3),
            unit="g/kg",
        )
        self.dose_date = dose_date
        self.window_start = window_start
        self.window_end = window_end
        self.reached_g_per_kg = reached_g_per_kg
        self.cap_g_per_kg = cap_g_per_kg
        self.window_days = window_days
        self.earliest_allowed = earliest_allowed
        self.details = {
            "dose_date": dose_date.isoformat(),
            "window_start": window_start.isoformat(),
            "window_end": window_end.isoformat(),
            "window_days": window_days,
            "reached_g_per_kg": round(reached_g_per_kg, 3),
            "cap_g_per_kg": cap_g_per_kg,
            "earliest_allowed": earliest_allowed.isoformat() if earliest_allowed else None,
            "course_start": course_start,
            "largest_g_per_kg": largest_g_per_kg,
            "fits_every_weeks": fits_every_weeks,
        }


class OverrideRequired(IvigError):
    """Soft limits stand (requirement 47): the action is saved only with an override that gives
    a coded reason and free text, by a user allowed to override, after re-entering the password.
    ``details["limits"]`` lists them (code, message, limit, value, unit, source)."""

    code = "override_required"
    http_status = 422

    def __init__(self, limits: list[dict[str, object]], *, field: str | None = "override") -> None:
        names = "; ".join(str(limit["message"]) for limit in limits)
        super().__init__(
            f"outside the drug library's soft limits ({names}): an override with a coded "
            "reason, a note and your password is needed",
            field=field,
        )
        self.limits = limits
        self.details = {"limits": limits}


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


class DatabaseUnavailable(IvigError):
    """The database cannot be reached (stopped, restarting, out of connections): HTTP 503 with
    ``Retry-After``. The request was not completed; the same request may be sent again (with
    its idempotency key, a write is then done once)."""

    code = "database_unavailable"
    http_status = 503

    def __init__(self) -> None:
        super().__init__(
            "The database is not reachable, so this request could not be completed; "
            "try again in a moment",
            field=None,
        )


class PdfUnavailable(IvigError):
    """WeasyPrint cannot run here: its system libraries (Pango) are missing
    (``ivig.interop.pdf``)."""

    code = "pdf_unavailable"
    http_status = 503


class MailUnavailable(IvigError):
    """The mail server did not take an e-mail (``IVIG_EMAIL_*`` wrong, or the server down):
    nothing was sent and nothing recorded (``records.services.portal``, issue 16)."""

    code = "mail_unavailable"
    http_status = 503


class ConfigError(IvigError):
    """A setting in the environment is missing or wrong (``ivig.server.config``): the message
    starts with the variable's name, also in ``variable``. ``field`` stays ``None``: a variable
    is not an option of the command that met it."""

    code = "config_error"

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}", field=None)
        self.variable = variable


class DatabaseProblem(IvigError):
    """A database command found no usable ivig database: missing, unreachable, or not
    ivig's (``ivig.commands``)."""

    code = "database_error"


class ToolFailed(IvigError):
    """An external tool (pg_dump, pg_restore) failed (``ivig.commands.backup``)."""

    code = "tool_failed"


def _long_date(day: dt.date) -> str:
    """A date in words, as a clinician writes it: '7 December 2026'."""
    return f"{day.day} {day:%B} {day.year}"


def _between(start: dt.date, end: dt.date) -> str:
    """'1 and 28 December 2026', '7 November and 4 December 2026', '7 December 2026 and 3
    January 2027': each month and year said once."""
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day} and {_long_date(end)}"
    if start.year == end.year:
        return f"{start.day} {start:%B} and {_long_date(end)}"
    return f"{_long_date(start)} and {_long_date(end)}"


def _g_per_kg(value: float, cap: float) -> str:
    """g/kg to two decimals without trailing zeros ('2.4'), three when two would read as the
    cap itself (2.004 above a cap of 2)."""
    for places in (2, 3):
        text = f"{value:.{places}f}".rstrip("0").rstrip(".")
        if float(text) > cap:
            break
    return text
