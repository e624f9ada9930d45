"""Patients: search and list (with the next infusion), create and edit, and the patient page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from ivig.errors import IvigError, NotFound
from ivig.interop.charts import outcome_chart
from ivig.records.library import current_library
from ivig.records.models import Order, OrderStatus, Patient, Reaction
from ivig.records.services import bookings, corrections, courses
from ivig.records.services import patients as service
from ivig.records.services.common import get
from ivig.records.services.doses import NOT_ENDED
from ivig.records.services.renal import max_age_days
from ivig.web.errors import attach_error
from ivig.web.forms import (
    ConfirmWeightForm,
    CreatinineForm,
    OutcomeForm,
    PatientForm,
    WeightForm,
    today,
)
from ivig.web.views.common import posted, roles_required

SEARCH_ROWS = 100  # the search lists the first patients by name; a longer term narrows it
INFUSIONS_PER_PAGE = 25  # the patient page's courses and infusions, newest course first

OPEN = (OrderStatus.planned, OrderStatus.verified, OrderStatus.dispensed, OrderStatus.in_progress)
NOT_STARTED = OPEN[:3]  # a dose that can still be deferred, cancelled or re-planned


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    """Search by MRN or name; each patient with the next infusion and its status."""
    q = request.GET.get("q", "").strip()
    # the next open infusion of each patient found, by one subquery (index on patient, date)
    # (an infusion that ended today is not "next": issue 16 item 21)
    upcoming = Order.objects.filter(
        NOT_ENDED, patient=OuterRef("pk"), status__in=OPEN, date__gte=today()
    )
    found = list(
        service.search_patients(q).annotate(
            next_id=Subquery(upcoming.order_by("date", "sequence", "id").values("id")[:1])
        )[:SEARCH_ROWS]
    )
    nxt = Order.objects.in_bulk([p.next_id for p in found if p.next_id is not None])
    rows = [{"patient": p, "next": nxt.get(p.next_id)} for p in found]
    template = "web/patients.html#results" if request.htmx else "web/patients.html"  # type: ignore[attr-defined]
    return render(
        request, template, {"rows": rows, "q": q, "section": "patients", "title": "Patients"}
    )


def _input(form: PatientForm) -> service.PatientInput:
    d = form.cleaned_data
    return service.PatientInput(
        mrn=d["mrn"],
        family_name=d["family_name"],
        given_name=d["given_name"],
        date_of_birth=d["date_of_birth"],
        sex=d["sex"],
        height_cm=d["height_cm"],
        risk_codes=tuple(d["risk_codes"]),
        conditions=d["conditions"],
        allergies=d["allergies"],
        iga_status=d["iga_status"],
        notes=d["notes"],
    )


@roles_required("prescriber", "admin")
def patient_new(request: HttpRequest) -> HttpResponse:
    form = PatientForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            patient = service.register_patient(
                request.user,
                _input(form),
                today=today(),
                weight_kg=form.cleaned_data["weight_kg"],  # 0 is refused by the form, not dropped
            )
        except IvigError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, f"Patient {patient} created.")
            return redirect("web:patient", patient_id=patient.pk)
    return render(
        request,
        "web/patient_form.html",
        {"form": form, "section": "patients", "title": "New patient"},
    )


@roles_required("prescriber", "admin")
def patient_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get(Patient, patient_id, "patient")
    initial = {f: getattr(patient, f) for f in PatientForm.base_fields if hasattr(patient, f)}
    form = PatientForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            _, record = service.update_patient_and_weight(
                request.user,
                patient.pk,
                form.cleaned_data["version"] or 0,
                _input(form),
                today=today(),
                weight_kg=form.cleaned_data["weight_kg"],  # 0 is refused by the form, not dropped
            )
        except IvigError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, "Saved.")
            _warn_if_awaiting(request, record)
            return redirect("web:patient", patient_id=patient.pk)
    return render(
        request,
        "web/patient_form.html",
        {"form": form, "patient": patient, "section": "patients", "title": f"Edit {patient}"},
    )


def _cap_gauge(patient: Patient) -> dict[str, Any] | None:
    """g/kg given or planned in the 28 days around today, against the cap (latest course)."""
    course = patient.courses.order_by("-start", "-id").first()
    if course is None:
        return None
    cap = float(course.plan.get("cap_g_per_kg", 2))
    days = int(course.plan.get("cap_window_days", 28))
    start = today() - dt.timedelta(days=days - 1)
    grams = sum(
        Order.objects.filter(
            patient=patient,
            date__gte=start,
            date__lte=today(),
            status__in=(*OPEN, OrderStatus.completed),
        )  # the grams given where the end recorded them (issue 16 item 4), else the dose
        .annotate(counted=Coalesce("session__given_g", "dose_g"))
        .values_list("counted", flat=True)
    )
    used = grams / course.dosing_weight_kg
    return {
        "used": used,
        "cap": cap,
        "percent": min(100.0, used / cap * 100),
        "days": days,
        "from": start,
        "weight": course.dosing_weight_kg,
        "grams": grams,
    }


def _warn_if_awaiting(request: HttpRequest, record: Any) -> None:
    """Say so when a weight just recorded awaits a prescriber's confirmation (issue 14)."""
    if record is not None and record.awaiting_confirmation:
        messages.warning(
            request,
            f"{record.weight_kg:g} kg is {record.change_percent:+g} % from the weight in use: "
            "it awaits a prescriber's confirmation with a reason before a dose is planned on it.",
        )


@roles_required("prescriber", "nurse", "admin")
def weight_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Record a weight (issue 14 item 8): dated between the date of birth and today; one that
    changed by 10 % or more awaits a prescriber's confirmation before dosing."""
    patient = get(Patient, patient_id, "patient")
    form = WeightForm(posted(request), initial={"measured_on": today()}, prefix="weight")
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            record = service.add_weight(
                request.user, patient.pk, d["measured_on"], d["weight_kg"], today=today()
            )
        except IvigError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, "Weight recorded.")
            _warn_if_awaiting(request, record)
            return redirect("web:patient", patient_id=patient.pk)
    return patient_page(request, patient_id, weight_form=form)


@roles_required("prescriber")
def weight_confirm(request: HttpRequest, patient_id: int, weight_id: int) -> HttpResponse:
    """A prescriber confirms a changed weight with the reason (issue 14 item 8; audited)."""
    patient = get(Patient, patient_id, "patient")
    form = ConfirmWeightForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            if not patient.weights.filter(pk=weight_id).exists():
                raise NotFound("weight", weight_id)
            service.confirm_weight(
                request.user, weight_id, form.cleaned_data["reason"], now=timezone.now()
            )
        except IvigError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, "Weight confirmed: it is now used for dosing.")
            return redirect("web:patient", patient_id=patient.pk)
    return patient_page(request, patient_id, confirm_form=form, confirm_id=weight_id)


@roles_required("prescriber", "nurse")
def outcome_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Record an outcome (3TUG, QMG, MRC, MG-ADL); it is classified against the baseline."""
    from ivig.records.services.outcomes import measures_for, record_outcome

    patient = get(Patient, patient_id, "patient")
    form = OutcomeForm(
        posted(request), initial={"measured_on": today()}, measures=measures_for(patient)
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            record_outcome(
                request.user, patient.pk, d["measure"], d["value"], d["measured_on"], today=today()
            )
        except IvigError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, "Outcome recorded.")
            return redirect("web:patient", patient_id=patient.pk)
    return patient_page(request, patient_id, outcome_form=form)


@roles_required("prescriber", "nurse", "admin")
def creatinine_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Record a serum creatinine with its unit and date (the latest is used by every plan)."""
    from ivig.records.services.renal import add_creatinine

    patient = get(Patient, patient_id, "patient")
    form = CreatinineForm(posted(request), initial={"measured_on": today()}, prefix="creatinine")
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            add_creatinine(
                request.user,
                patient.pk,
                d["measured_on"],
                d["value"],
                d["unit"],
                today=today(),
            )
        except IvigError as exc:
            attach_error(form, exc)
        else:
            messages.success(request, "Creatinine result recorded.")
            return redirect("web:patient", patient_id=patient.pk)
    return patient_page(request, patient_id, creatinine_form=form)


def _entries(queryset: Any) -> list[dict[str, Any]]:
    """Recorded entries with how each stands (requirement 11: corrections never overwrite):
    in force, or superseded (struck through, with the reason and the kind of change). The void
    rows themselves are not listed: the entry they void is, marked voided."""
    rows = list(queryset.select_related("recorded_by"))
    newer = {r.supersedes_id: r for r in rows if r.supersedes_id is not None}
    out = []
    for row in rows:
        if row.entered_in_error:
            continue
        successor = newer.get(row.pk)
        out.append(
            {
                "row": row,
                "current": successor is None,
                "change": None
                if successor is None
                else ("voided" if successor.entered_in_error else "corrected"),
                "reason": successor.correction_reason if successor else "",
                "correction_of": row.supersedes_id,
                "own_reason": row.correction_reason,
            }
        )
    return out


def _infusions_page(patient: Patient, number: str | None) -> Any:
    """One page of the patient's infusions: the newest course first, each course's infusions
    in date order (a course may run over two pages)."""
    orders = (
        Order.objects.filter(patient=patient)
        .select_related("course")
        .annotate(given_g=F("session__given_g"))  # what the end recorded (issue 16 item 4)
        .defer("steps", "course__plan", "course__regimen")  # large JSON the page does not show
        .order_by("-course__start", "-course_id", "date", "sequence")
    )
    return Paginator(orders, INFUSIONS_PER_PAGE).get_page(number)


def _timeline(orders: list[Order], patient: Patient | None = None) -> list[dict[str, Any]]:
    """The page's infusions grouped under their course, in the page's order, each with its
    booked time and place (``slot``); with the
    ``patient``, each course's changes (deferred, cancelled, re-planned: issue 16 item 1) and
    whether a dose of it is still to be given (``open``: it can be re-planned or cancelled)."""
    groups: list[dict[str, Any]] = []
    slots = bookings.booked_slots(o.pk for o in orders)  # one query for the page (issue 18)
    for order in orders:
        order.slot = slots.get(order.pk)  # type: ignore[attr-defined]
        if not groups or groups[-1]["course"].pk != order.course_id:
            groups.append({"course": order.course, "orders": [], "changes": [], "open": False})
        groups[-1]["orders"].append(order)
    if patient is not None and groups:
        changes = courses.changes(patient.pk)
        waiting = set(
            Order.objects.filter(patient=patient, status__in=NOT_STARTED).values_list(
                "course_id", flat=True
            )
        )
        for group in groups:
            group["changes"] = changes.get(group["course"].pk, [])
            group["open"] = group["course"].pk in waiting
    return groups


def _eligibility(patient: Patient) -> list[dict[str, Any]]:
    """Each recorded eligibility with its answers in words: the indication's questions and
    option labels from the drug library (an answer it no longer asks: as recorded)."""
    known = current_library().catalogue.indications
    rows = []
    for row in patient.eligibility.order_by("indication"):
        indication = known.get(row.indication)
        criteria = {c.key: c for c in indication.criteria} if indication else {}
        answers = [
            (criteria[key].question, criteria[key].words(value))
            if key in criteria
            else (key.replace("_", " "), str(value))
            for key, value in row.answers.items()
        ]
        name = indication.short_name if indication else row.indication.upper()
        rows.append({"row": row, "name": name, "answers": answers})
    return rows


@login_required
def patient_page(
    request: HttpRequest,
    patient_id: int,
    outcome_form: OutcomeForm | None = None,
    weight_form: WeightForm | None = None,
    confirm_form: ConfirmWeightForm | None = None,
    confirm_id: int | None = None,
    creatinine_form: CreatinineForm | None = None,
) -> HttpResponse:
    from ivig.records.services.outcomes import measures_for, outcome_series, patient_reported

    patient = get(Patient, patient_id, "patient")
    completed = list(
        Order.objects.filter(patient=patient, status=OrderStatus.completed)
        .order_by("date")
        .values_list("date", flat=True)
    )
    recent = corrections.current(Reaction.objects.filter(session__order__patient=patient))
    reactions = list(recent.order_by("-at", "-id")[:5])[::-1]
    infusions = _infusions_page(patient, request.GET.get("page"))
    series = outcome_series(patient)
    outcome_entries = _entries(patient.outcomes.order_by("measured_on", "id"))
    return render(
        request,
        "web/patient.html",
        {
            "patient": patient,
            "section": "patients",
            "title": str(patient),
            "weight": service.latest_weight(patient),
            "eligibility": _eligibility(patient),
            "timeline": _timeline(list(infusions), patient),
            "infusions": infusions,
            "gauge": _cap_gauge(patient),
            "chart": outcome_chart(
                series, completed, patient_reported(series), current_library().outcomes
            ),
            "outcomes": series,
            "weights": _entries(patient.weights.order_by("-measured_on", "-id")),
            "creatinine_results": _entries(
                patient.creatinine_results.order_by("-measured_on", "-id")
            ),
            "creatinine_max_age_days": max_age_days(),
            "creatinine_form": creatinine_form
            or CreatinineForm(initial={"measured_on": today()}, prefix="creatinine"),
            "superseded_outcomes": [e for e in outcome_entries if not e["current"]],
            "reactions": reactions,
            "outcome_form": outcome_form
            or OutcomeForm(initial={"measured_on": today()}, measures=measures_for(patient)),
            "weight_form": weight_form
            or WeightForm(initial={"measured_on": today()}, prefix="weight"),
            "confirm_form": confirm_form,
            "confirm_id": confirm_id,
        },
    )
