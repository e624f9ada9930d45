"""The patient's side (issue 7): the staff's invitation, the one-time link, and the patient's
own pages under ``/me/``.

- ``POST /patients/<id>/invite/`` (prescriber, nurse, admin): a new one-time link, shown once,
  with a copy button, its QR code, and a form to e-mail it to the patient (issue 16 item 17:
  ``POST /patients/<id>/invite/email/``, which sends the link the page holds, audited).
- ``/invite/<token>/``: choose a user name and a password; the account is made, the patient is
  signed in and goes to ``/me/``. A link that does not work (unknown, used, expired, revoked)
  always gives the same page, 404: nothing tells the reasons apart.
- ``/me/`` (my plan), ``/me/handout/``, ``/me/handout.pdf``, ``/me/calendar.ics``: the signed-in
  patient's OWN record only (from ``patient_of(request.user)``; no patient id in the URL). Each
  is a read of the record, audited here (the read-audit middleware finds patients by URL ids;
  these pages have none). The PDF and the calendar are audited as ``print`` / ``export`` too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ivig.errors import IvigError, NotFound, PdfUnavailable
from ivig.interop.handout import (
    PatientPlan,
    duration_words,
    event_summary,
    long_date,
    place_words,
    stay_words,
    where_words,
)
from ivig.interop.qr import qr_svg
from ivig.records.models import Patient
from ivig.records.services import documents, portal, reads
from ivig.records.services.access import patient_of
from ivig.records.services.common import get
from ivig.web.errors import attach_error
from ivig.web.forms import today
from ivig.web.views.common import posted, roles_required

__all__ = [
    "accept_page",
    "email_invite",
    "invite_patient",
    "my_calendar",
    "my_handout",
    "my_handout_pdf",
    "my_plan",
    "urlpatterns",
]

F = TypeVar("F", bound=Callable[..., HttpResponse])

BACKEND = "django.contrib.auth.backends.ModelBackend"  # axes is the first backend

# What to bring and do, in plain words (the handout's sources: hydration, food, medicines).
BRING = (
    "Drink plenty of water the day before and on the day. "
    "If your doctor told you to limit fluids, do what they said.",
    "Eat a normal meal before you come.",
    "Bring a list of all the medicines you take.",
    "Tell the nurse about any new medicines since your last visit.",
    "Bring something to do, like a book. You will be there for a while.",
)


# --- the staff's side -------------------------------------------------------------------------


@require_POST
@roles_required(*portal.INVITE_ROLES)
def invite_patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    """A new one-time link for the patient, shown once on this page (never stored)."""
    patient = get(Patient, patient_id, "patient")
    try:
        invitation, raw = portal.invite(request.user, patient.pk, now=timezone.now())
    except IvigError as exc:
        return render(
            request,
            "web/invite.html",
            {"layout": "web/base.html", "mode": "refused", "patient": patient,
             "error": exc.message, "section": "patients", "title": "Invite the patient"},
            status=exc.http_status,
        )  # fmt: skip
    return _sent(request, patient, invitation, raw, EmailInviteForm(initial={"token": raw}))


class EmailInviteForm(forms.Form):
    """The patient's e-mail address, typed here and not stored; the link's token rides along
    (the page shows the link already)."""

    email = forms.EmailField(
        label="The patient's e-mail address",
        max_length=254,
        help_text="Used once to send the link; not stored.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    token = forms.CharField(widget=forms.HiddenInput, max_length=100)


def _sent(
    request: HttpRequest,
    patient: Patient,
    invitation: Any,
    raw: str,
    form: EmailInviteForm,
    *,
    emailed: str = "",
) -> HttpResponse:
    """The page showing the link: copy it, scan its QR code, or e-mail it."""
    link = request.build_absolute_uri(f"/invite/{raw}/")
    return render(
        request,
        "web/invite.html",
        {"layout": "web/base.html", "mode": "sent", "patient": patient, "link": link,
         "qr": qr_svg(link, title="QR code of the invitation"), "email_form": form,
         "emailed": emailed, "invitation": invitation, "section": "patients",
         "title": "Invite the patient"},
    )  # fmt: skip


@require_POST
@roles_required(*portal.INVITE_ROLES)
def email_invite(request: HttpRequest, patient_id: int) -> HttpResponse:
    """E-mail the link shown on the invitation page to the address typed there (audited)."""
    patient = get(Patient, patient_id, "patient")
    form = EmailInviteForm(request.POST)
    raw = request.POST.get("token", "")
    now = timezone.now()
    try:
        invitation = portal.invitation_for(raw, now=now)
        if invitation.patient_id != patient.pk:
            raise NotFound("usable invitation", "link")
    except NotFound:
        messages.error(
            request, "This link no longer works, so it was not sent: invite the patient again."
        )
        return redirect("web:patient", patient.pk)
    if form.is_valid():
        to = form.cleaned_data["email"]
        try:
            portal.email_invitation(
                request.user,
                patient.pk,
                raw,
                to,
                request.build_absolute_uri(f"/invite/{raw}/"),
                now=now,
                service_phone=getattr(settings, "IVIG_SERVICE_PHONE", None),
            )
        except IvigError as exc:
            attach_error(form, exc)
        else:
            return _sent(
                request, patient, invitation, raw, EmailInviteForm(initial={"token": raw}),
                emailed=to,
            )  # fmt: skip
    return _sent(request, patient, invitation, raw, form)


# --- the one-time link ----------------------------------------------------------------------


class AcceptForm(forms.Form):
    username = forms.CharField(
        label="Choose a user name",
        max_length=150,
        help_text="You will type it each time you sign in.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label="Choose a password",
        strip=False,
        help_text="At least 12 characters. Do not use your name or a common word.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Type the password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password2") != data.get("password"):
            self.add_error("password2", "The two passwords are not the same.")
        return data


def _gone(request: HttpRequest) -> HttpResponse:
    """The one page for every link that does not work (no reason given: nothing leaks)."""
    return render(
        request,
        "web/invite.html",
        {"layout": "web/me_base.html", "mode": "gone", "title": "This link does not work"},
        status=404,
    )


@require_http_methods(["GET", "POST"])
def accept_page(request: HttpRequest, token: str) -> HttpResponse:
    now = timezone.now()
    try:
        portal.invitation_for(token, now=now)
    except NotFound:
        return _gone(request)
    form = AcceptForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            user = portal.accept(
                token, form.cleaned_data["username"], form.cleaned_data["password"], now=now
            )
        except NotFound:
            return _gone(request)
        except IvigError as exc:
            attach_error(form, exc)
        else:
            login(request, user, backend=BACKEND)
            return redirect("/me/")
    return render(
        request,
        "web/invite.html",
        {"layout": "web/me_base.html", "mode": "accept", "form": form,
         "title": "Set up your sign-in"},
    )  # fmt: skip


# --- the patient's own pages --------------------------------------------------------------------


def patient_required(view: F) -> F:
    """A page for a signed-in patient, about their own record only (404 for anyone else)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        patient = patient_of(request.user)
        if patient is None:
            raise Http404("no such page")
        return view(request, patient, *args, **kwargs)

    return login_required(wrapped)  # type: ignore[return-value]


def read_own(request: HttpRequest, patient: Patient, category: str) -> None:
    """Audit the read of the patient's own record (``reads.record_own_read``)."""
    reads.record_own_read(request.user, patient.pk, category, request.get_full_path())


@dataclass(frozen=True, slots=True)
class Visit:
    """One planned infusion in plain words; ``time``: the booked start ("08:30", issue 18), empty
    while it is not booked (the place is then the course's)."""

    title: str
    date: str
    place: str
    stay: str
    drip: str
    watch: int
    time: str = ""


def _visits(plan: PatientPlan) -> list[Visit]:
    return [
        Visit(
            title=event_summary(i),
            date=long_date(i.date),
            place=place_words(i.place) if i.booked is None else where_words(i.booked),
            stay=duration_words(i.total_minutes)
            if i.booked is None
            else stay_words(i.booked.length_minutes),
            drip=duration_words(i.pump_minutes),
            watch=i.observation_minutes,
            time="" if i.booked is None else f"{i.booked.start:%H:%M}",
        )
        for i in plan.infusions
    ]


def _plan(patient: Patient) -> PatientPlan:
    return documents.patient_plan(patient, today=today())


@patient_required
@require_GET
def my_plan(request: HttpRequest, patient: Patient) -> HttpResponse:
    plan = _plan(patient)
    visits = _visits(plan)
    first = plan.infusions[0] if plan.infusions else None
    read_own(request, patient, "my plan")
    return render(
        request,
        "web/me.html",
        {
            "patient": patient,
            "next": visits[0] if visits else None,
            "later": visits[1:],
            "steps": max((i.steps for i in plan.infusions), default=0),
            "step_minutes": first.step_minutes if first else 30,
            "every_weeks": plan.every_weeks,
            "bring": BRING,
            "me": "plan",
            "title": "My plan",
        },
    )


def _handout(patient: Patient) -> dict[str, object]:
    """The staff handout's context (``documents.handout_context``), as the patient's own page."""
    context = documents.handout_context(patient, today=today())
    return {**context, "me": "handout", "title": "Your IVIG treatment"}


@patient_required
@require_GET
def my_handout(request: HttpRequest, patient: Patient) -> HttpResponse:
    context = _handout(patient)
    read_own(request, patient, "patient handout")
    return render(request, "web/me.html", context)


@patient_required
@require_GET
def my_handout_pdf(request: HttpRequest, patient: Patient) -> HttpResponse:
    try:
        pdf = documents.handout_pdf(
            request.user, patient, today=today(), own_url=request.get_full_path()
        )
    except PdfUnavailable as exc:
        return HttpResponse(exc.message, status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="my-ivig-handout.pdf"'
    return response


@patient_required
@require_GET
def my_calendar(request: HttpRequest, patient: Patient) -> HttpResponse:
    body, _ = documents.export_calendar(
        request.user, patient, now=timezone.now(), own_url=request.get_full_path()
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-ivig-infusions.ics"'
    return response


urlpatterns: list[URLPattern] = [
    path("patients/<int:patient_id>/invite/", invite_patient, name="patient-invite"),
    path("patients/<int:patient_id>/invite/email/", email_invite, name="patient-invite-email"),
    path("invite/<str:token>/", accept_page, name="invite"),
    path("me/", my_plan, name="me"),
    path("me/handout/", my_handout, name="me-handout"),
    path("me/handout.pdf", my_handout_pdf, name="me-handout-pdf"),
    path("me/calendar.ics", my_calendar, name="me-calendar"),
]
