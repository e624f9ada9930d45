"""The nurse run sheet of one order: the header (patient, product, dose, lots), the pre-infusion
check and its findings (a prescriber's override over a blocking finding), the start, the rate
steps on the clock, rate changes, vital signs with their checkpoints, reactions with the
protocol's recommended action, the end of the infusion and the post-infusion observation; and a
print view of the whole sheet with signature lines.

Every signed-in role may read the sheet. The actions are the nurse's (the override the
prescriber's): the forms show only to those roles, and the services check the roles again (their
``Forbidden`` comes back as a message). Clinical rules stay in the services; the view turns their
errors into form errors next to the field at fault. With htmx a form swaps itself when it has an
error, and the whole sheet when it succeeded; without script, POST and redirect.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from ivig.core.catalogue import Product, load_catalogue
from ivig.core.monitoring import (
    ReactionAdvice,
    Severity,
    classify_symptoms,
    load_monitoring_protocol,
    vitals_schedule,
)
from ivig.core.rates import RateStep, clock_times
from ivig.errors import Forbidden, IvigError, UnknownProduct
from ivig.records.models import InfusionSession, Order, OrderStatus, RateChange
from ivig.records.services import infusions
from ivig.records.services.access import has_role
from ivig.records.services.patients import age_on, latest_weight
from ivig.web.views.common import attach_error

VITALS = (
    "temperature_c",
    "pulse_per_min",
    "systolic_mm_hg",
    "diastolic_mm_hg",
    "respiratory_rate_per_min",
    "spo2_percent",
)
RATE_TOLERANCE = 0.05  # mL/h: a recorded rate "is" a planned step's rate within this


# --- forms ------------------------------------------------------------------------------------


TIME_FORMAT = "%Y-%m-%dT%H:%M"  # what a datetime-local input sends (to the minute)


class DateTimeLocalInput(forms.DateTimeInput):
    """A ``datetime-local`` input, to the minute, in the service's time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=TIME_FORMAT)


YES_NO = [("yes", "Yes"), ("no", "No")]


def _yes(value: str) -> bool:
    return value == "yes"


def _question(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, choices=YES_NO, coerce=_yes, widget=forms.RadioSelect
    )


class _Timed(forms.Form):
    """A form with the time of the event: now by default, editable, never in the future.

    The time shown is the moment the form was drawn; a page left open would record that stale
    time. So a time left as shown (``shown_at``) means the moment of saving; a time the user
    changed is taken as typed."""

    at = forms.DateTimeField(label="Time", widget=DateTimeLocalInput)
    shown_at = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, now: dt.datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now
        field = self.fields["at"]
        field.help_text = (
            f"Local time ({timezone.get_current_timezone_name()}). Left as shown, it is the "
            "moment you save; change it for an earlier time."
        )
        if now is not None and "at" not in self.initial:
            shown = timezone.localtime(now).replace(second=0, microsecond=0)
            self.initial["at"] = shown
            self.initial["shown_at"] = shown.strftime(TIME_FORMAT)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        raw = self.data.get("at") if self.is_bound else None
        if self.now is not None and "at" in data and raw and raw == self.data.get("shown_at"):
            data["at"] = self.now
        return data


class CheckForm(forms.Form):
    """The nurse's questions before starting (``infusions.CheckAnswers``)."""

    infection = _question("Signs of an infection today?")
    fever = _question("Fever today (38 °C or more)?")
    feeling_unwell = _question("Does the patient feel unwell?")
    hydrated = _question("Is the patient well hydrated?")
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))


class OverrideForm(forms.Form):
    reason = forms.CharField(
        label="Reason for going ahead despite the blocking finding",
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class StartForm(_Timed):
    at = forms.DateTimeField(label="Start time", widget=DateTimeLocalInput)
    version = forms.IntegerField(widget=forms.HiddenInput)


class RateForm(_Timed):
    field_order = ("rate_ml_per_h", "at")
    rate_ml_per_h = forms.FloatField(
        label="New rate (mL/h)",
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
    )


def _int(label: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label, required=False, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )


class VitalsForm(_Timed):
    field_order = (*VITALS, "at")
    temperature_c = forms.FloatField(
        label="Temperature (°C)",
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
    )
    pulse_per_min = _int("Pulse (/min)")
    systolic_mm_hg = _int("Systolic blood pressure (mm Hg)")
    diastolic_mm_hg = _int("Diastolic blood pressure (mm Hg)")
    respiratory_rate_per_min = _int("Respiratory rate (/min)")
    spo2_percent = _int("SpO₂ (%)")


def _symptom_choices() -> list[tuple[str, str]]:
    return [
        (key, f"{_symptom_name(key)} ({grade.value.value})")
        for key, grade in load_monitoring_protocol().symptoms.items()
    ]


def _symptom_name(key: str) -> str:
    return key.replace("-", " ").capitalize()


SEVERITY_CHOICES = [
    ("", "From the symptoms (protocol grading)"),
    *((s.value, s.value.capitalize()) for s in Severity),
]


class ReactionForm(_Timed):
    field_order = ("symptoms", "severity", "action_taken", "at")
    symptoms = forms.MultipleChoiceField(
        label="Symptoms",
        required=False,
        choices=_symptom_choices,
        widget=forms.CheckboxSelectMultiple,
    )
    severity = forms.ChoiceField(
        label="Severity",
        required=False,
        choices=SEVERITY_CHOICES,
        help_text="Grade higher than the symptoms suggest when your judgement says so.",
    )
    action_taken = forms.CharField(
        label="Action taken",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What was done: rate, medicines given, who was told.",
    )


class EndForm(_Timed):
    at = forms.DateTimeField(label="End time (pump stopped)", widget=DateTimeLocalInput)


class ObservationForm(_Timed):
    field_order = ("at", "notes", "version")
    at = forms.DateTimeField(label="Observation ended at", widget=DateTimeLocalInput)
    notes = forms.CharField(
        label="Observation notes", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


FORMS: dict[str, type[forms.Form]] = {
    "check": CheckForm,
    "override": OverrideForm,
    "start": StartForm,
    "rate": RateForm,
    "vitals": VitalsForm,
    "reaction": ReactionForm,
    "end": EndForm,
    "observation": ObservationForm,
}


def _form(
    key: str,
    order: Order,
    session: InfusionSession | None,
    now: dt.datetime,
    data: Any = None,
) -> forms.Form:
    """One of the sheet's forms, unbound with its defaults or bound to ``data``. Each form has
    its own ids (``id_rate_at``), so that the forms of one page never share an id."""
    cls = FORMS[key]
    initial: dict[str, Any] = {}
    if key in ("start", "observation"):
        initial["version"] = order.version
    if key == "check" and session is not None and session.check_answers:
        initial = {
            k: ("yes" if v else "no") if isinstance(v, bool) else v
            for k, v in session.check_answers.items()
        }
    if key == "rate":
        initial.update(_suggested_rate(order, session, now))
    kwargs: dict[str, Any] = {"auto_id": f"id_{key}_%s", "initial": initial}
    if issubclass(cls, _Timed):
        kwargs["now"] = now
    return cls(data, **kwargs)


def _suggested_rate(
    order: Order, session: InfusionSession | None, now: dt.datetime
) -> dict[str, str]:
    """The rate the rate form offers: the plan's rate at ``now``; after a reaction, never more
    than the protocol's limit, and nothing after a stop."""
    planned = _planned_step(order, session, now)
    if session is None or planned is None:
        return {}
    rate = float(order.steps[planned]["rate_ml_per_h"])
    last = session.reactions.order_by("at", "id").last()
    if last is not None:
        limit = last.recommended.get("restart_max_ml_per_h")
        if last.recommended.get("action") in ("stop", "stop-no-restart") or limit is None:
            return {}
        rate = min(rate, float(limit))
    return {"rate_ml_per_h": f"{rate:g}"}


# --- what the sheet shows ---------------------------------------------------------------------


def _steps(order: Order) -> tuple[RateStep, ...]:
    return tuple(
        RateStep(
            float(s["start_min"]),
            float(s["end_min"]),
            float(s["rate_ml_per_h"]),
            float(s["rate_mg_per_kg_per_min"]),
            float(s["volume_ml"]),
            str(s.get("basis", "label")),
        )
        for s in order.steps
    )


def _planned_step(order: Order, session: InfusionSession | None, now: dt.datetime) -> int | None:
    """The index of the step the plan is on at ``now`` (the last one once past the plan)."""
    if session is None or session.started_at is None or session.ended_at is not None:
        return None
    minute = (now - session.started_at).total_seconds() / 60
    steps = order.steps
    for i, step in enumerate(steps):
        if minute < float(step["end_min"]):
            return i
    return len(steps) - 1 if steps else None


def _step_rows(
    order: Order, session: InfusionSession | None, rates: list[RateChange], now: dt.datetime
) -> dict[str, Any]:
    """The rate-step table: clock times from the actual start (from now, provisional, before
    it), cumulative volumes, the actual start of each step, the current and the next step."""
    steps = _steps(order)
    started = session.started_at if session is not None else None
    base = started or now.replace(second=0, microsecond=0)
    times = clock_times(steps, base)
    current = _planned_step(order, session, now)
    rows = []
    cumulative = 0.0
    used = 0  # each recorded rate change starts at most one step, in order
    for i, (step, (begin, end)) in enumerate(zip(steps, times, strict=True)):
        cumulative += step.volume_ml
        actual = None
        for j in range(used, len(rates)):
            if math.isclose(rates[j].rate_ml_per_h, step.rate_ml_per_h, abs_tol=RATE_TOLERANCE):
                actual, used = rates[j], j + 1
                break
        rows.append(
            {
                "number": i + 1,
                "step": step,
                "minutes": step.end_min - step.start_min,
                "mg_per_kg_per_min": f"{step.rate_mg_per_kg_per_min:g}",
                "begin": begin,
                "end": end,
                "cumulative_ml": cumulative,
                "actual": actual,
                "current": i == current,
            }
        )
    nxt = None
    if current is not None and current + 1 < len(rows):
        nxt = rows[current + 1]
    overrun = (
        current is not None
        and started is not None
        and steps
        and now >= started + dt.timedelta(minutes=steps[-1].end_min)
    )
    return {
        "rows": rows,
        "provisional": started is None,
        "base": base,
        "expected_end": times[-1][1] if times else None,
        "current": rows[current] if current is not None else None,
        "next": nxt,
        "overrun": bool(overrun),
        "total_ml": cumulative,
    }


def _checkpoints(
    order: Order, session: InfusionSession | None, observe_minutes: int, now: dt.datetime
) -> tuple[list[dict[str, Any]], bool]:
    """The vital-sign checkpoints (``session_state``) once started; before that, the planned
    ones on the clock from now (provisional)."""
    if session is not None and session.started_at is not None:
        return infusions.session_state(order, now=now)["checkpoints"], False
    base = now.replace(second=0, microsecond=0)
    schedule = vitals_schedule(_steps(order), observation_minutes=observe_minutes)
    rows = [
        {
            "minute": c.minute,
            "reason": c.reason.value,
            "due_at": base + dt.timedelta(minutes=c.minute),
            "status": "planned",
            "recorded_at": None,
        }
        for c in schedule
    ]
    return rows, True


def _vitals_rows(session: InfusionSession | None) -> list[dict[str, Any]]:
    if session is None:
        return []
    protocol = load_monitoring_protocol().vitals
    rows = []
    for v in session.vitals.select_related("recorded_by"):
        flagged = {f["field"] for f in v.flags}
        cells = [
            {
                "field": name,
                "value": getattr(v, name),
                "unit": protocol[name].unit,
                "flagged": name in flagged,
            }
            for name in VITALS
        ]
        rows.append({"vitals": v, "cells": cells, "flags": v.flags})
    return rows


def _vital_columns() -> list[dict[str, str]]:
    protocol = load_monitoring_protocol().vitals
    return [
        {"field": name, "name": protocol[name].name, "unit": protocol[name].unit} for name in VITALS
    ]


def _reaction_rows(session: InfusionSession | None) -> list[dict[str, Any]]:
    if session is None:
        return []
    return [
        {"reaction": r, "symptoms": [_symptom_name(s) for s in r.symptoms], "advice": r.recommended}
        for r in session.reactions.select_related("recorded_by")
    ]


def _product(order: Order) -> Product | None:
    try:
        return load_catalogue().product(order.course.product_id)
    except UnknownProduct:
        return None


def _lots(order: Order, product: Product | None) -> list[dict[str, Any]]:
    rows = []
    for lot in order.lots.order_by("id"):
        volume = lot.vial_size_g * lot.count * 1000 / product.concentration if product else None
        rows.append({"lot": lot, "grams": lot.vial_size_g * lot.count, "volume_ml": volume})
    return rows


QUESTIONS = {name: str(field.label) for name, field in CheckForm.base_fields.items()}


def _answers(session: InfusionSession | None) -> list[dict[str, str]]:
    """The nurse's answers to the check, as asked."""
    if session is None or not session.check_answers:
        return []
    return [
        {
            "question": QUESTIONS.get(name, name),
            "answer": ("yes" if value else "no") if isinstance(value, bool) else str(value),
        }
        for name, value in session.check_answers.items()
        if value != ""
    ]


def _stage(order: Order, session: InfusionSession | None) -> str:
    """Where the day stands: ``waiting`` (not dispensed), ``check`` (dispensed: check and
    start), ``running``, ``observation`` (ended, observing), ``closed`` or ``stopped``."""
    if order.status in (OrderStatus.planned, OrderStatus.verified):
        return "waiting"
    if order.status == OrderStatus.dispensed:
        return "check"
    if order.status == OrderStatus.in_progress:
        if session is not None and session.ended_at is not None:
            return "observation"
        return "running"
    if order.status == OrderStatus.completed:
        return "closed"
    return "stopped"


def _context(
    request: HttpRequest,
    order: Order,
    now: dt.datetime,
    bound: dict[str, forms.Form] | None = None,
) -> dict[str, Any]:
    """Everything the sheet (or its print view) shows, with the forms this user may use."""
    session = InfusionSession.objects.filter(order=order).first()
    stage = _stage(order, session)
    rates = list(session.rate_changes.select_related("recorded_by")) if session else []
    course = order.course
    plan = course.plan
    product = _product(order)
    observation = infusions.observation_for(order)  # the service's rule (first, switch, gap)
    observe_minutes = (
        session.observation_minutes if session and session.observation_minutes else None
    ) or observation.minutes
    checkpoints, provisional_checks = _checkpoints(order, session, observe_minutes, now)
    findings = list(session.check_findings) if session and session.checked_at else []
    blocks = [f for f in findings if f.get("severity") == "block"]
    overridden = bool(session and session.override_reason)
    nurse = has_role(request.user, "nurse")
    prescriber = has_role(request.user, "prescriber")
    checked = bool(session and session.checked_at)
    shown = {
        "check": stage == "check" and nurse,
        "override": stage == "check" and checked and bool(blocks) and not overridden and prescriber,
        "start": stage == "check" and checked and (not blocks or overridden) and nurse,
        "rate": stage == "running" and nurse,
        "vitals": stage in ("running", "observation") and nurse,
        "reaction": stage == "running" and nurse,
        "end": stage == "running" and nurse,
        "observation": stage == "observation" and nurse,
    }
    bound = bound or {}
    form_context = {
        f"{key}_form": bound[key] if key in bound else _form(key, order, session, now)
        for key, show in shown.items()
        if show
    }
    observe_until = (
        session.ended_at + dt.timedelta(minutes=observe_minutes)
        if session and session.ended_at
        else None
    )
    reaction_form = form_context.get("reaction_form")
    advice = None
    if reaction_form is not None and isinstance(reaction_form.data, QueryDict):
        data = reaction_form.data
        advice = _advice(order, session, data.getlist("symptoms"), data.get("severity") or "")
    doses = plan.get("doses", [])
    reactions = _reaction_rows(session)
    vitals = _vitals_rows(session)
    by_time = {row["vitals"].at: row for row in vitals}
    checkpoints = [{**c, "vitals": by_time.get(c["recorded_at"])} for c in checkpoints]
    return {
        "order": order,
        "patient": order.patient,
        "course": course,
        "plan": plan,
        "product": product,
        "session": session,
        "stage": stage,
        "now": now,
        "age": age_on(order.patient.date_of_birth, order.date),
        "weight": latest_weight(order.patient),
        "concentration_percent": product.concentration / 10 if product else None,
        "check_answers": _answers(session),
        "day_of_course": order.sequence,
        "days_in_course": len(doses) or course.orders.count(),
        "dose_g_per_kg": order.dose_g / course.dosing_weight_kg
        if course.dosing_weight_kg
        else None,
        "lots": _lots(order, product),
        "steps": _step_rows(order, session, rates, now),
        "rates": rates,
        "current_rate": rates[-1] if rates else None,
        "checkpoints": checkpoints,
        "provisional_checks": provisional_checks,
        "vital_columns": _vital_columns(),
        "vitals": vitals,
        "reactions": reactions,
        "last_reaction": reactions[-1] if reactions else None,
        "findings": findings,
        "blocks": blocks,
        "overridden": overridden,
        "observation": observation,
        "observe_minutes": observe_minutes,
        "observe_until": observe_until,
        "advice": advice,
        "time_zone": timezone.get_current_timezone_name(),
        "section": "chairs",
        "title": f"Run sheet: {order.patient.family_name}, {order.patient.given_name}",
        **form_context,
    }


def _advice(
    order: Order, session: InfusionSession | None, symptoms: list[str], severity: str
) -> dict[str, Any] | None:
    """The protocol's recommended action for these symptoms at the current rate, by the same
    service function that ``infusions.record_reaction`` uses. ``None`` when nothing is ticked."""
    if not symptoms and not severity:
        return None
    if session is None or session.started_at is None:
        return {"error": "the infusion has not started: there is no current rate"}
    try:
        grade = Severity(severity) if severity else classify_symptoms(symptoms)
        current = infusions.current_rate(session)
        advice: ReactionAdvice = infusions.reaction_advice(session, grade)
    except (IvigError, ValueError) as exc:
        return {"error": getattr(exc, "message", str(exc))}
    return {
        "severity": grade.value,
        "action": advice.action.value,
        "message": advice.message,
        "restart_max_ml_per_h": advice.restart_max_ml_per_h,
        "call_prescriber": advice.call_prescriber,
        "basis": advice.basis,
        "source": advice.source,
        "verified": advice.verified,
        "current_rate_ml_per_h": current,
    }


# --- pages ------------------------------------------------------------------------------------


def _htmx(request: HttpRequest) -> Any:
    return getattr(request, "htmx", None)


def _order(order_id: int) -> Order:
    return get_object_or_404(
        Order.objects.select_related("patient", "course", "verified_by", "dispensed_by"),
        pk=order_id,
    )


@login_required
@require_GET
def runsheet(request: HttpRequest, order_id: int) -> HttpResponse:
    """The run sheet; ``?print=1`` is the print view. htmx: the sheet (or its live part)."""
    if request.GET.get("print"):
        return runsheet_print(request, order_id)
    order = _order(order_id)
    context = _context(request, order, timezone.now())
    htmx = _htmx(request)
    if htmx:
        part = "live" if htmx.target == "live" else "sheet"
        return render(request, f"web/runsheet.html#{part}", context)
    return render(request, "web/runsheet.html", context)


@login_required
@require_GET
def runsheet_print(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order(order_id)
    context = _context(request, order, timezone.now())
    context["title"] = f"Run sheet (print): {order.patient.family_name}, {order.patient.given_name}"
    context["catalogue_version"] = load_catalogue().version
    context["printing"] = True
    return render(request, "web/runsheet_print.html", context)


@login_required
@require_GET
def reaction_advice(request: HttpRequest, order_id: int) -> HttpResponse:
    """The recommended action for the ticked symptoms, before saving (htmx preview)."""
    order = _order(order_id)
    session = InfusionSession.objects.filter(order=order).first()
    advice = _advice(
        order, session, request.GET.getlist("symptoms"), request.GET.get("severity", "")
    )
    return render(request, "web/partials/runsheet_advice.html", {"advice": advice})


PART_UPDATES = ("rate", "vitals", "reaction")  # no change of stage: the other forms are kept


def _done(request: HttpRequest, order: Order, key: str, anchor: str) -> HttpResponse:
    """After an action. A plain POST is redirected to the sheet. htmx: after a rate change,
    vital signs or a reaction, a fresh form in place of the one sent and the parts of the sheet
    it changed (out of band), so that what the nurse is typing in another form stays; after a
    step of the day (check, override, start, end, observation), the whole sheet anew."""
    if not _htmx(request):
        return redirect(reverse("web:runsheet", args=[order.pk]) + f"#{anchor}")
    order.refresh_from_db()
    context = _context(request, order, timezone.now())
    if key in PART_UPDATES and f"{key}_form" in context:
        context["form_partial"] = f"web/runsheet.html#{key}_form"
        context["update_rate_form"] = key == "reaction"  # the rate offered follows the advice
        return render(request, "web/partials/runsheet_update.html", context)
    response = render(request, "web/runsheet.html#sheet", context)
    return reswap(retarget(response, "#sheet"), "outerHTML")


Action = Callable[[HttpRequest, Order, dict[str, Any], dt.datetime], str]


def _action(key: str, anchor: str, act: Action) -> Callable[[HttpRequest, int], HttpResponse]:
    """A POST view: validate the form, call the service, and say what was done; the service's
    errors go next to the field at fault (``Forbidden`` as a message)."""

    @login_required
    @require_POST
    def view(request: HttpRequest, order_id: int) -> HttpResponse:
        order = _order(order_id)
        now = timezone.now()
        session = InfusionSession.objects.filter(order=order).first()
        form = _form(key, order, session, now, request.POST)
        if form.is_valid():
            try:
                said = act(request, order, form.cleaned_data, now)
            except Forbidden as exc:
                messages.error(request, exc.message)
                return _done(request, order, key, anchor)
            except IvigError as exc:
                attach_error(form, exc, {"version": "", "check": ""})
            else:
                messages.success(request, said)
                return _done(request, order, key, anchor)
        order.refresh_from_db()
        context = _context(request, order, now, {key: form})
        if f"{key}_form" not in context:  # the sheet has moved on (or it is not this user's form)
            for name, errors in form.errors.items():
                label = form.fields[name].label if name in form.fields else None
                for error in errors:
                    messages.error(request, f"{label}: {error}" if label else str(error))
            return _done(request, order, key, anchor)
        if _htmx(request):
            return render(request, f"web/runsheet.html#{key}_form", context)
        return render(request, "web/runsheet.html", context)

    view.__name__ = f"runsheet_{key}"
    return view


def _check(request: HttpRequest, order: Order, d: dict[str, Any], now: dt.datetime) -> str:
    answers = infusions.CheckAnswers(
        infection=d["infection"],
        fever=d["fever"],
        feeling_unwell=d["feeling_unwell"],
        hydrated=d["hydrated"],
        notes=d["notes"],
    )
    session = infusions.pre_check(request.user, order.pk, answers, now=now)
    blocks = [f for f in session.check_findings if f.get("severity") == "block"]
    if blocks:
        return "Check saved. A blocking finding stands: a prescriber must record an override."
    return "Check saved."


def _override(request: HttpRequest, order: Order, d: dict[str, Any], now: dt.datetime) -> str:
    infusions.override(request.user, order.pk, d["reason"], now=now)
    return "Override recorded: the infusion may start."


def _start(request: HttpRequest, order: Order, d: dict[str, Any], now: dt.datetime) -> str:
    session = infusions.start_infusion(request.user, order.pk, d["version"], d["at"], now=now)
    rate = float(order.steps[0]["rate_ml_per_h"])
    at = timezone.localtime(session.started_at).strftime("%H:%M")
    return f"Infusion started at {at}, at {rate:g} mL/h."


def _rate(request: HttpRequest, order: Order, d: dict[str, Any], now: dt.datetime) -> str:
    row = infusions.record_rate(request.user, order.pk, d["at"], d["rate_ml_per_h"], now=now)
    return f"Rate {row.rate_ml_per_h:g} mL/h from {timezone.localtime(row.at):%H:%M}."


def _vitals(request: HttpRequest, order: Order, d: dict[str, Any], now: dt.datetime) -> str:
    values = infusions.VitalsInput(**{name: d[name] for name in VITALS})
    row = infusions.record_vitals(request.user, order.pk, d["at"], values, now=now)
    said = f"Vital signs at {timezone.localtime(row.at):%H:%M} saved."
    if row.flags:
        said += " Abnormal: " + "; ".join(f["message"] for f in row.flags) + "."
    return said


def _reaction(request: HttpRequest, order: Order, d: dict[str, Any], now: dt.datetime) -> str:
    row = infusions.record_reaction(
        request.user,
        order.pk,
        d["at"],
        list(d["symptoms"]),
        d["action_taken"],
        severity=d["severity"] or None,
        now=now,
    )
    return f"Reaction saved ({row.severity}). Recommended (protocol): {row.recommended['message']}"


def _end(request: HttpRequest, order: Order, d: dict[str, Any], now: dt.datetime) -> str:
    session = infusions.end_infusion(request.user, order.pk, d["at"], now=now)
    ended = timezone.localtime(session.ended_at)
    until = ended + dt.timedelta(minutes=session.observation_minutes or 0)
    return (
        f"Infusion ended at {ended:%H:%M}. Observe for {session.observation_minutes} minutes, "
        f"until {until:%H:%M}."
    )


def _observation(request: HttpRequest, order: Order, d: dict[str, Any], now: dt.datetime) -> str:
    infusions.finish_observation(request.user, order.pk, d["version"], d["at"], d["notes"], now=now)
    return "Observation closed: the infusion is completed."


ACTIONS: dict[str, tuple[str, Action]] = {
    "check": ("check", _check),
    "override": ("check", _override),
    "start": ("check", _start),
    "rate": ("steps", _rate),
    "vitals": ("vitals", _vitals),
    "reaction": ("reactions", _reaction),
    "end": ("end", _end),
    "observation": ("end", _observation),
}

urlpatterns: list[URLPattern] = [
    path("orders/<int:order_id>/runsheet/", runsheet, name="runsheet"),
    path("orders/<int:order_id>/runsheet/print/", runsheet_print, name="runsheet-print"),
    path(
        "orders/<int:order_id>/runsheet/reaction-advice/",
        reaction_advice,
        name="runsheet-advice",
    ),
    *(
        path(
            f"orders/<int:order_id>/runsheet/{key}/",
            _action(key, anchor, act),
            name=f"runsheet-{key}",
        )
        for key, (anchor, act) in ACTIONS.items()
    ),
]
