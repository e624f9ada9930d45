"""CSV exchange, the format: the columns of the exports and of the patient import, reading and
checking the import's header, reading a cell (text, a date, a number), writing rows.

Nothing here touches the records (``ivig.records.services.exchange`` does): the export rows
arrive as plain ``dict[str, str]`` and are written with :func:`write_rows`; the import's rows
are read with :func:`read_patient_rows` (the header checked before any row), and the service
makes each its input with :func:`cell_text`, :func:`cell_date` and :func:`cell_number`, which
raise :class:`~ivig.errors.InvalidInput` naming the column at fault.

Every cell written goes through :func:`safe_cell` (issue 17 item 7, OWASP "CSV Injection"): a
cell that a spreadsheet would run as a formula is written as text. The import reads only patient
files, never the exports, so nothing needs undoing on the way back in.

Row numbers are those a spreadsheet shows: the header is row 1, the first patient row 2.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from ivig.errors import InvalidInput

__all__ = [
    "FORMULA_STARTS",
    "INFUSION_COLUMNS",
    "OUTCOME_COLUMNS",
    "PATIENT_COLUMNS",
    "PATIENT_REQUIRED",
    "USAGE_COLUMNS",
    "RowError",
    "cell_date",
    "cell_number",
    "cell_text",
    "extra_cells",
    "iter_errors",
    "read_patient_rows",
    "rows_to_csv",
    "safe_cell",
    "write_rows",
]

# --- the exports ---------------------------------------------------------------------------------

INFUSION_COLUMNS = (
    "order_id",
    "mrn",
    "patient_name",
    "product",
    "date",
    "dose_g",
    "volume_ml",
    "vials",
    "lots",
    "started_at",
    "ended_at",
    "state",
    "max_rate_ml_per_h",
    "rate_changes",
    "reactions",
    "observation_minutes",
    "nurse",
    "verified_by",
    "catalogue_version",
    "volume_given_ml",
    "given_g",
)
"""One row per infusion session. ``vials``: ``2 x 40 g + 1 x 5 g``; ``lots``: ``P1 (40 g x 2,
exp 2030-01-01); ...``; times ISO 8601 with the offset; ``rate_changes``: the number of
rate changes (pump events other than the start, pauses, resumes and stops); ``reactions``:
the severities, ``;``-separated, in time order; ``volume_given_ml`` and ``given_g``: what the
end recorded (issue 16 item 4; an infusion ended before they were recorded: its dose's volume
and grams; empty while it runs)."""

OUTCOME_COLUMNS = (
    "mrn",
    "measure",
    "value",
    "measured_on",
    "recorded_by",
    "recorded_at",
    "status",
)
"""One row per outcome entry; ``status``: ``in force``, ``superseded`` or ``entered in error``
(the last two only with ``--all``)."""

USAGE_COLUMNS = (
    "group",
    "key",
    "name",
    "infusions",
    "grams",
    "running",
    "infusions_with_reaction",
    "reactions",
    "reactions_per_100",
)
"""The usage report (issue 18), one row per month, product and indication, then the total:
``group`` (``month``, ``product``, ``indication``, ``total``), its ``key`` (``2026-11``, the
product or indication code) and ``name``; ``grams`` counted as the report says (given, else
the dose of an ended infusion); ``running``: infusions started and not ended (no grams yet);
``reactions_per_100``: infusions with a reaction / infusions x 100 (empty with no infusion)."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (OWASP "CSV Injection")."""


def safe_cell(value: object) -> str:
    """The cell's text, prefixed with ``'`` when it starts like a formula (``=1+2``,
    ``=HYPERLINK(...)``, ``-1.5``: OWASP prefixes every such cell, numbers too); ``None``:
    empty."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def write_rows(
    stream: IO[str], columns: Iterable[str], rows: Iterable[Mapping[str, object]]
) -> int:
    """Write the header and the rows, only the named columns and in their order (``None`` as
    an empty cell, each cell through :func:`safe_cell`); the number of rows."""
    names = list(columns)
    writer = csv.DictWriter(stream, fieldnames=names, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: safe_cell(row.get(k)) for k in names})
        count += 1
    return count


def rows_to_csv(columns: Iterable[str], rows: Iterable[Mapping[str, object]]) -> str:
    """The CSV text of the rows (RFC 4180 line ends)."""
    buffer = io.StringIO()
    write_rows(buffer, columns, rows)
    return buffer.getvalue()


# --- the patient import --------------------------------------------------------------------------

PATIENT_REQUIRED = ("mrn", "family_name", "given_name", "date_of_birth", "sex", "height_cm")
PATIENT_COLUMNS = (
    *PATIENT_REQUIRED,
    "weight_kg",
    "weighed_on",
    "risk_codes",
    "conditions",
    "allergies",
    "iga_status",
    "notes",
)


_EXTRA = "\0extra"  # the key of a row's cells beyond the header (no column name has a NUL)


@dataclass(frozen=True, slots=True)
class RowError:
    """What is wrong with one row: its number (the header is row 1), the column (``None`` when
    the fault is the whole row) and the message."""

    row: int
    column: str | None
    message: str


def _header(fields: list[str] | None) -> list[str]:
    if not fields:
        raise InvalidInput(
            "FILE: the file is empty; the first line must name the columns: "
            + ", ".join(PATIENT_COLUMNS)
        )
    names = [(f or "").strip().lower() for f in fields]
    unknown = [n or "(empty)" for n in names if n not in PATIENT_COLUMNS]
    missing = [n for n in PATIENT_REQUIRED if n not in names]
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    problems = []
    if unknown:
        problems.append(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    if missing:
        problems.append(
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
        )
    if repeated:
        problems.append(f"repeated column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)}")
    if problems:
        raise InvalidInput(
            "FILE: the header is wrong (nothing was imported): "
            + "; ".join(problems)
            + f". Columns: {', '.join(PATIENT_COLUMNS)} (required: {', '.join(PATIENT_REQUIRED)})"
        )
    return names


def read_patient_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of a patient file as ``(row number, {column: text})``, after checking the
    header (an unknown, missing or repeated column: :class:`InvalidInput` before any row).
    Blank lines are skipped; a row with more cells than the header is kept with the extra cells
    joined under a key of their own (:func:`extra_cells`; the import reports such a row)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = _header(next(reader, None))
        out: list[tuple[int, dict[str, str]]] = []
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            row: dict[str, str] = dict(zip(header, cells, strict=False))
            if len(cells) > len(header):
                row[_EXTRA] = ";".join(cells[len(header) :])
            out.append((number, row))
    except csv.Error as exc:
        raise InvalidInput(f"FILE: not a readable CSV file ({exc})") from None
    return out


def extra_cells(row: Mapping[str, str]) -> str:
    """The cells of a row beyond the header's columns, ``;``-separated (empty: none)."""
    return row.get(_EXTRA) or ""


def cell_text(row: Mapping[str, str], column: str) -> str:
    """The cell's text without the spaces around it (empty when the column is absent)."""
    return (row.get(column) or "").strip()


def cell_date(row: Mapping[str, str], column: str) -> dt.date | None:
    """The cell as an ISO date (``None`` when empty); :class:`InvalidInput` naming the column
    otherwise."""
    value = cell_text(row, column)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a date (YYYY-MM-DD)", field=column) from None


def cell_number(row: Mapping[str, str], column: str) -> float | None:
    """The cell as a finite number, a decimal comma accepted (``70,5``; ``None`` when empty);
    :class:`InvalidInput` naming the column otherwise."""
    value = cell_text(row, column)
    if not value:
        return None
    try:
        number = float(value.replace(",", ".") if value.count(",") == 1 else value)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a number", field=column) from None
    if not math.isfinite(number):
        raise InvalidInput(f"'{value}' is not a number", field=column)
    return number


def iter_errors(errors: Iterable[RowError]) -> Iterator[str]:
    """Each error as one line of the report: ``row 3, date_of_birth: ...``."""
    for e in errors:
        where = f"row {e.row}" + (f", {e.column}" if e.column else "")
        yield f"{where}: {e.message}"
