"""The alerts worklist (issue 16, item 9): what patients reported that needs a nurse or a
prescriber to act (``services.alerts``), open ones first, newest first; each closed here with
the action taken and a note.

- ``GET /alerts/`` (nurse, prescriber): the worklist (``?patient=<id>``: one patient's).
- ``POST /alerts/<kind>/<id>/close/`` (nurse, prescriber): close one alert. From the worklist,
  a refusal shows the form again with its message; from another page (``next``: the run
  sheet's "Review before starting", the patient page's diary alert) it goes back there with
  the message.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from ivig.errors import IvigError
from ivig.records.services import alerts
from ivig.web.errors import attach_error, flash_error
from ivig.web.views.common import roles_required

__all__ = ["CloseAlertForm", "close_alert", "urlpatterns", "worklist"]

ROLES = tuple(str(r) for r in alerts.ALERT_ROLES)


class CloseAlertForm(forms.Form):
    """The action taken on an alert, and a note (required to say why no action is needed)."""

    action = forms.ChoiceField(
        label="Action taken",
        choices=[(code, words[:1].upper() + words[1:]) for code, words in alerts.ACTIONS.items()],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=1000,
        help_text="Required for “No action needed” (say why) and “Other”.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") in alerts.NOTE_REQUIRED and not (data.get("note") or "").strip():
            self.add_error(
                "note",
                "Say why no action is needed."
                if data["action"] == "no_action"
                else "Say what you did.",
            )
        return data


def _page(request: HttpRequest, bound: dict[str, CloseAlertForm] | None = None) -> HttpResponse:
    patient = request.GET.get("patient", "")
    rows = alerts.worklist(
        now=timezone.now(), patient_id=int(patient) if patient.isdigit() else None
    )
    bound = bound or {}
    items = [
        {
            "alert": a,
            "form": bound.get(a.key)
            or (CloseAlertForm(auto_id=f"id_{a.key}_%s") if a.open else None),
        }
        for a in rows
    ]
    opened = sum(1 for a in rows if a.open)
    return render(
        request,
        "web/alerts.html",
        {
            "items": items,
            "open_alerts": opened,
            "patient_filter": patient if patient.isdigit() else "",
            "section": "alerts",
            "title": "Alerts to act on",
        },
    )


@require_GET
@roles_required(*ROLES)
def worklist(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _back(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return None


@require_POST
@roles_required(*ROLES)
def close_alert(request: HttpRequest, kind: str, alert_id: int) -> HttpResponse:
    key = f"{kind}-{alert_id}"
    form = CloseAlertForm(request.POST, auto_id=f"id_{key}_%s")
    back = _back(request)
    if form.is_valid():
        try:
            alert = alerts.close_alert(
                request.user,
                kind,
                alert_id,
                form.cleaned_data["action"],
                form.cleaned_data["note"],
                now=timezone.now(),
            )
        except IvigError as exc:
            if back or exc.http_status in (404, 409):  # gone or closed already: no form to show
                flash_error(request, exc)
                return redirect(back or "/alerts/")
            attach_error(form, exc)
        else:
            messages.success(request, f"Alert closed for {alert.patient}: {alert.action_words}.")
            return redirect(back or "/alerts/")
    elif back:
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, f"The alert is still open: {errors}")
        return redirect(back)
    return _page(request, {key: form})  # the form again, with its message


urlpatterns: list[URLPattern] = [
    path("alerts/", worklist, name="alerts"),
    path("alerts/<str:kind>/<int:alert_id>/close/", close_alert, name="alert-close"),
]
