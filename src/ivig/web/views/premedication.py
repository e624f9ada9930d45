"""What carries to the next dose (issue 16 item 6), in the pages: the patient's premedication
page (the last reaction with its rates and the prescriber's decision; premedication ordered for
one infusion or the rest of a course) and the nurse's "given" on the run sheet
(``partials/runsheet_previous.html``). The services decide (``records.services.premedication``)
and audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from ivig.errors import Forbidden, IvigError
from ivig.records.models import Order, OrderStatus, Patient, RampDecision
from ivig.records.services import premedication as service
from ivig.records.services.access import has_role
from ivig.web.forms import TimeInput
from ivig.web.views.common import roles_required

__all__ = ["DecisionForm", "GivenForm", "PremedicationForm", "urlpatterns"]

S = OrderStatus
OPEN = (S.planned, S.verified, S.dispensed, S.in_progress)


class DecisionForm(forms.Form):
    """The prescriber's decision for the infusions after a reaction."""

    ramp = forms.ChoiceField(
        label="Next infusions",
        choices=[("", "Choose"), *RampDecision.choices],
        widget=forms.RadioSelect,
    )
    max_ml_per_h = forms.FloatField(
        label="Cap (mL/h)",
        required=False,
        min_value=0.1,
        help_text="Empty: the rate tolerated at the reaction.",
    )
    premedicate = forms.BooleanField(label="Premedicate before the next infusions", required=False)
    note = forms.CharField(label="Note", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def decision(self) -> service.Decision:
        d = self.cleaned_data
        return service.Decision(
            ramp=d["ramp"], premedicate=d["premedicate"], note=d["note"],
            max_ml_per_h=d["max_ml_per_h"],
        )  # fmt: skip


class PremedicationForm(forms.Form):
    """A premedication order: for one infusion, or every infusion of the course from today."""

    order = forms.ChoiceField(label="Before which infusions", choices=())
    medicine = forms.CharField(label="Medicine", max_length=100)
    dose = forms.CharField(label="Dose", max_length=40)
    route = forms.CharField(label="Route", max_length=40, initial="oral")
    timing = forms.CharField(label="When", max_length=100, initial="30 min before the start")
    reason = forms.CharField(label="Reason", required=False, max_length=500)

    def __init__(self, *args: Any, orders: list[Order] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        orders = orders or []
        choices: list[tuple[str, str]] = []
        for course_id in dict.fromkeys(o.course_id for o in orders):
            choices.append((f"course-{course_id}", f"The rest of course {course_id} (from today)"))
        choices += [(f"order-{o.pk}", f"The infusion on {o.date:%Y-%m-%d} only") for o in orders]
        field = self.fields["order"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


class GivenForm(forms.Form):
    """A premedication given before the infusion, at a time of the order's day."""

    premedication = forms.IntegerField(widget=forms.HiddenInput)
    at = forms.TimeField(label="Given at", widget=TimeInput())
    note = forms.CharField(label="Note", required=False, max_length=500)


def _open_orders(patient: Patient, today: dt.date) -> list[Order]:
    return list(
        patient.orders.filter(status__in=OPEN, date__gte=today)
        .select_related("course")
        .order_by("date", "sequence")
    )


@login_required
def page(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The patient's reactions and what was decided after each, and the premedication
    ordered; the prescriber decides and orders here."""
    patient = get_object_or_404(Patient, pk=patient_id)
    now = timezone.now()
    today = timezone.localdate(now)
    upcoming = _open_orders(patient, today)
    decision_form = DecisionForm(prefix="decision")
    premed_form = PremedicationForm(prefix="premed", orders=upcoming)
    status = 200
    if request.method == "POST":
        if not has_role(request.user, "prescriber"):
            raise Forbidden("deciding after a reaction or ordering premedication", ("prescriber",))
        try:
            if "decide" in request.POST:
                decision_form = DecisionForm(request.POST, prefix="decision")
                if decision_form.is_valid():
                    service.decide(
                        request.user, int(request.POST["decide"]), decision_form.decision(),
                        now=now,
                    )  # fmt: skip
                    messages.success(request, "Decision recorded for the next infusions.")
                    return redirect("web:premedication", patient_id=patient.pk)
                status = 400
            else:
                premed_form = PremedicationForm(request.POST, prefix="premed", orders=upcoming)
                if premed_form.is_valid():
                    d = premed_form.cleaned_data
                    kind, _, pk = d["order"].partition("-")
                    one = next((o for o in upcoming if kind == "order" and str(o.pk) == pk), None)
                    course_id = one.course_id if one else int(pk)
                    data = service.PremedicationInput(
                        d["medicine"], d["dose"], d["route"], d["timing"], d["reason"]
                    )
                    service.order_premedication(
                        request.user, course_id, data, order_id=one.pk if one else None, now=now
                    )
                    messages.success(
                        request, f"Premedication ordered: {d['medicine']} {d['dose']}."
                    )
                    return redirect("web:premedication", patient_id=patient.pk)
                status = 400
        except (KeyError, ValueError):
            status = 400
            messages.error(request, "The form was incomplete: reload the page.")
        except IvigError as exc:
            status = exc.http_status
            target = decision_form if "decide" in request.POST else premed_form
            target.add_error(None, exc.message)
    rows = service.reactions_of(patient.pk)
    premeds = patient.premedications.select_related("order", "prescribed_by").order_by(
        "-prescribed_at", "-id"
    )
    return render(
        request,
        "web/premedication.html",
        {
            "section": "patients",
            "title": f"Premedication and reactions: {patient}",
            "patient": patient,
            "rows": rows,
            "premeds": premeds,
            "decision_form": decision_form,
            "premed_form": premed_form,
            "upcoming": upcoming,
        },
        status=status,
    )


@require_POST
@roles_required("nurse")
def given(request: HttpRequest, order_id: int) -> HttpResponse:
    """The nurse records a premedication given (from the run sheet), then back to it."""
    order = get_object_or_404(Order, pk=order_id)
    back = reverse("web:runsheet", args=[order.pk]) + "#previous"
    form = GivenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Premedication not recorded: give the time it was given.")
        return redirect(back)
    d = form.cleaned_data
    at = timezone.make_aware(dt.datetime.combine(order.date, d["at"]))
    try:
        row = service.record_given(
            request.user, order.pk, d["premedication"], at, note=d["note"], now=timezone.now()
        )
    except IvigError as exc:
        messages.error(request, f"Premedication not recorded: {exc.message}")
    else:
        messages.success(
            request,
            f"Premedication given: {row.premedication.medicine} {row.premedication.dose} "
            f"at {timezone.localtime(row.at):%H:%M}.",
        )
    return redirect(back)


urlpatterns: list[URLPattern] = [
    path("patients/<int:patient_id>/premedication/", page, name="premedication"),
    path("orders/<int:order_id>/premedication/given/", given, name="premedication-given"),
]
