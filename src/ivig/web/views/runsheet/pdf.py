"""The run sheet as a PDF: the print view's template with ``pdf`` set, rendered by WeasyPrint
(``ivig.interop.documents``), from the web (``/orders/<id>/runsheet.pdf``) and ``ivig print``.

Printing is a read of the record: one ``print`` audit event per PDF, naming the order, its
patient and the record versions printed (requirement 66), written before the PDF is handed
over (no unaudited copy).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from ivig.interop.documents import document_context, render_pdf
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import Order
from ivig.web.views.runsheet.actions import order_or_404
from ivig.web.views.runsheet.sheet import context, reaction_protocol

TEMPLATE = "web/runsheet_print.html"


def print_context(request: HttpRequest, order: Order, now: dt.datetime) -> dict[str, Any]:
    """What the print view (and its PDF) shows: the sheet, the reaction protocol, signature
    lines (no form: ``printing``)."""
    ctx = context(request, order, now)
    patient = order.patient
    ctx["title"] = f"Run sheet (print): {patient.family_name}, {patient.given_name}"
    ctx["printing"] = True
    ctx["reaction_protocol"] = reaction_protocol()
    return ctx


def file_name(order: Order) -> str:
    """``run-sheet-<mrn>-<date>.pdf``, with only letters, digits and hyphens from the MRN."""
    mrn = re.sub(r"[^A-Za-z0-9-]+", "-", order.patient.mrn).strip("-") or "patient"
    return f"run-sheet-{mrn}-{order.date:%Y-%m-%d}.pdf"


def runsheet_pdf(
    order: Order, user: Actor | None, now: dt.datetime, *, via: str, reason: str = ""
) -> bytes:
    """The run sheet's PDF, printing audited (``user``: ``None`` for the command line)."""
    request = HttpRequest()
    request.user = user if user is not None else AnonymousUser()
    ctx = print_context(request, order, now)
    ctx.update(document_context(user, now))
    ctx["user"] = request.user
    pdf = render_pdf(TEMPLATE, ctx)
    session = ctx["session"]
    with transaction.atomic():
        audit.record(
            user,
            "print",
            "order",
            order.pk,
            patient_id=order.patient_id,
            after={
                "document": "run sheet",
                "via": via,
                "order_version": order.version,
                "session_version": session.version if session is not None else None,
                "generated_at": now.isoformat(),
                "bytes": len(pdf),
            },
            reason=reason,
        )
    return pdf


@login_required
@require_GET
def runsheet_pdf_view(request: HttpRequest, order_id: int) -> HttpResponse:
    """The PDF, for every signed-in role (like the sheet itself)."""
    order = order_or_404(order_id)
    pdf = runsheet_pdf(order, request.user, timezone.now(), via="web")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{file_name(order)}"'
    response["Cache-Control"] = "no-store"
    return response
