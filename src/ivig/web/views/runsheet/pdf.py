"""The run sheet as a PDF (``/orders/<id>/runsheet.pdf``): made and audited by
``ivig.records.services.documents.print_runsheet``, as ``ivig print`` makes it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from ivig.records.services import documents
from ivig.web.views.runsheet.actions import order_or_404


@login_required
@require_GET
def runsheet_pdf_view(request: HttpRequest, order_id: int) -> HttpResponse:
    """The PDF, for every signed-in role (like the sheet itself)."""
    order = order_or_404(order_id)
    pdf = documents.print_runsheet(request.user, order, now=timezone.now(), via="web")
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = documents.runsheet_file_name(order)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
