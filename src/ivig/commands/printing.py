"""``ivig print ORDER_ID``: the run sheet of an order as a PDF (the web print view's template),
printing audited like a read (one ``print`` event by ``system``, naming who ran it).

An installation without the templates (or without Pango: ``ivig.interop.pdf``) is one error
line naming what is missing, not a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ivig.commands.common import open_database, operator, require_records, write_file
from ivig.errors import InvalidInput, NotFound, PdfUnavailable


def print_order(
    order_id: Annotated[
        int, typer.Argument(metavar="ORDER_ID", help="The order (its number on the run sheet).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="The PDF file to write (default: run-sheet-<mrn>-<date>.pdf here). "
            "An existing file is replaced.",
        ),
    ] = None,
) -> None:
    """Write the run sheet of ORDER_ID (patient, product, lots, dose, rate steps on the clock,
    vital-sign checkpoints, reaction protocol, signature lines) as a PDF."""
    with open_database():
        from django.template import TemplateDoesNotExist
        from django.utils import timezone

        from ivig.records.models import Order
        from ivig.records.services import documents

        require_records()
        order = (
            Order.objects.select_related("patient", "course", "verified_by", "dispensed_by")
            .filter(pk=order_id)
            .first()
        )
        if order is None:
            raise NotFound("order", order_id)
        target = (out or Path(documents.runsheet_file_name(order))).expanduser().absolute()
        if not target.parent.is_dir():
            raise InvalidInput(f"the folder {target.parent} does not exist", field="out")
        if target.is_dir():
            raise InvalidInput(f"{target} is a folder", field="out")
        try:
            pdf = documents.print_runsheet(
                None,
                order,
                now=timezone.now(),
                via="cli",
                reason=f"ivig print, run by {operator()} on the server",
            )
        except TemplateDoesNotExist as exc:  # a package built without its templates
            raise PdfUnavailable(
                f"the run sheet cannot be printed: its template {exc} is missing from this "
                "installation of ivig; reinstall ivig"
            ) from None
        mrn = order.patient.mrn
    write_file(target, pdf)  # a file that cannot be written: the --out error, not a traceback
    typer.echo(f"run sheet of order {order_id} (MRN {mrn}) written to {target} ({len(pdf)} bytes)")


def add_commands(app: typer.Typer, export: typer.Typer, load: typer.Typer) -> None:
    app.command(
        "print",
        epilog="Example: ivig print 12 --out run-sheet.pdf",
    )(print_order)
