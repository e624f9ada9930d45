"""The run sheet's actions: one POST view per form, each calling one service.

Clinical rules stay in the services; a view turns their errors into form errors next to the
field at fault: a hard limit in bold on the rate ("not recorded ... no one can record this",
requirement 48), soft limits as an override form for a user allowed to override (or "call the
prescriber", requirement 47), a missing checkpoint as a "reason vital signs were not taken"
field (requirement 60), a stale version as "reload" with the infusion's state now
(requirement 32). ``Forbidden`` is a 403 page with the reason. With htmx a form swaps itself when it
has an error; after a rate change or vital signs, a fresh form and the parts of the sheet they
change; after anything that moves the infusion to another state, the whole sheet. Without
script, POST and redirect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import reswap, retarget

from ivig.core.monitoring import observation_close_at
from ivig.errors import Conflict, Forbidden, HardLimit, IvigError, OverrideRequired, StaleVersion
from ivig.records.models import InfusionSession, Order, PrescriberTask
from ivig.records.services import infusions
from ivig.web.errors import attach_error
from ivig.web.views.common import roles_required
from ivig.web.views.runsheet.forms import VITALS, AcknowledgeForm, Keyed, RateForm, build
from ivig.web.views.runsheet.sheet import context

PART_UPDATES = ("rate", "vitals")  # no change of state: the other forms keep what is typed
ALIASES = {"version": "", "check": "", "session_version": "", "vitals": "vitals_missing_reason"}
HARD_SUFFIX = ": no one can record it"


def htmx(request: HttpRequest) -> Any:
    return getattr(request, "htmx", None)


def order_or_404(order_id: int) -> Order:
    return get_object_or_404(
        Order.objects.select_related("patient", "course", "verified_by", "dispensed_by"),
        pk=order_id,
    )


def done(request: HttpRequest, order: Order, key: str, anchor: str) -> HttpResponse:
    """After an action. A plain POST is redirected to the sheet. htmx: after a rate change or
    vital signs, a fresh form in place of the one sent and the parts of the sheet it changed
    (out of band); after anything else, the whole sheet anew."""
    if not htmx(request):
        return redirect(reverse("web:runsheet", args=[order.pk]) + f"#{anchor}")
    order.refresh_from_db()
    ctx = context(request, order, timezone.now())
    if key in PART_UPDATES and f"{key}_form" in ctx and ctx["stage"] != "check":
        ctx["form_partial"] = f"web/runsheet.html#{key}_form"
        return render(request, "web/partials/runsheet_update.html", ctx)
    response = render(request, "web/runsheet.html#sheet", ctx)
    return reswap(retarget(response, "#sheet"), "outerHTML")


def show_error(form: forms.Form, exc: IvigError) -> None:
    """A service's error on the form, as the nurse needs to read it."""
    if isinstance(exc, HardLimit):
        text = exc.message.removesuffix(HARD_SUFFIX)
        said = f"Not recorded: {text} — no one can record this (a drug-library hard limit)."
        if isinstance(form, RateForm):
            form.hard_stop = said
        name = exc.field if exc.field in form.fields else None
        form.add_error(name, said)
        return
    if isinstance(exc, OverrideRequired) and isinstance(form, RateForm):
        limits = exc.details.get("limits")
        form.soft_limits = list(limits) if isinstance(limits, list) else []
        return
    if isinstance(exc, StaleVersion):
        if isinstance(form, Keyed):
            form.stale = True  # the form shows where the infusion stands now
        form.add_error(
            None,
            f"Not recorded: {exc.message}. Someone else changed this infusion since the sheet "
            "was drawn: reload it to see where the infusion stands now.",
        )
        return
    if isinstance(exc, Conflict) and exc.field == "vitals" and isinstance(form, RateForm):
        form.asks_vitals = True
    attach_error(form, exc, ALIASES)


Action = Callable[[HttpRequest, Order, forms.Form, dt.datetime], str]


def action(
    key: str, anchor: str, act: Action, role: str
) -> Callable[[HttpRequest, int], HttpResponse]:
    """A POST view: validate the form, call the service, and say what was done; the service's
    errors go next to the field at fault (``Forbidden``: a 403 page with the reason)."""

    @require_POST
    @roles_required(role)
    def view(request: HttpRequest, order_id: int) -> HttpResponse:
        order = order_or_404(order_id)
        now = timezone.now()
        session = InfusionSession.objects.filter(order=order).first()
        form = build(key, order, session, now, request.POST, user=request.user)
        if form.is_valid():
            try:
                said = act(request, order, form, now)
            except Forbidden:
                raise  # a 403 page with the reason (ivig.server.middleware.ErrorPages)
            except IvigError as exc:
                show_error(form, exc)
            else:
                messages.success(request, said)
                return done(request, order, key, anchor)
        return again(request, order, key, anchor, form, now)

    view.__name__ = f"runsheet_{key}"
    return view


def again(
    request: HttpRequest,
    order: Order,
    key: str,
    anchor: str,
    form: forms.Form,
    now: dt.datetime,
    *,
    bound_as: str | None = None,
    partial: str | None = None,
) -> HttpResponse:
    """The form again, with its errors, in the sheet as it stands now; when the sheet has
    moved on (or the form is not this user's), its errors as messages on the sheet."""
    order.refresh_from_db()
    name = bound_as or key
    ctx = context(request, order, now, {name: form})
    if not _shown(ctx, name):
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else None
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else str(error))
        return done(request, order, key, anchor)
    if htmx(request) and partial == "sheet":
        response = render(request, "web/runsheet.html#sheet", ctx)
        return reswap(retarget(response, "#sheet"), "outerHTML")
    if htmx(request):
        return render(request, f"web/runsheet.html#{key}_form", ctx)
    return render(request, "web/runsheet.html", ctx)


def _shown(ctx: dict[str, Any], name: str) -> bool:
    if name.startswith("acknowledge-"):
        return any(t["form"] is not None and f"acknowledge-{t['task'].pk}" == name
                   for t in ctx["tasks"])  # fmt: skip
    return f"{name}_form" in ctx


# --- the actions ------------------------------------------------------------------------------


def _hhmm(moment: dt.datetime | None) -> str:
    return timezone.localtime(moment).strftime("%H:%M") if moment else ""


def _check(request: HttpRequest, order: Order, form: forms.Form, now: dt.datetime) -> str:
    d = form.cleaned_data
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


def _override(request: HttpRequest, order: Order, form: forms.Form, now: dt.datetime) -> str:
    infusions.override(request.user, order.pk, form.cleaned_data["reason"], now=now)
    return "Override recorded: the infusion may start."


def _start(request: HttpRequest, order: Order, form: forms.Form, now: dt.datetime) -> str:
    d = form.cleaned_data
    session = infusions.start_infusion(
        request.user,
        order.pk,
        d["version"],
        d["at"],
        visual_inspection_ok=d["visual_inspection_ok"],
        visual_inspection_notes=d["visual_inspection_notes"],
        administered_by=d["administered_by"],
        baseline_vitals_missing_reason=d["baseline_vitals_missing_reason"],
        now=now,
    )
    rate = float(order.steps[0]["rate_ml_per_h"])
    late = " Recorded as a late entry: the steps count from the start time." * bool(
        session.start_late_entry
    )
    return f"Infusion started at {_hhmm(session.started_at)}, at {rate:g} mL/h.{late}"


def _rate(request: HttpRequest, order: Order, form: forms.Form, now: dt.datetime) -> str:
    assert isinstance(form, RateForm)
    d = form.cleaned_data
    override = form.override()
    row = infusions.record_rate(
        request.user,
        order.pk,
        d["session_version"],
        d["at"],
        d["rate_ml_per_h"],
        vitals_missing_reason=d["vitals_missing_reason"],
        override=override,
        now=now,
    )
    said = f"Rate {row.rate_ml_per_h:g} mL/h from {_hhmm(row.at)}."
    if override is not None:
        said += f" Override recorded ({override.reason_code})."
    return said


def _resume(request: HttpRequest, order: Order, form: forms.Form, now: dt.datetime) -> str:
    d = form.cleaned_data
    row = infusions.resume_infusion(
        request.user,
        order.pk,
        d["session_version"],
        d["at"],
        d["rate_ml_per_h"],
        symptoms_resolved=d["symptoms_resolved"],
        reason=d["reason"],
        now=now,
    )
    return f"Infusion restarted at {row.rate_ml_per_h:g} mL/h from {_hhmm(row.at)}."


def _restart(request: HttpRequest, order: Order, form: forms.Form, now: dt.datetime) -> str:
    d = form.cleaned_data
    infusions.order_restart(
        request.user,
        order.pk,
        d["session_version"],
        d["reason"],
        d["max_rate_ml_per_h"],
        now=now,
    )
    return (
        f"Restart ordered: the nurse may restart at no more than {d['max_rate_ml_per_h']:g} mL/h."
    )


def _vitals(request: HttpRequest, order: Order, form: forms.Form, now: dt.datetime) -> str:
    d = form.cleaned_data
    values = infusions.VitalsInput(**{name: d[name] for name in VITALS})
    row = infusions.record_vitals(request.user, order.pk, d["at"], values, now=now)
    said = f"Vital signs at {_hhmm(row.at)} saved."
    if row.flags:
        said += " Abnormal: " + "; ".join(f["message"] for f in row.flags) + "."
    return said


def _reaction(request: HttpRequest, order: Order, form: forms.Form, now: dt.datetime) -> str:
    d = form.cleaned_data
    row = infusions.record_reaction(
        request.user,
        order.pk,
        d["session_version"],
        d["at"],
        list(d["symptoms"]),
        d["action_taken"],
        severity=d["severity"] or None,
        medicines_given=d["medicines_given"],
        now=now,
    )
    state = InfusionSession.objects.get(order=order).state
    said = f"Reaction saved ({row.severity}); the infusion is {state}."
    said += f" Recommended (protocol): {row.recommended['message']}"
    if row.medicines_given:
        said += " The prescriber has a task to acknowledge the medicines given."
    return said


def _end(request: HttpRequest, order: Order, form: forms.Form, now: dt.datetime) -> str:
    d = form.cleaned_data
    session = infusions.end_infusion(
        request.user,
        order.pk,
        d["at"],
        volume_given_ml=d["volume_given_ml"],
        short_confirmed=d["short_confirmed"],
        short_reason=d["short_stop_reason"],
        now=now,
    )
    ended = timezone.localtime(session.ended_at)
    until = observation_close_at(ended, session.observation_minutes or 0)
    return (
        f"Infusion ended at {ended:%H:%M}: {session.volume_given_ml:g} of {order.volume_ml:g} "
        f"mL given ({session.given_g:g} of {order.dose_g:g} g). Observe for "
        f"{session.observation_minutes} minutes, until {until:%H:%M}."
    )


def _observation(request: HttpRequest, order: Order, form: forms.Form, now: dt.datetime) -> str:
    d = form.cleaned_data
    infusions.finish_observation(request.user, order.pk, d["version"], d["at"], d["notes"], now=now)
    return "Observation closed: the infusion is completed."


# key: (the sheet's anchor, the action, the role that may do it: as the service requires, checked
# before the form so that another role gets 403 whatever it posts)
ACTIONS: dict[str, tuple[str, Action, str]] = {
    "check": ("check", _check, "nurse"),
    "override": ("check", _override, "prescriber"),
    "start": ("check", _start, "nurse"),
    "rate": ("steps", _rate, "nurse"),
    "resume": ("live", _resume, "nurse"),
    "restart": ("live", _restart, "prescriber"),
    "vitals": ("vitals", _vitals, "nurse"),
    "reaction": ("reactions", _reaction, "nurse"),
    "end": ("end", _end, "nurse"),
    "observation": ("end", _observation, "nurse"),
}


@require_POST
@roles_required("prescriber")
def acknowledge(request: HttpRequest, order_id: int) -> HttpResponse:
    """A prescriber acknowledges a task (the reaction medicines given under protocol)."""
    order = order_or_404(order_id)
    now = timezone.now()
    session = InfusionSession.objects.filter(order=order).first()
    try:
        task_id = int(request.POST.get("task_id", ""))
    except ValueError:
        raise Http404("no such task") from None
    task = PrescriberTask.objects.filter(pk=task_id, session__order=order).first()
    if task is None:
        raise Http404("no such task")
    form = build("acknowledge", order, session, now, request.POST, prefix_id=f"ack{task.pk}")
    if form.is_valid():
        try:
            decision = form.decision() if isinstance(form, AcknowledgeForm) else None
            infusions.acknowledge_task(
                request.user, task.pk, form.cleaned_data["note"], decision=decision, now=now
            )
        except Forbidden:
            raise  # a 403 page with the reason (ivig.server.middleware.ErrorPages)
        except IvigError as exc:
            show_error(form, exc)
        else:
            messages.success(request, f"Task acknowledged: {task.message}")
            return done(request, order, "acknowledge", "tasks")
    return again(
        request,
        order,
        "acknowledge",
        "tasks",
        form,
        now,
        bound_as=f"acknowledge-{task.pk}",
        partial="sheet",
    )
