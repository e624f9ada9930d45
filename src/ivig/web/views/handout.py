"""The patient handout (a web page and its PDF) and the calendar of planned infusions (.ics).

Every signed-in role may open them, as the patient page. Each GET is a read of the record
audited by the read-audit middleware ("patient handout", "calendar"); the PDF and the .ics,
which leave the service, are audited too as a ``print`` or ``export`` event by the documents
service (``ivig.records.services.documents``) that makes them.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_GET

from ivig.errors import PdfUnavailable
from ivig.records.models import Patient
from ivig.records.services import documents
from ivig.records.services.common import get
from ivig.web.forms import today

__all__ = ["handout_page", "handout_pdf", "patient_calendar", "urlpatterns"]


def _filename(patient: Patient, suffix: str) -> str:
    mrn = "".join(c if c.isalnum() or c in "-_" else "-" for c in patient.mrn)
    return f"ivig-{suffix}-{mrn}"


@login_required
@require_GET
def handout_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get(Patient, patient_id, "patient")
    context = documents.handout_context(patient, today=today())
    title = f"Handout: {patient.family_name}, {patient.given_name}"
    return render(request, "web/handout.html", {**context, "section": "patients", "title": title})


@login_required
@require_GET
def handout_pdf(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get(Patient, patient_id, "patient")
    try:
        pdf = documents.handout_pdf(request.user, patient, today=today())
    except PdfUnavailable as exc:
        return HttpResponse(exc.message, status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{_filename(patient, "handout")}.pdf"'
    return response


@login_required
@require_GET
def patient_calendar(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get(Patient, patient_id, "patient")
    body, _ = documents.export_calendar(request.user, patient, now=timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{_filename(patient, "infusions")}.ics"'
    )
    return response


urlpatterns: list[URLPattern] = [
    path("patients/<int:patient_id>/handout/", handout_page, name="handout"),
    path("patients/<int:patient_id>/handout.pdf", handout_pdf, name="handout-pdf"),
    path("patients/<int:patient_id>/calendar.ics", patient_calendar, name="calendar"),
]
