"""Prescribing a course: the course form with a live plan preview (htmx), then the saved course;
and the re-plan of a course with the drug library in service.

The preview runs the same planner as the save (``courses.preview``) and saves nothing; the save
(``courses.prescribe``) reads the patient's record again under the patient lock and saves the
preview of the same request when it was made from the same inputs (else it plans again), so the
preview is a guide, the save is the check, and a request plans once. A service error is shown
in the preview and, on submit, next to the field at fault. The preview lists the soft limits
the course crosses ahead (requirement 47); on submit they bring up the override form (a coded
reason, a note, the password again: requirement 26), and the course is sent again with it. A
hard limit (the cap) is never offered an override.
"""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from ivig.core.dosing import vial_label
from ivig.core.limits import SoftLimit
from ivig.core.units import plain_number
from ivig.errors import Forbidden, IvigError, OverrideRequired
from ivig.records.models import Course, OrderStatus, Patient
from ivig.records.services import courses
from ivig.records.services.change_reasons import reason_text
from ivig.records.services.limits import Override, may_override
from ivig.records.services.patients import latest_weight
from ivig.web.errors import attach_error
from ivig.web.forms import CourseForm, OverrideForm, ReplanForm, today
from ivig.web.templatetags.ivig_words import product_name
from ivig.web.views.common import posted, roles_required

TIMES, NBSP = "\u00d7", "\u00a0"  # 2 x 40 g, a size never broken across lines

__all__ = [
    "limits_view",
    "prescribe_page",
    "prescribe_preview",
    "replan_page",
    "step_rows",
    "urlpatterns",
]

# Service fields that are facts of the patient's record, not of this form: fixed on the
# patient's edit page.
RECORD_FIELDS = frozenset({"weight_kg", "height_cm", "age", "sex"})
# The override's fields (the service names them in its errors).
OVERRIDE_FIELDS = frozenset({"reason_code", "reason_text", "password"})


def _form(patient: Patient, data: Any = None) -> CourseForm:
    """The course form; the indication and the product must be chosen (no silent default):
    the last course's are offered first."""
    last = patient.courses.order_by("-start", "-id").first()
    form = CourseForm(
        data,
        initial={
            "indication": last.indication if last else "",
            "phase": "induction",
            "product": last.product_id if last else "",
            "place": last.place if last else "hospital",
            "start": today(),
        },
    )
    for name, choose in (("indication", "Choose an indication"), ("product", "Choose a product")):
        field = form.fields[name]
        assert isinstance(field, forms.ChoiceField)
        choices = field.choices
        assert isinstance(choices, list)
        field.choices = [("", choose), *choices]
    return form


def _input(form: CourseForm) -> courses.CourseInput:
    """The course input; only the fields of the chosen phase are passed (the others None)."""
    d = form.cleaned_data
    induction = d["phase"] == "induction"

    def pick(name: str, wanted: bool) -> Any:
        return d[name] if wanted else None

    return courses.CourseInput(
        indication=d["indication"],
        phase=d["phase"],
        product=d["product"],
        place=d["place"],
        start=d["start"],
        total_g_per_kg=pick("total_g_per_kg", induction),
        days=pick("days", induction),
        dose_g_per_kg=pick("dose_g_per_kg", not induction),
        every_weeks=pick("every_weeks", not induction),
        count=pick("count", not induction),
        weight_basis=d["weight_basis"],
        weight_basis_reason=d["weight_basis_reason"].strip(),
        pregnant=d["pregnant"],
        egfr=d["egfr"],
        creatinine=d["creatinine"],
        creatinine_unit=d["creatinine_unit"] or None,
    )


def step_rows(steps: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Rate steps as ``Plan.as_dict`` (and an order's ``steps``) hold them, as the text of
    ``partials/plan_steps.html``."""
    return [
        {
            "start": plain_number(s["start_min"], 1),
            "end": plain_number(s["end_min"], 1),
            "rate": plain_number(s["rate_ml_per_h"], 1),
            "mg": plain_number(s["rate_mg_per_kg_per_min"], 3),
            "volume": plain_number(s["volume_ml"], 2),
            "basis": str(s["basis"]),
        }
        for s in steps
    ]


def _duration(minutes: float) -> str:
    """Minutes as hours and minutes, rounded up: '3 h 37 min'."""
    hours, rest = divmod(math.ceil(minutes), 60)
    return f"{hours} h {rest:02d} min"


def _vials(vials: list[dict[str, float]]) -> str:
    """'2 x 40 g + 1 x 5 g' (with the multiplication sign), broken only between sizes."""
    return vial_label(vials, sign=TIMES, space=NBSP)


def _plan_view(planned: courses.Planned) -> dict[str, Any]:
    """The plan's JSON (the stored contract) with what the page adds: the vials in words, the
    duration in hours, and which doses repeat an earlier dose's rate steps. A copy: the JSON
    itself is what the save stores."""
    plan = planned.plan
    data: dict[str, Any] = dict(planned.document)
    data["doses"] = [dict(dose) for dose in data["doses"]]
    shown: list[tuple[int, Any]] = []
    for i, dose in enumerate(data["doses"], start=1):
        dose["number"] = i
        dose["vials_label"] = _vials(dose["vials"])
        sign = "+" if dose["deviation_pct"] > 0 else ""
        dose["text"] = {
            "prescribed": plain_number(dose["prescribed_g"], 2),
            "dose": plain_number(dose["dose_g"], 2),
            "deviation": f"{sign}{plain_number(dose['deviation_pct'], 1)}%",
            "volume": plain_number(dose["volume_ml"], 2),
            "duration": _duration(dose["duration_min"]),
            "minutes": plain_number(dose["duration_min"], 1),
            "steps": step_rows(dose["steps"]),
        }
        dose["text"]["caption"] = f"Dose {i} ({dose['date']}), {dose['text']['volume']} mL"
        dose["same_steps_as"] = next((j for j, steps in shown if steps == dose["steps"]), None)
        if dose["same_steps_as"] is None:
            shown.append((i, dose["steps"]))
    data["text"] = {
        "total": plain_number(data["total_g"], 2),
        "volume": plain_number(sum(d["volume_ml"] for d in data["doses"]), 2),
        "window": plain_number(plan.max_window_g, 1),
        "cap": plain_number(plan.cap_g, 1),
        "history": plain_number(sum(g.grams for g in plan.history), 1) if plan.history else "",
        "maximum": plain_number(data["schedule"]["maximum_mg_per_kg_per_min"], 3),
        "concentration": plain_number(data["product"]["concentration_mg_per_ml"], 1),
    }
    data["blocked"] = plan.blocked
    data["short_name"] = plan.indication.short_name
    return data


def _failure(form: CourseForm, exc: IvigError) -> dict[str, Any]:
    """A service error for the preview: the message, and the field at fault when it is one of
    the form's (to link to it) or of the patient's record (to link to the edit page)."""
    field = form[exc.field] if exc.field in form.fields else None
    return {"error": exc.message, "error_field": field, "record_field": exc.field in RECORD_FIELDS}


def _preview(patient: Patient, form: CourseForm) -> dict[str, Any]:
    """The preview of a bound form: the plan (``planned``: for the save of the same request),
    or why there is none. Saves nothing."""
    if not form.is_valid():
        errors = form.errors.as_data()
        fields = [n for n in form.fields if n in errors]
        return {
            "missing": [form[n] for n in fields if _only_required(errors[n])],
            "invalid": [form[n] for n in fields if not _only_required(errors[n])],
            "non_field": form.non_field_errors(),
        }
    try:
        planned = courses.preview(patient, _input(form))
    except IvigError as exc:
        return _failure(form, exc)
    return {"plan": _plan_view(planned), "limits": limits_view(planned.limits), "planned": planned}


def _only_required(errors: list[forms.ValidationError]) -> bool:
    return all(e.code == "required" for e in errors)


def _context(
    patient: Patient,
    form: CourseForm,
    preview: dict[str, Any],
    override: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "patient": patient,
        "form": form,
        "weight": latest_weight(patient),
        "preview": preview,
        "override": override,
        "section": "patients",
        "title": f"Prescribe: {patient}",
    }


# --- the override of soft limits (requirements 47, 26) -------------------------------------------


def limits_view(limits: list[dict[str, Any]] | tuple[SoftLimit, ...]) -> list[dict[str, Any]]:
    """Soft limits (``SoftLimit.as_dict``) with their numbers as text (``partials/plan_limits``):
    1.2, never 1.200."""
    out = []
    for limit in limits:
        row = dict(limit.as_dict() if isinstance(limit, SoftLimit) else limit)
        row["limit_text"] = "" if row["limit"] is None else plain_number(float(row["limit"]), 3)
        row["value_text"] = "" if row["value"] is None else plain_number(float(row["value"]), 3)
        out.append(row)
    return out


def _codes(limits: list[dict[str, Any]] | tuple[SoftLimit, ...]) -> str:
    return ",".join(
        str(limit["code"] if isinstance(limit, dict) else limit.code) for limit in limits
    )


def _override_box(
    request: HttpRequest, limits: list[dict[str, Any]], sign: OverrideForm | None
) -> dict[str, Any]:
    """What ``partials/override_form.html`` shows: the limits and, for a user allowed to
    override, the form (a fresh one naming the limits shown unless one is given)."""
    return {
        "limits": limits_view(limits),
        "form": sign or OverrideForm(initial={"acknowledged": _codes(limits)}),
        "allowed": may_override(request.user),
    }


def _signed(sign: OverrideForm, limits: list[dict[str, Any]]) -> Override | None:
    """The override as posted, if its form is complete and it names the limits that stand now
    (a course changed after the limits were shown is shown again, never signed unseen)."""
    if not sign.is_valid():
        return None
    if sign.cleaned_data["acknowledged"] != _codes(limits):
        sign.add_error(
            None,
            "the soft limits of this course have changed since they were shown: check them "
            "and sign again",
        )
        return None
    d = sign.cleaned_data
    return Override(d["reason_code"], d["reason_text"], d["password"])


def _refresh(sign: OverrideForm, limits: list[dict[str, Any]]) -> OverrideForm:
    """The posted override form again, naming the limits that stand now (its errors kept; the
    password is never sent back)."""
    data = dict(sign.data.items())
    data[sign.add_prefix("acknowledged")] = _codes(limits)
    data[sign.add_prefix("password")] = ""
    fresh = OverrideForm(data)
    fresh.is_valid()
    for field, errors in sign.errors.items():
        for error in errors:
            if error not in fresh.errors.get(field, []):
                fresh.add_error(None if field == "__all__" else field, error)
    return fresh


def _override_error(sign: OverrideForm | None, exc: IvigError) -> bool:
    """Put an error about the override on its form; False when it is not about the override."""
    if sign is None:
        return False
    if exc.field in OVERRIDE_FIELDS:
        sign.add_error(exc.field, exc.message)
        return True
    if isinstance(exc, Forbidden):
        sign.add_error(None, exc.message)
        return True
    return False


@roles_required("prescriber")
def prescribe_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The course form; on submit, plan and save the course, then back to the patient. A course
    outside a soft limit comes back with the override form; sent again with it, it is saved."""
    patient = get_object_or_404(Patient, pk=patient_id)
    if request.method != "POST":
        form = _form(patient)
        # The preview of the form as first shown (the same as htmx would fetch for it).
        values = {name: form[name].value() for name in form.fields}
        data = {k: "" if v is None else str(v) for k, v in values.items() if v is not False}
        preview = _preview(patient, _form(patient, data))
        return render(request, "web/prescribe.html", _context(patient, form, preview))
    form = _form(patient, request.POST)
    if not form.is_valid():
        return render(
            request, "web/prescribe.html", _context(patient, form, _preview(patient, form))
        )
    return _prescribe(request, patient, form)


def _prescribe(request: HttpRequest, patient: Patient, form: CourseForm) -> HttpResponse:
    """Save a valid course form (with the override when one was posted)."""
    preview = _preview(patient, form)
    limits = preview.get("limits", [])
    sign = OverrideForm(request.POST) if OverrideForm.posted(request.POST) else None
    override = _signed(sign, limits) if sign is not None else None
    if sign is not None and override is None:
        box = _override_box(request, limits, _refresh(sign, limits))
        return render(request, "web/prescribe.html", _context(patient, form, preview, box))
    try:
        course = courses.prescribe(
            request.user,
            patient.pk,
            _input(form),
            override=override,
            shown=preview.get("planned"),
        )
    except OverrideRequired as exc:
        box = _override_box(request, exc.limits, None)
        return render(request, "web/prescribe.html", _context(patient, form, preview, box))
    except IvigError as exc:
        if _override_error(sign, exc):
            assert sign is not None
            box = _override_box(request, limits, _refresh(sign, limits))
            return render(request, "web/prescribe.html", _context(patient, form, preview, box))
        preview = _failure(form, exc)
        attach_error(form, exc)
        return render(request, "web/prescribe.html", _context(patient, form, preview))
    orders = list(course.orders.order_by("sequence"))
    grams = sum(o.dose_g for o in orders)
    messages.success(
        request,
        f"Course prescribed: {course.indication.upper()} {course.phase}, "
        f"{product_name(course.product_id)}, "
        f"{len(orders)} dose{'s' if len(orders) != 1 else ''} ({grams:g} g) from "
        f"{course.start.isoformat()}"
        + (f", with your override ({override.reason_code})." if override else "."),
    )
    return redirect("web:patient", patient_id=patient.pk)


@require_POST
@roles_required("prescriber")
def prescribe_preview(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The plan of the form as it stands (htmx, on every change), without saving anything."""
    patient = get_object_or_404(Patient, pk=patient_id)
    form = _form(patient, request.POST)
    return render(
        request,
        "web/prescribe.html#preview",
        _context(patient, form, _preview(patient, form)),
    )


# --- re-plan with the drug library in service (requirement 46) ------------------------------------

_WHAT_HAPPENS = {
    OrderStatus.planned: "planned again",
    OrderStatus.verified: "planned again; its verification no longer stands",
    OrderStatus.dispensed: "left as it is (dispensed)",
    OrderStatus.in_progress: "left as it is (in progress)",
    OrderStatus.completed: "left as it is (completed)",
}


def _rates(steps: list[dict[str, Any]]) -> str:
    """An order's rate steps in mL/h: "25.5, 51, 102"."""
    return ", ".join(plain_number(float(s["rate_ml_per_h"])) for s in steps)


def _replan_preview(course: Course) -> dict[str, Any]:
    """What a re-plan would do, order by order, with the library in service (saves nothing)."""
    rows = []
    planned: courses.Planned | None = None
    error: str | None = None
    try:
        planned = courses.preview(
            course.patient, courses.course_input(course.regimen), exclude_course=course.pk
        )
    except IvigError as exc:
        error = exc.message
    new = {d["date"]: d for d in planned.document["doses"]} if planned else {}
    for order in course.orders.order_by("sequence"):
        dose = new.get(order.date.isoformat()) if order.status in courses.REPLANNED else None
        what = _WHAT_HAPPENS.get(OrderStatus(order.status), "not changed")
        steps = dose["steps"] if dose else None
        restep = planned is not None and order.status == OrderStatus.dispensed
        if restep and planned and courses.steps_only(order, planned.plan, new):  # a cap
            steps = new[order.date.isoformat()]["steps"]
            what = "new rate steps; the vials dispensed stand"
        rows.append(
            {
                "order": order,
                "what": what,
                "steps": _rates(order.steps),
                "new_steps": _rates(steps) if steps is not None else "",
                "dose": plain_number(order.dose_g, 2),
                "volume": plain_number(order.volume_ml, 2),
                "new_dose": plain_number(dose["dose_g"], 2) if dose else "",
                "new_volume": plain_number(dose["volume_ml"], 2) if dose else "",
                "new_vials": _vials(dose["vials"]) if dose else "",
            }
        )
    return {
        "rows": rows,
        "error": error,
        "version": planned.plan.catalogue_version if planned else "",
        "limits": limits_view(planned.limits if planned else ()),
    }


@roles_required("prescriber")
def replan_page(request: HttpRequest, course_id: int) -> HttpResponse:
    """Re-plan a course with the drug library in service: what would change, a reason, and
    (when a soft limit stands) the override; dispensed and given orders are left alone."""
    course = get_object_or_404(Course.objects.select_related("patient"), pk=course_id)
    preview = _replan_preview(course)
    form = ReplanForm(posted(request), initial={"version": course.version})
    form.fields["reason"].label = "Reason for the re-plan"
    override_posted = request.method == "POST" and OverrideForm.posted(request.POST)
    sign = OverrideForm(request.POST) if override_posted else None
    box = None
    status = 200
    if request.method == "POST" and form.is_valid():
        override = _signed(sign, preview["limits"]) if sign is not None else None
        if sign is None or override is not None:
            try:
                code, words = form.cleaned_data["reason_code"], form.cleaned_data["reason"]
                done = courses.replan(
                    request.user,
                    course.pk,
                    form.cleaned_data["version"],
                    reason_text(code, words) if code else words,
                    override=override,
                )
            except OverrideRequired as exc:
                box = _override_box(request, exc.limits, None)
            except IvigError as exc:
                if not _override_error(sign, exc):
                    attach_error(form, exc, {"version": ""})  # a stale version: above the form
                    status = exc.http_status
            else:
                messages.success(request, done.summary[:1].upper() + done.summary[1:] + ".")
                return redirect("web:patient", patient_id=course.patient_id)
        if box is None and sign is not None:
            box = _override_box(request, preview["limits"], _refresh(sign, preview["limits"]))
    return render(
        request,
        "web/replan.html",
        {
            "course": course,
            "patient": course.patient,
            "preview": preview,
            "form": form,
            "override": box,
            "section": "patients",
            "title": f"Re-plan: {course.patient}",
        },
        status=status,
    )


urlpatterns = [
    path("patients/<int:patient_id>/prescribe/", prescribe_page, name="prescribe"),
    path("courses/<int:course_id>/replan/", replan_page, name="course-replan"),
    path(
        "patients/<int:patient_id>/prescribe/preview/",
        prescribe_preview,
        name="prescribe-preview",
    ),
]
