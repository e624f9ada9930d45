"""What a patient reports from their own pages (issue 7): the day-before check of their next
infusion (``/me/check/``), the symptom diary after an infusion (``/me/diary/``), and the
MG-ADL check-in (``/me/outcomes/``); and the two staff actions on what they reported (review a
flagged check, acknowledge a diary alert).

A patient's pages answer 404 to anyone who is not signed in as a patient; each GET writes a
``read`` audit event for the patient (the URL names no record, so ``middleware_audit`` cannot).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from ivig.errors import IvigError
from ivig.interop.charts import outcome_chart
from ivig.records.library import current_library
from ivig.records.models import OrderStatus, Patient
from ivig.records.services import patient_reports as reports
from ivig.records.services.outcomes import outcome_series, patient_reported
from ivig.web.errors import attach_error, flash_error
from ivig.web.views.common import posted, roles_required
from ivig.web.views.portal import patient_required, read_own

YES_NO = [("no", "No"), ("yes", "Yes")]
SEVERITY_WORDS = [("none", "None"), ("mild", "Mild"), ("moderate", "Medium"), ("severe", "Bad")]


def _page(request: HttpRequest, template: str, ctx: dict[str, Any]) -> HttpResponse:
    return render(request, template, ctx)


# --- the day before ------------------------------------------------------------------------------


class CheckForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for q in reports.CHECK_QUESTIONS:
            self.fields[q.key] = forms.ChoiceField(
                label=q.text, choices=YES_NO, widget=forms.RadioSelect
            )


@patient_required
def me_check(request: HttpRequest, patient: Patient) -> HttpResponse:
    now, today = reports.now_and_today()
    order = reports.next_order(patient, today)
    form = CheckForm(posted(request))
    result = None
    if request.method == "POST" and order is not None and form.is_valid():
        answers = {k: v == "yes" for k, v in form.cleaned_data.items()}
        try:
            result = reports.day_before_check(request.user, order.pk, answers, today=today, now=now)
        except IvigError as exc:
            attach_error(form, exc)
    read_own(request, patient, "day-before check")  # the page shows the patient's next infusion
    return _page(
        request,
        "web/me_check.html",
        {
            "title": "Before your infusion",
            "me": "check",
            "order": order,
            "form": form,
            "result": result,
            "new_medicines": bool(result and result.answers.get("new_medicines")),
        },
    )


# --- the diary -----------------------------------------------------------------------------------


class DiaryForm(forms.Form):
    day = forms.ChoiceField(label="Which day is this about?")
    note = forms.CharField(
        label="Anything else? (you can leave this empty)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, days: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        day_field = self.fields["day"]
        assert isinstance(day_field, forms.ChoiceField)
        day_field.choices = [(d.isoformat(), f"{d:%A} {d.day} {d:%B}") for d in days]
        if days:
            day_field.initial = days[-1].isoformat()
        for key, words in reports.SYMPTOMS.items():
            self.fields[key] = forms.ChoiceField(
                label=words[:1].upper() + words[1:],
                choices=SEVERITY_WORDS,
                initial="none",
                widget=forms.RadioSelect,
            )

    def symptom_fields(self) -> list[forms.BoundField]:
        return [self[k] for k in reports.SYMPTOMS]


def _diary_days(order: Any, today: Any) -> list[Any]:
    import datetime as dt

    if order is None:
        return []
    last = min(today, order.date + dt.timedelta(days=reports.DIARY_DAYS))
    return [order.date + dt.timedelta(days=i) for i in range((last - order.date).days + 1)]


@patient_required
def me_diary(request: HttpRequest, patient: Patient) -> HttpResponse:
    import datetime as dt

    now, today = reports.now_and_today()
    order = reports.diary_order(patient, today)
    form = DiaryForm(posted(request), days=_diary_days(order, today))
    result = None
    if request.method == "POST" and order is not None and form.is_valid():
        data = form.cleaned_data
        symptoms = {k: data[k] for k in reports.SYMPTOMS}
        try:
            result = reports.diary_entry(
                request.user,
                dt.date.fromisoformat(data["day"]),
                symptoms,
                data.get("note") or "",
                today=today,
                now=now,
            )
        except IvigError as exc:
            attach_error(form, exc)
        else:
            form = DiaryForm(days=_diary_days(order, today))
    read_own(request, patient, "symptom diary")  # the page lists what they reported
    entries = list(patient.diary.filter(order=order).order_by("day", "id")) if order else []
    return _page(
        request,
        "web/me_diary.html",
        {
            "title": "How you feel after your infusion",
            "me": "diary",
            "order": order,
            "form": form,
            "result": result,
            "reported": [
                {"entry": e, "symptoms": reports.symptom_words(e.symptoms)} for e in entries
            ],
        },
    )


# --- outcome check-ins ---------------------------------------------------------------------------


class CheckinForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, question, answers in reports.MGADL_ITEMS:
            self.fields[key] = forms.TypedChoiceField(
                label=question,
                choices=[(str(i), a) for i, a in enumerate(answers)],
                coerce=int,
                widget=forms.RadioSelect,
            )


@patient_required
def me_outcomes(request: HttpRequest, patient: Patient) -> HttpResponse:
    _, today = reports.now_and_today()
    offered = reports.checkin_offered(patient)
    form = CheckinForm(posted(request))
    result = None
    if request.method == "POST" and offered and form.is_valid():
        try:
            result = reports.checkin(request.user, dict(form.cleaned_data), today=today)
        except IvigError as exc:
            attach_error(form, exc)
        else:
            form = CheckinForm()
    read_own(request, patient, "outcomes")  # the page charts their scores
    completed = [
        o.date for o in patient.orders.filter(status=OrderStatus.completed).order_by("date")
    ]
    series = [s for s in outcome_series(patient) if s["measure"] == "mg-adl"]
    return _page(
        request,
        "web/me_outcomes.html",
        {
            "title": "What you can do",
            "me": "outcomes",
            "form": form if offered else None,
            "result": result,
            "chart": outcome_chart(
                series, completed, patient_reported(series), current_library().outcomes
            ),
            "series": series,
        },
    )


# --- the staff's actions -------------------------------------------------------------------------


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


@require_POST
@roles_required("nurse", "prescriber")
def review_check(request: HttpRequest, check_id: int) -> HttpResponse:
    now, _ = reports.now_and_today()
    from ivig.records.models import DayBeforeCheck

    found = DayBeforeCheck.objects.filter(pk=check_id).values_list("order_id", flat=True)
    if not found:
        raise Http404("no such day-before check")
    try:
        row = reports.review_check(request.user, check_id, request.POST.get("note") or "", now=now)
    except IvigError as exc:
        flash_error(request, exc)
        return redirect(_back(request, f"/orders/{found[0]}/runsheet/"))
    messages.success(request, "Marked reviewed: the infusion may start.")
    return redirect(_back(request, f"/orders/{row.order_id}/runsheet/"))


@require_POST
@roles_required("nurse", "prescriber")
def acknowledge_entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    now, _ = reports.now_and_today()
    from ivig.records.models import DiaryEntry

    entry = DiaryEntry.objects.filter(pk=entry_id).first()
    if entry is None:
        raise Http404("no such diary entry")
    try:
        reports.acknowledge_entry(request.user, entry_id, now=now)
    except IvigError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, "Diary alert acknowledged.")
    return redirect(_back(request, f"/patients/{entry.patient_id}/"))


urlpatterns: list[URLPattern] = [
    path("me/check/", me_check, name="me-check"),
    path("me/diary/", me_diary, name="me-diary"),
    path("me/outcomes/", me_outcomes, name="me-outcomes"),
    path("day-checks/<int:check_id>/review/", review_check, name="day-check-review"),
    path("diary/<int:entry_id>/acknowledge/", acknowledge_entry, name="diary-acknowledge"),
]
