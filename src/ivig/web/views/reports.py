"""The report pages, for the admin and the pharmacist: the safety report (requirements 57, 61),
a date range and the figures, each with its numerator and denominator; the usage report (issue
18), a range of months, a chart, the tables and their CSV download."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_GET

from ivig.errors import InvalidInput, IvigError
from ivig.interop import charts
from ivig.records.models import Place
from ivig.records.services import reports, usage
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


# --- the usage report (issue 18) ---------------------------------------------------------------


class MonthInput(forms.DateInput):
    input_type = "month"


class MonthsForm(forms.Form):
    start = forms.DateField(
        label="From (month)", widget=MonthInput(format="%Y-%m"), input_formats=["%Y-%m"]
    )
    end = forms.DateField(
        label="To (month, included)", widget=MonthInput(format="%Y-%m"), input_formats=["%Y-%m"]
    )


def _months(request: HttpRequest) -> MonthsForm:
    first, last = usage.default_period(today())
    return MonthsForm(request.GET if "start" in request.GET else {"start": first, "end": last})


@roles_required("admin", "pharmacist")
def usage_report(request: HttpRequest) -> HttpResponse:
    """Grams by product, indication and month, infusions, reactions per 100 infusions: a
    chart and a table, for the months asked (the last 12 by default)."""
    form = _months(request)
    report: usage.UsageReport | None = None
    if form.is_valid():
        try:
            report = usage.usage_report(
                request.user, first=form.cleaned_data["start"], last=form.cleaned_data["end"]
            )
        except IvigError as exc:
            attach_error(form, exc, {"from": "start", "to": "end"})
    chart = (
        charts.usage_chart([(r.key, round(r.grams, 3), r.infusions) for r in report.by_month])
        if report is not None
        else None
    )
    return render(
        request,
        "web/usage_report.html",
        {
            "form": form,
            "report": report,
            "chart": chart,
            "tables": [
                ("By month", "month", "Month started", report.by_month),
                ("By product", "product", "Product", report.by_product),
                ("By indication", "indication", "Indication (the course's)", report.by_indication),
            ]
            if report is not None
            else [],
            "section": "usage",
            "title": "Usage report",
        },
    )


@require_GET
@roles_required("admin", "pharmacist")
def usage_csv(request: HttpRequest) -> HttpResponse:
    """The usage report as CSV (an audited export)."""
    form = _months(request)
    if not form.is_valid():
        raise InvalidInput("give the months as YYYY-MM", field="start")
    report, text = usage.export_usage(
        request.user, first=form.cleaned_data["start"], last=form.cleaned_data["end"]
    )
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    name = f"ivig-usage-{report.first:%Y-%m}-to-{report.last:%Y-%m}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


urlpatterns += [
    path("reports/usage/", usage_report, name="usage-report"),
    path("reports/usage.csv", usage_csv, name="usage-csv"),
]
