"""``ivig print ORDER_ID``: the run sheet of an order as a PDF (the web print view's template),
printing audited like a read (one ``print`` event by ``system``, naming who ran it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ivig.commands.common import open_database, operator, require_records
from ivig.errors import InvalidInput, NotFound


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
        from django.utils import timezone

        from ivig.records.models import Order
        from ivig.web.views.runsheet.pdf import file_name, runsheet_pdf

        require_records()
        order = (
            Order.objects.select_related("patient", "course", "verified_by", "dispensed_by")
            .filter(pk=order_id)
            .first()
        )
        if order is None:
            raise NotFound("order", order_id)
        target = (out or Path(file_name(order))).expanduser().absolute()
        if not target.parent.is_dir():
            raise InvalidInput(f"the folder {target.parent} does not exist", field="out")
        if target.is_dir():
            raise InvalidInput(f"{target} is a folder", field="out")
        pdf = runsheet_pdf(
            order,
            None,
            timezone.now(),
            via="cli",
            reason=f"ivig print, run by {operator()} on the server",
        )
        mrn = order.patient.mrn
    target.write_bytes(pdf)
    typer.echo(f"run sheet of order {order_id} (MRN {mrn}) written to {target} ({len(pdf)} bytes)")


def add_commands(app: typer.Typer, export: typer.Typer, load: typer.Typer) -> None:
    app.command(
        "print",
        epilog="Example: ivig print 12 --out run-sheet.pdf",
    )(print_order)
