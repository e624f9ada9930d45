"""The safety report page (requirements 57, 61), for the admin and the pharmacist: a date range
and the figures, each with its numerator and denominator."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from ivig.errors import IvigError
from ivig.records.models import Place
from ivig.records.services import reports
from ivig.web.errors import attach_error
from ivig.web.forms import DateInput, today
from ivig.web.views.common import roles_required

DEFAULT_DAYS = 30


class PeriodForm(forms.Form):
    start = forms.DateField(label="From (infusions started on or after)", widget=DateInput)
    end = forms.DateField(label="To (included)", widget=DateInput)


UNITS = dict(Place.choices)


@roles_required("admin", "pharmacist")
def safety_report(request: HttpRequest) -> HttpResponse:
    """The report for the period asked (the last 30 days by default)."""
    end = today()
    initial = {"start": end - dt.timedelta(days=DEFAULT_DAYS - 1), "end": end}
    form = PeriodForm(request.GET if "start" in request.GET else initial)
    report: dict[str, Any] | None = None
    if form.is_valid():
        try:
            report = reports.safety_report(
                request.user, start=form.cleaned_data["start"], end=form.cleaned_data["end"]
            )
        except IvigError as exc:
            attach_error(form, exc)
    if report is not None:
        for row in report["overrides_by_unit"]:
            row["label"] = UNITS.get(row["unit"], row["unit"])
    return render(
        request,
        "web/safety_report.html",
        {"form": form, "report": report, "section": "reports", "title": "Safety report"},
    )


urlpatterns: list[URLPattern] = [
    path("reports/safety/", safety_report, name="safety-report"),
]
