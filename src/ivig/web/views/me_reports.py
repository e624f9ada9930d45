"""What a patient reports from their own pages (issue 7): the day-before check of their next
infusion (``/me/check/``), the symptom diary after an infusion (``/me/diary/``), and the
MG-ADL check-in (``/me/outcomes/``). The staff close what they reported on the alerts worklist
(``web/views/alerts.py``, issue 16).

A patient's pages answer 404 to anyone who is not signed in as a patient; each GET writes a
``read`` audit event for the patient (the URL names no record, so ``middleware_audit`` cannot).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from ivig.errors import IvigError
from ivig.interop.charts import outcome_chart
from ivig.records.library import current_library
from ivig.records.models import OrderStatus, Patient
from ivig.records.services import patient_reports as reports
from ivig.records.services.outcomes import outcome_series, patient_reported
from ivig.web.errors import attach_error
from ivig.web.views.common import posted
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


urlpatterns: list[URLPattern] = [
    path("me/check/", me_check, name="me-check"),
    path("me/diary/", me_diary, name="me-diary"),
    path("me/outcomes/", me_outcomes, name="me-outcomes"),
]
