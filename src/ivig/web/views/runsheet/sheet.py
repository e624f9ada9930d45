"""The run sheet on the screen: what it shows (``ivig.records.services.runsheet``, the same for
every reader) with the forms this user may use in the infusion's state, what each form offers,
and the recommended action of a reaction being entered."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, QueryDict

from ivig.core.monitoring import ReactionAdvice, ReactionSeverity, classify_symptoms
from ivig.errors import IvigError
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import InfusionSession, Order, PrescriberTask, SessionState
from ivig.records.services import infusions
from ivig.records.services.access import has_role
from ivig.records.services.limits import may_override
from ivig.records.services.runsheet.sheet import planned_step, sheet
from ivig.web.views.alerts import CloseAlertForm
from ivig.web.views.runsheet.forms import build

S = SessionState


def _forms_shown(
    user: Actor,
    stage: str,
    infusion_state: str,
    session: InfusionSession | None,
    blocks: list[dict[str, Any]],
    overridden: bool,
    restart: dict[str, Any] | None,
) -> dict[str, bool]:
    """The forms of the sheet this user may use now: by the stage of the day, the state of the
    infusion (requirement 62) and the role (the services check the role again)."""
    nurse = has_role(user, "nurse")
    prescriber = has_role(user, "prescriber")
    checked = bool(session and session.checked_at)
    running = stage == "running"
    may_resume = infusion_state == S.paused or (infusion_state == S.stopped and restart is not None)
    return {
        "check": stage == "check" and nurse,
        "override": stage == "check" and checked and bool(blocks) and not overridden and prescriber,
        "start": stage == "check" and checked and (not blocks or overridden) and nurse,
        "rate": running and infusion_state == S.running and nurse,
        "resume": running and may_resume and nurse,
        "restart": running and infusion_state == S.stopped and restart is None and prescriber,
        "vitals": (stage in ("running", "observation") or (stage == "check" and checked)) and nurse,
        "reaction": running and infusion_state in (S.running, S.paused) and nurse,
        "end": running and nurse,
        "observation": stage == "observation" and nurse,
    }


def _initial(
    key: str,
    order: Order,
    session: InfusionSession | None,
    tolerated: float | None,
    restart: dict[str, Any] | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """What a form offers: the planned rate (never above the last tolerated one), the highest
    restart rate allowed, the last tolerated rate as the restart order's maximum."""
    if key == "rate":
        return _suggested_rate(order, session, tolerated, now)
    if key == "resume" and restart is not None:
        return {"rate_ml_per_h": f"{restart['max']:g}"}
    if key == "restart" and tolerated is not None:
        return {"max_rate_ml_per_h": f"{float(tolerated):g}"}
    if key == "end" and session is not None and session.started_at is not None:
        return {"volume_given_ml": f"{infusions.pump_log_volume(order, session, now):g}"}
    return {}


def _ack_form(
    task: PrescriberTask,
    order: Order,
    session: InfusionSession | None,
    now: dt.datetime,
    bound: dict[str, forms.Form],
) -> forms.Form:
    """A task's acknowledgement form (its own ids), or the one sent back with its errors."""
    sent = bound.get(f"acknowledge-{task.pk}")
    if sent is not None:
        return sent
    return build(
        "acknowledge", order, session, now, initial={"task_id": task.pk}, prefix_id=f"ack{task.pk}"
    )


def context(
    request: HttpRequest,
    order: Order,
    now: dt.datetime,
    bound: dict[str, forms.Form] | None = None,
) -> dict[str, Any]:
    """Everything the sheet shows, with the forms this user may use."""
    ctx = sheet(order, now)
    session: InfusionSession | None = ctx["session"]
    restart = ctx["restart"]
    user = request.user
    prescriber = has_role(user, "prescriber")
    shown = _forms_shown(
        user, ctx["stage"], ctx["state"], session, ctx["blocks"], ctx["overridden"], restart
    )
    bound = bound or {}
    form_context: dict[str, Any] = {}
    for key in (k for k, show in shown.items() if show):
        sent = bound.get(key)
        form_context[f"{key}_form"] = (
            sent
            if sent is not None
            else build(
                key,
                order,
                session,
                now,
                user=user,
                initial=_initial(key, order, session, ctx["last_tolerated"], restart, now),
            )
        )
    task_forms = [
        {"task": task, "form": _ack_form(task, order, session, now, bound) if prescriber else None}
        for task in ctx["all_tasks"]
        if task.acknowledged_at is None
    ]
    reaction_form = form_context.get("reaction_form")
    advice = None
    if reaction_form is not None and isinstance(reaction_form.data, QueryDict):
        data = reaction_form.data
        advice = reaction_advice(session, data.getlist("symptoms"), data.get("severity") or "")
    return {
        **ctx,
        "tasks": task_forms,
        "advice": advice,
        "may_override": may_override(user),
        "is_prescriber": prescriber,
        "may_correct": prescriber or has_role(user, "nurse"),
        "reports": {
            **ctx["reports"],
            "may_review": prescriber or has_role(user, "nurse"),
            # issue 16: each open flagged check's close form (its own field ids)
            "to_review": [
                {"check": c, "form": CloseAlertForm(auto_id=f"id_review_{c.pk}_%s")}
                for c in ctx["reports"]["to_review"]
            ],
        },
        "section": "chairs",
        "title": f"Run sheet: {order.patient.family_name}, {order.patient.given_name}",
        **form_context,
    }


def _suggested_rate(
    order: Order, session: InfusionSession | None, tolerated: float | None, now: dt.datetime
) -> dict[str, str]:
    """The rate the rate form offers: the plan's rate at ``now``, never more than the last
    tolerated rate after a reaction."""
    planned = planned_step(order, session, now)
    if session is None or planned is None:
        return {}
    rate = float(order.steps[planned]["rate_ml_per_h"])
    if tolerated is not None:
        rate = min(rate, float(tolerated))
    return {"rate_ml_per_h": f"{rate:g}"}


def reaction_advice(
    session: InfusionSession | None, symptoms: list[str], severity: str
) -> dict[str, Any] | None:
    """The protocol's recommended action for these symptoms at the current rate, by the same
    service function that ``infusions.record_reaction`` uses. ``None`` when nothing is ticked."""
    if not symptoms and not severity:
        return None
    if session is None or session.started_at is None:
        return {"error": "the infusion has not started: there is no current rate"}
    try:
        grade = (
            ReactionSeverity(severity)
            if severity
            else classify_symptoms(symptoms, protocol=current_library().monitoring)
        )
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
