"""``ivig export fhir MRN_OR_ID [--out FILE]``: a patient's treatment as a FHIR R4B Bundle
(see :mod:`ivig.interop.fhir`), on standard output or into a file; the export is audited."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from ivig.commands.common import open_database, patient_argument, require_records, write_file

__all__ = ["add_commands", "export_fhir"]

EXAMPLE = "Example: ivig export fhir DEMO-0001 --out DEMO-0001.fhir.json"


def export_fhir(
    patient: Annotated[
        str, typer.Argument(metavar="MRN_OR_ID", help="The patient's MRN (or record id).")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the Bundle to this file (default: standard output)."),
    ] = None,
) -> None:
    """A patient's treatment as a FHIR R4B Bundle (JSON): Patient, a MedicationRequest per order
    (a Dosage per rate step), MedicationAdministration per infusion and rate segment, vital-sign,
    weight and outcome Observations, an AdverseEvent per reaction."""
    with open_database():
        require_records()
        from django.db import transaction
        from django.utils import timezone

        from ivig.interop import fhir

        row = patient_argument(patient)
        with transaction.atomic():  # the file written, or neither it nor its audit event
            bundle = fhir.export_bundle(None, row, now=timezone.now(), channel="cli")
            text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
            if out is not None:
                write_file(out, text.encode("utf-8"))
        if out is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            typer.echo(f"{len(bundle['entry'])} resource(s) written to {out}", err=True)


def add_commands(app: typer.Typer, export: typer.Typer, load: typer.Typer) -> None:
    export.command("fhir", epilog=EXAMPLE)(export_fhir)
