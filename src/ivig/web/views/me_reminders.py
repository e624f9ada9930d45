"""The patient's e-mail reminders (issue 18): ``/me/reminders/`` shows the address the day-before
reminders go to and lets the patient set or remove it (``services.reminders.set_address``,
audited). A patient's page: 404 for anyone else; each visit is an audited read of their own
record."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from ivig.errors import IvigError
from ivig.records.models import Patient
from ivig.records.services import reminders
from ivig.web.errors import attach_error
from ivig.web.views.common import posted
from ivig.web.views.portal import patient_required, read_own

__all__ = ["me_reminders", "urlpatterns"]


class AddressForm(forms.Form):
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        required=False,
        help_text="Leave it empty to get no e-mails.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


@patient_required
def me_reminders(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = AddressForm(posted(request), initial={"email": request.user.email})  # type: ignore[union-attr]
    if request.method == "POST" and form.is_valid():
        try:
            kept = reminders.set_address(request.user, form.cleaned_data["email"])
        except IvigError as exc:
            attach_error(form, exc)
        else:
            messages.success(
                request, "Saved. We will e-mail you." if kept else "Saved. We will not e-mail you."
            )
            return redirect("web:me-reminders")
    read_own(request, patient, "contact")
    return render(
        request,
        "web/me_reminders.html",
        {"title": "E-mail reminders", "me": "reminders", "form": form,
         "address": request.user.email},  # type: ignore[union-attr]
    )  # fmt: skip


urlpatterns: list[URLPattern] = [
    path("me/reminders/", me_reminders, name="me-reminders"),
]
