"""``ivig export fhir MRN_OR_ID [--out FILE]``: a patient's treatment as a FHIR R4B Bundle
(see :mod:`ivig.interop.fhir`), on standard output or into a file; the export is audited
(``ivig.records.services.documents``)."""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path
from typing import Annotated, Any

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
        from django.utils import timezone

        from ivig.records.services import documents

        row = patient_argument(patient)
        # the file written, or neither it nor its audit event
        deliver = None if out is None else partial(_write, out)
        bundle = documents.export_fhir(
            None, row, now=timezone.now(), channel="cli", deliver=deliver
        )
        text = _text(bundle)
        if out is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            typer.echo(f"{len(bundle['entry'])} resource(s) written to {out}", err=True)


def _text(bundle: dict[str, Any]) -> str:
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


def _write(out: Path, bundle: dict[str, Any]) -> None:
    write_file(out, _text(bundle).encode("utf-8"))


def add_commands(app: typer.Typer, export: typer.Typer, load: typer.Typer) -> None:
    export.command("fhir", epilog=EXAMPLE)(export_fhir)
