"""CSV exchange, the pure part: the columns of the exports and of the patient import, reading
and checking the import's header, turning one row into the service's input, writing rows.

Nothing here touches the database (``ivig.records.services.exchange`` does): the export rows
arrive as plain ``dict[str, str]`` and are written with :func:`write_rows`; the import's rows
are read with :func:`read_patient_rows` (the header checked before any row) and each is made a
:class:`ParsedPatient` by :func:`parse_patient_row`, which raises
:class:`~ivig.errors.InvalidInput` naming the column at fault.

Row numbers are those a spreadsheet shows: the header is row 1, the first patient row 2.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from ivig.errors import InvalidInput

if TYPE_CHECKING:
    from ivig.records.services.patients import PatientInput

__all__ = [
    "INFUSION_COLUMNS",
    "OUTCOME_COLUMNS",
    "PATIENT_COLUMNS",
    "PATIENT_REQUIRED",
    "ParsedPatient",
    "RowError",
    "iter_errors",
    "parse_patient_row",
    "read_patient_rows",
    "rows_to_csv",
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
)
"""One row per infusion session. ``vials``: ``2 x 40 g + 1 x 5 g``; ``lots``: ``P1 (40 g x 2,
exp 2030-01-01); ...``; times ISO 8601 with the offset; ``rate_changes``: the number of
rate changes (pump events other than the start, pauses, resumes and stops); ``reactions``:
the severities, ``;``-separated, in time order."""

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


def write_rows(
    stream: IO[str], columns: Iterable[str], rows: Iterable[Mapping[str, object]]
) -> int:
    """Write the header and the rows, only the named columns and in their order (``None`` as
    an empty cell); the number of rows."""
    names = list(columns)
    writer = csv.DictWriter(stream, fieldnames=names, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in names})
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


@dataclass(frozen=True, slots=True)
class RowError:
    """What is wrong with one row: its number (the header is row 1), the column (``None`` when
    the fault is the whole row) and the message."""

    row: int
    column: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ParsedPatient:
    """One row as the service's input, with the weight it adds (if any)."""

    row: int
    patient: PatientInput
    weight_kg: float | None = None
    weighed_on: dt.date | None = None


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
    under ``None`` (:func:`parse_patient_row` reports it)."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = _header(next(reader, None))
        out: list[tuple[int, dict[str, str]]] = []
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            row: dict[str, str] = dict(zip(header, cells, strict=False))
            if len(cells) > len(header):
                row["\0extra"] = ";".join(cells[len(header) :])
            out.append((number, row))
    except csv.Error as exc:
        raise InvalidInput(f"FILE: not a readable CSV file ({exc})") from None
    return out


def _text(row: Mapping[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def _date(row: Mapping[str, str], column: str) -> dt.date | None:
    value = _text(row, column)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a date (YYYY-MM-DD)", field=column) from None


def _number(row: Mapping[str, str], column: str) -> float | None:
    value = _text(row, column)
    if not value:
        return None
    try:
        number = float(value.replace(",", ".") if value.count(",") == 1 else value)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a number", field=column) from None
    if not math.isfinite(number):
        raise InvalidInput(f"'{value}' is not a number", field=column)
    return number


def parse_patient_row(number: int, row: Mapping[str, str]) -> ParsedPatient:
    """One row of the import as the service's input. Only the form of each cell is checked
    here (a date, a number, a required cell); the rules (ranges, known codes, a unique MRN)
    are the service's, as for the web and the API. Raises :class:`InvalidInput` naming the
    column."""
    from ivig.records.models import IgaStatus
    from ivig.records.services.patients import PatientInput

    if row.get("\0extra"):
        raise InvalidInput("the row has more cells than the header has columns")
    for column in PATIENT_REQUIRED:
        if not _text(row, column):
            raise InvalidInput(f"{column} is required", field=column)
    born = _date(row, "date_of_birth")
    height = _number(row, "height_cm")
    assert born is not None
    assert height is not None
    weight = _number(row, "weight_kg")
    weighed_on = _date(row, "weighed_on")
    if weighed_on is not None and weight is None:
        raise InvalidInput("a weighing date needs a weight (weight_kg)", field="weighed_on")
    codes = tuple(c.strip() for c in _text(row, "risk_codes").split(";") if c.strip())
    patient = PatientInput(
        mrn=_text(row, "mrn"),
        family_name=_text(row, "family_name"),
        given_name=_text(row, "given_name"),
        date_of_birth=born,
        sex=_text(row, "sex").lower(),
        height_cm=height,
        risk_codes=codes,
        conditions=_text(row, "conditions"),
        allergies=_text(row, "allergies"),
        iga_status=_text(row, "iga_status").lower() or IgaStatus.unknown,
        notes=_text(row, "notes"),
    )
    return ParsedPatient(number, patient, weight, weighed_on)


def iter_errors(errors: Iterable[RowError]) -> Iterator[str]:
    """Each error as one line of the report: ``row 3, date_of_birth: ...``."""
    for e in errors:
        where = f"row {e.row}" + (f", {e.column}" if e.column else "")
        yield f"{where}: {e.message}"
