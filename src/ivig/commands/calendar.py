"""``ivig export ics MRN_OR_ID [--out FILE]``: a patient's planned infusions as an iCalendar
file (see :mod:`ivig.interop.ics`), on standard output or into a file; the export is audited."""

from __future__ import annotations

import sys
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
        from django.db import transaction
        from django.utils import timezone

        from ivig.interop import ics
        from ivig.records import audit

        row = patient_argument(patient)
        plan = ics.patient_plan(row, today=timezone.localdate())
        body = ics.calendar_bytes(plan, zone=timezone.get_current_timezone(), now=timezone.now())
        pk = int(row.pk)
        with transaction.atomic():  # the file written, or neither it nor its audit event
            audit.record(
                None,
                "export",
                "calendar",
                pk,
                patient_id=pk,
                after={"events": len(plan.infusions), "format": "ics", "via": "cli"},
            )
            if out is not None:
                write_file(out, body)
        if out is None:
            sys.stdout.write(body.decode("utf-8"))
            sys.stdout.flush()
        else:
            typer.echo(f"{len(plan.infusions)} infusion(s) written to {out}", err=True)


def add_commands(app: typer.Typer, export: typer.Typer, load: typer.Typer) -> None:
    export.command("ics", epilog=EXAMPLE)(export_ics)
