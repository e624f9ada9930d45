"""The patient handout (a web page and its PDF) and the calendar of planned infusions (.ics).

Every signed-in role may open them, as the patient page. Each GET is a read of the record
audited by the read-audit middleware ("patient handout", "calendar"); the PDF and the .ics,
which leave the service, are audited too as a ``print`` or ``export`` event.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_GET

from ivig.interop import ics
from ivig.interop.charts import outcome_chart
from ivig.interop.handout import build_handout
from ivig.interop.pdf import PdfUnavailable, html_to_pdf
from ivig.records import audit
from ivig.records.models import Order, OrderStatus, Patient
from ivig.records.services.common import get
from ivig.records.services.outcomes import outcome_series, patient_reported
from ivig.web.forms import today

__all__ = ["handout_page", "handout_pdf", "patient_calendar", "urlpatterns"]


def handout_context(patient: Patient) -> dict[str, object]:
    """The handout page's (and its PDF's) context; the patient's own copy reuses it."""
    plan = ics.patient_plan(patient, today=today())
    series = outcome_series(patient)
    given = Order.objects.filter(patient=patient, status=OrderStatus.completed).order_by("date")
    return {
        "patient": patient,
        "handout": build_handout(plan),
        "chart": outcome_chart(series, [o.date for o in given], patient_reported(series)),
        "plan": plan,
        "section": "patients",
        "title": f"Handout: {patient.family_name}, {patient.given_name}",
    }


def _filename(patient: Patient, suffix: str) -> str:
    mrn = "".join(c if c.isalnum() or c in "-_" else "-" for c in patient.mrn)
    return f"ivig-{suffix}-{mrn}"


@login_required
@require_GET
def handout_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get(Patient, patient_id, "patient")
    return render(request, "web/handout.html", handout_context(patient))


@login_required
@require_GET
def handout_pdf(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get(Patient, patient_id, "patient")
    html = render_to_string("web/handout_print.html", handout_context(patient), request=request)
    try:
        pdf = html_to_pdf(html)
    except PdfUnavailable as exc:
        return HttpResponse(exc.message, status=503, content_type="text/plain; charset=utf-8")
    with transaction.atomic():
        audit.record(request.user, "print", "patient handout", patient.pk, patient_id=patient.pk)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{_filename(patient, "handout")}.pdf"'
    return response


@login_required
@require_GET
def patient_calendar(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get(Patient, patient_id, "patient")
    plan = ics.patient_plan(patient, today=today())
    body = ics.calendar_bytes(plan, zone=timezone.get_current_timezone(), now=timezone.now())
    with transaction.atomic():
        audit.record(
            request.user,
            "export",
            "calendar",
            patient.pk,
            patient_id=patient.pk,
            after={"events": len(plan.infusions), "format": "ics"},
        )
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
