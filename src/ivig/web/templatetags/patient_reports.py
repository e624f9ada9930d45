"""What patients report, shown to the staff on the patient page (issue 7):
``{% load patient_reports %}{% patient_reports patient %}`` draws the diary alerts (serious,
not yet acknowledged) and, for the prescriber, the symptoms after each infusion next to the
highest rate used in it."""

from __future__ import annotations

from typing import Any

from django import template

from ivig.records.services import patient_reports as reports
from ivig.records.services.access import has_role

register = template.Library()


@register.inclusion_tag("web/partials/patient_reports.html#patient", takes_context=True)
def patient_reports(context: template.Context, patient: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    prescriber = has_role(user, "prescriber")
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "patient": patient,
        "alerts": reports.open_alerts(patient),
        "may_acknowledge": has_role(user, "nurse", "prescriber"),
        "by_rate": reports.symptoms_by_rate(patient) if prescriber else [],
    }
