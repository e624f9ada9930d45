"""``ivig export csv infusions|outcomes`` and ``ivig import patients``.

The exports write CSV for audit (to standard output or a new file) and are audited
(``export``). The import creates patients from a CSV file as a named prescriber or admin, each
row through the same service as the web and the API, each row in its own transaction; it shows
a Rich progress bar, then a report of each bad row (row number, column, message) and a summary,
and exits 1 if any row failed.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ivig.commands.common import open_database, operator, require_records
from ivig.errors import Conflict, InvalidInput, NotFound
from ivig.interop import csv_io

EXPORT_EXAMPLE = "Example: ivig export csv infusions --from 2026-01-01 --to 2026-12-31 --out i.csv"
IMPORT_EXAMPLE = "Example: ivig import patients patients.csv --as alice"


class What(StrEnum):
    infusions = "infusions"
    outcomes = "outcomes"


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"'{value}' is not a date (YYYY-MM-DD)", field=option) from None


def _user(username: str) -> Any:
    from django.contrib.auth.models import User

    user = User.objects.filter(username=username.strip()).first()
    if user is None:
        raise NotFound("user", username).with_hint("the user given with --as must exist")
    if not user.is_active:
        raise Conflict(f"the user {user.username} is disabled", field="as")
    return user


def _new_file(path: Path) -> Path:
    target = path.expanduser().absolute()
    if target.exists():
        raise Conflict(f"{target} exists already; an export never overwrites a file", field="out")
    if not target.parent.is_dir():
        raise InvalidInput(f"the folder {target.parent} does not exist", field="out")
    return target


# --- ivig export csv -----------------------------------------------------------------------------


def export_csv(
    what: Annotated[What, typer.Argument(metavar="WHAT", help="infusions or outcomes.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="FILE", help="A new file (default: standard output)."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--from", metavar="YYYY-MM-DD", help="First date (infusion or measure)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="Last date (included).")
    ] = None,
    include_all: Annotated[
        bool,
        typer.Option("--all", help="Also corrected and voided entries (marked as such)."),
    ] = False,
    username: Annotated[
        str | None,
        typer.Option(
            "--as",
            metavar="USERNAME",
            help="Export as this admin or pharmacist (default: the server's operator, "
            "audited as system).",
        ),
    ] = None,
) -> None:
    """Export infusions (one row per infusion session) or outcomes as CSV, for audit."""
    first, last = _date(start, "from"), _date(end, "to")
    target = _new_file(out) if out is not None else None
    with open_database():
        from ivig.records.services import exchange

        require_records()
        actor = _user(username) if username is not None else None
        reason = f"ivig export csv {what.value}, run by {operator()} on the server" + (
            f" to {target}" if target else ""
        )
        export = exchange.export_infusions if what is What.infusions else exchange.export_outcomes
        rows = export(
            actor,
            start=first,
            end=last,
            include_all=include_all,
            system=actor is None,
            reason=reason,
        )
    columns = csv_io.INFUSION_COLUMNS if what is What.infusions else csv_io.OUTCOME_COLUMNS
    if target is None:
        csv_io.write_rows(sys.stdout, columns, rows)
        sys.stdout.flush()
        return
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # holds patient data
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
        csv_io.write_rows(stream, columns, rows)
    patients = len({r["mrn"] for r in rows})
    typer.echo(
        f"exported {len(rows)} {what.value[:-1]} row{'' if len(rows) == 1 else 's'} "
        f"({patients} patient{'' if patients == 1 else 's'}) to {target}",
        err=True,
    )


# --- ivig import patients ------------------------------------------------------------------------


def _read(file: Path) -> str:
    try:
        return file.expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"FILE: there is no file {file}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"FILE: {file} is not UTF-8 text; save it as UTF-8 CSV") from None
    except OSError as exc:
        raise InvalidInput(f"FILE: cannot read {file}: {exc.strerror}") from None


def import_patients(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A CSV file with a header row (UTF-8).")
    ],
    username: Annotated[
        str,
        typer.Option(
            "--as", metavar="USERNAME", help="The prescriber or admin the patients are created by."
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check every row; create nothing.")
    ] = False,
) -> None:
    """Create patients from a CSV file (columns: mrn, family_name, given_name, date_of_birth,
    sex, height_cm; optional: weight_kg, weighed_on, risk_codes (;-separated), conditions,
    allergies, iga_status, notes). Each bad row is reported and creates nothing; the good rows
    are kept. Exit 1 if any row failed."""
    rows = csv_io.read_patient_rows(_read(file))  # the header checked before any row
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False, soft_wrap=True)
    with open_database():
        from django.utils import timezone

        from ivig.records.services import exchange
        from ivig.records.services.access import require

        require_records()
        actor = _user(username)
        require(actor, "importing patients", *exchange.IMPORT_ROLES)  # before the bar shows
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=err.is_terminal,
        ) as progress:
            task = progress.add_task(
                "Checking patients" if dry_run else "Importing patients", total=len(rows)
            )
            report = exchange.import_patients(
                actor,
                rows,
                today=timezone.localdate(),
                dry_run=dry_run,
                on_row=lambda _n, _e: progress.advance(task),
            )
    for line in csv_io.iter_errors(report.errors):
        out.print(line, markup=False)
    good = len(report.checked) if dry_run else len(report.created)
    verb = "would import" if dry_run else "imported"
    summary = f"{verb} {good} of {report.rows} row{'' if report.rows == 1 else 's'}"
    if report.errors:
        summary += f"; {len(report.errors)} with errors (nothing imported from them)"
    out.print(summary + ("; dry run: nothing was saved" if dry_run else ""), markup=False)
    if report.errors:
        raise InvalidInput(
            f"FILE: {len(report.errors)} of {report.rows} rows were not "
            f"{'valid' if dry_run else 'imported'} (see the report above)"
        )


def add_commands(app: typer.Typer, export: typer.Typer, load: typer.Typer) -> None:
    """``ivig export csv`` and ``ivig import patients``."""
    export.command("csv", epilog=EXPORT_EXAMPLE)(export_csv)
    load.command("patients", epilog=IMPORT_EXAMPLE)(import_patients)
