"""``ivig export ics MRN_OR_ID [--out FILE]``: a patient's planned infusions as an iCalendar
file (see :mod:`ivig.interop.ics`), on standard output or into a file; the export is audited
(``ivig.records.services.documents``)."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from ivig.commands.common import open_database, patient_argument, require_records, write_file

__all__ = ["add_commands", "export_ics"]

EXAMPLE = "Example: ivig export ics DEMO-0001 --out infusions.ics"


def export_ics(
    patient: Annotated[
        str, typer.Argument(metavar="MRN_OR_ID", help="The patient's MRN (or record id).")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the calendar to this file (default: standard output)."),
    ] = None,
) -> None:
    """A patient's planned infusions (today on) as an iCalendar (.ics) file: date, duration
    (rate steps plus observation) and place of each."""
    with open_database():
        require_records()
        from django.utils import timezone

        from ivig.records.services import documents

        row = patient_argument(patient)
        # the file written, or neither it nor its audit event
        deliver = None if out is None else partial(write_file, out)
        body, events = documents.export_calendar(
            None, row, now=timezone.now(), via="cli", deliver=deliver
        )
        if out is None:
            sys.stdout.write(body.decode("utf-8"))
            sys.stdout.flush()
        else:
            typer.echo(f"{events} infusion(s) written to {out}", err=True)


def add_commands(app: typer.Typer, export: typer.Typer, load: typer.Typer) -> None:
    export.command("ics", epilog=EXAMPLE)(export_ics)
