"""At the chair: pre-infusion check, override, start, guarded rates, vitals, reactions (pause,
resume, a prescriber's restart order, tasks), end, observation; and outcomes.

In the bodies of ``rates``, ``resume``, ``reactions`` and ``restart-order``, ``version`` is the
infusion session's version (``GET /api/orders/{id}/session`` -> ``version``); in ``start`` and
``observation`` it is the order's."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from pydantic import create_model

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import Id, In, Versioned, override_of
from ivig.api.schemas import OverrideIn as SoftOverrideIn
from ivig.core.vitals import VITAL_SIGNS
from ivig.records import audit
from ivig.records.models import InfusionSession, Order, Patient, RateChange, Role
from ivig.records.services import infusions, outcomes, premedication
from ivig.records.services.common import get
from ivig.records.services.infusions import SessionView, TaskView

router = Router(tags=["infusions"])


class CheckIn(In):
    infection: bool
    fever: bool
    feeling_unwell: bool
    hydrated: bool
    notes: str = ""


class CheckOverrideIn(In):
    """A prescriber's decision to go ahead despite a blocking finding of the pre-infusion
    check, with the reason (not the soft-limit ``OverrideIn``: that one is coded and signed)."""

    reason: str = Field(..., min_length=1, max_length=2000)


class AtIn(In):
    at: dt.datetime


class StartIn(Versioned, AtIn):
    """``version``: the order's version. The vials' visual inspection and the nurse who gives
    the infusion are recorded at the start (requirement 65)."""

    visual_inspection_ok: bool = Field(
        ..., description="the vials passed the visual inspection (false: refused)"
    )
    visual_inspection_notes: str = Field("", max_length=2000)
    administered_by: int | None = Field(
        None, description="the user id of the nurse giving the infusion (default: you)"
    )
    baseline_vitals_missing_reason: str = Field(
        "",
        max_length=2000,
        description="why no baseline vital signs were recorded before the start (else 409)",
    )


class RateIn(Versioned, AtIn):
    """``version``: the infusion session's version (``GET .../session``: ``version``)."""

    rate_ml_per_h: float = Field(..., description="mL/h")
    vitals_missing_reason: str = Field(
        "", max_length=2000, description="why no vital signs were taken before an increase"
    )
    override: SoftOverrideIn | None = None  # a coded, signed override (requirement 47)


class ResumeIn(Versioned, AtIn):
    """``version``: the infusion session's version. A restart needs vital signs recorded after
    the reaction and ``symptoms_resolved``, or a ``reason`` (else 409)."""

    rate_ml_per_h: float = Field(..., description="mL/h")
    symptoms_resolved: bool = Field(False, description="the reaction's symptoms have resolved")
    reason: str = Field(
        "", max_length=2000, description="why it restarts without vital signs or resolution"
    )


class EndIn(AtIn):
    """The end of the infusion with the volume given (mL, from the pump); below 90 % of the
    dose's volume it needs ``short_confirmed`` and ``short_reason`` (else 409)."""

    volume_given_ml: float = Field(..., ge=0, description="mL given (the pump's volume infused)")
    short_confirmed: bool = Field(False, description="the stop well short of the dose confirmed")
    short_reason: str = Field("", max_length=2000, description="why it stopped short")


class RestartOrderIn(Versioned):
    """``version``: the infusion session's version."""

    reason: str = Field(..., min_length=1, max_length=2000)
    max_rate_ml_per_h: float = Field(..., gt=0, description="mL/h")


def _vitals_in() -> type[AtIn]:
    """The body of a set of vital signs: the time, and a field per sign of ``core.vitals``
    (a whole number or not, ``null`` or left out when not taken)."""
    fields: dict[str, Any] = {
        sign.field: (
            int | None if sign.integer else float | None,
            Field(None, description=f"{sign.name}, {sign.unit}"),
        )
        for sign in VITAL_SIGNS
    }
    return create_model("VitalsIn", __base__=AtIn, __module__=__name__, **fields)


if TYPE_CHECKING:
    VitalsIn = AtIn
else:
    VitalsIn = _vitals_in()


class ReactionIn(Versioned, AtIn):
    """``version``: the infusion session's version."""

    symptoms: list[str] = Field(..., min_length=1)
    severity: str | None = None
    action_taken: str = Field(..., min_length=1)
    medicines_given: str = Field("", max_length=2000)


class AcknowledgeIn(In):
    note: str = Field(..., min_length=1, max_length=2000)
    ramp: str | None = Field(
        None,
        pattern="^(same|capped)$",
        description="with a reaction's task: the decision for the next infusions (issue 16)",
    )
    premedicate: bool = False


class ObservationIn(Versioned, AtIn):
    notes: str = ""


class OutcomeIn(In):
    measure: str
    value: float
    measured_on: dt.date


class CheckpointOut(Schema):
    """A vital-sign checkpoint: done, due, overdue or upcoming."""

    minute: float = Field(..., description="minutes after the start")
    reason: str
    due_at: dt.datetime
    status: str
    recorded_at: dt.datetime | None


class IncreaseOut(Schema):
    """When the running rate may increase (requirement 60)."""

    since: dt.datetime | None = Field(
        ...,
        validation_alias="since",
        serialization_alias="from",
        description="the earliest time of an increase (the step's minimum time)",
    )
    step_minutes: float | None
    vitals_at: dt.datetime | None = Field(..., description="the latest vital signs in force")
    vitals_within_minutes: int = Field(..., description="vital signs this long before it")
    at_most_ml_per_h: float | None = Field(..., description="mL/h: the last tolerated rate")


class TaskOut(Schema):
    """A prescriber task (protocol medicines given for a reaction)."""

    id: int
    kind: str
    message: str
    patient_id: int
    order_id: int
    reaction_id: int | None
    created_at: dt.datetime
    acknowledged_by: int | None = Field(..., description="the user id")
    acknowledged_at: dt.datetime | None
    acknowledgement: str


class PumpOut(Schema):
    """Where the dose stands by the pump log (issue 16 item 5)."""

    dose_ml: float = Field(..., description="mL: the dose's volume")
    given_ml: float = Field(..., description="mL given by the pump log, up to now or the end")
    remaining_ml: float
    expected_end: dt.datetime | None = Field(..., description="null while on hold")
    reaction_at: dt.datetime | None
    reaction_severity: str | None
    on_hold_since: dt.datetime | None
    restarted_at: dt.datetime | None
    restarted_ml_per_h: float | None
    rate_ml_per_h: float | None = Field(..., description="mL/h: the pump's last running rate")


class SessionOut(Schema):
    """An order's infusion now (``infusions.SessionView``): ``version`` is the one the
    session's changes name (``null`` before the check)."""

    order_id: int
    status: str = Field(..., description="the order's status")
    state: str = Field(..., description="not-started, running, paused, stopped, ended, closed")
    version: int | None
    label_max_ml_per_h: float = Field(..., description="mL/h: the hard limit")
    ceiling_ml_per_h: float = Field(..., description="mL/h: the plan's top step (soft limit)")
    restart_max_ml_per_h: float | None = Field(..., description="mL/h: a resume's highest")
    last_tolerated_ml_per_h: float | None = Field(..., description="mL/h, after a reaction")
    may_increase: IncreaseOut | None
    tasks: list[TaskOut]
    session: dict[str, Any] | None = Field(
        ..., description="the session as stored, with its pump rows, vital signs and reactions"
    )
    checkpoints: list[CheckpointOut]
    pump: PumpOut | None = Field(..., description="once started: the dose by the pump log")


STATE: dict[str, Any] = {"response": SessionOut, "by_alias": True}
"""The routes that answer with the session's state (``may_increase.from`` by its alias)."""


def _state(order_id: Id) -> SessionView:
    return infusions.session_state(get(Order, order_id, "order"), now=timezone.now())


@router.get("/orders/{order_id}/session", **STATE, **rule(*EVERYONE))
def session(request: HttpRequest, order_id: Id) -> SessionView:
    """The infusion session with the vitals checkpoints done, due, overdue or upcoming."""
    return _state(order_id)


@router.post("/orders/{order_id}/check", **STATE, **rule(Role.nurse))
def check(request: HttpRequest, order_id: Id, data: CheckIn) -> SessionView:
    infusions.pre_check(
        request.user, order_id, infusions.CheckAnswers(**data.dict()), now=timezone.now()
    )
    return _state(order_id)


@router.post("/orders/{order_id}/override", **STATE, **rule(Role.prescriber))
def override(request: HttpRequest, order_id: Id, data: CheckOverrideIn) -> SessionView:
    infusions.override(request.user, order_id, data.reason, now=timezone.now())
    return _state(order_id)


@router.post("/orders/{order_id}/start", **STATE, **rule(Role.nurse))
def start(request: HttpRequest, order_id: Id, data: StartIn) -> SessionView:
    infusions.start_infusion(
        request.user,
        order_id,
        data.version,
        data.at,
        visual_inspection_ok=data.visual_inspection_ok,
        visual_inspection_notes=data.visual_inspection_notes,
        administered_by=data.administered_by,
        baseline_vitals_missing_reason=data.baseline_vitals_missing_reason,
        now=timezone.now(),
    )
    return _state(order_id)


def _pump(row: RateChange) -> dict[str, Any]:
    """A pump row, with the session's new version and state (for the next change)."""
    session = InfusionSession.objects.get(pk=row.session_id)
    return {**audit.snapshot(row), "session_version": session.version, "state": session.state}


@router.post("/orders/{order_id}/rates", response={201: dict[str, Any]}, **rule(Role.nurse))
def rate(request: HttpRequest, order_id: Id, data: RateIn) -> Status[dict[str, Any]]:
    """A rate change on the running pump, through the drug library's guards: 422 hard_limit
    (no one can save it), 422 override_required (send ``override``), 409 for an increase too
    early or without vital signs (or ``vitals_missing_reason``), 409 stale_version."""
    row = infusions.record_rate(
        request.user,
        order_id,
        data.version,
        data.at,
        data.rate_ml_per_h,
        vitals_missing_reason=data.vitals_missing_reason,
        override=override_of(data.override),
        now=timezone.now(),
    )
    return Status(201, _pump(row))


@router.post("/orders/{order_id}/resume", response={201: dict[str, Any]}, **rule(Role.nurse))
def resume(request: HttpRequest, order_id: Id, data: ResumeIn) -> Status[dict[str, Any]]:
    """Restart the pump after a reaction, at or below the last tolerated rate (or a stopped
    infusion's restart order)."""
    row = infusions.resume_infusion(
        request.user,
        order_id,
        data.version,
        data.at,
        data.rate_ml_per_h,
        symptoms_resolved=data.symptoms_resolved,
        reason=data.reason,
        now=timezone.now(),
    )
    return Status(201, _pump(row))


@router.post("/orders/{order_id}/restart-order", **STATE, **rule(Role.prescriber))
def restart_order(request: HttpRequest, order_id: Id, data: RestartOrderIn) -> SessionView:
    """A prescriber's new order to restart a stopped infusion today, with its maximum rate."""
    infusions.order_restart(
        request.user,
        order_id,
        data.version,
        data.reason,
        data.max_rate_ml_per_h,
        now=timezone.now(),
    )
    return _state(order_id)


@router.post("/orders/{order_id}/vitals", response={201: dict[str, Any]}, **rule(Role.nurse))
def vitals(request: HttpRequest, order_id: Id, data: VitalsIn) -> Status[dict[str, Any]]:
    values = data.dict()
    at = values.pop("at")
    row = infusions.record_vitals(
        request.user, order_id, at, infusions.VitalsInput(**values), now=timezone.now()
    )
    return Status(201, audit.snapshot(row))


@router.post("/orders/{order_id}/reactions", response={201: dict[str, Any]}, **rule(Role.nurse))
def reaction(request: HttpRequest, order_id: Id, data: ReactionIn) -> Status[dict[str, Any]]:
    """A suspected reaction: the pump pauses (a second or severe one stops it for the day)."""
    row = infusions.record_reaction(
        request.user,
        order_id,
        data.version,
        data.at,
        data.symptoms,
        data.action_taken,
        severity=data.severity,
        medicines_given=data.medicines_given,
        now=timezone.now(),
    )
    session = InfusionSession.objects.get(pk=row.session_id)
    return Status(
        201,
        {**audit.snapshot(row), "session_version": session.version, "state": session.state},
    )


@router.get("/tasks", response=list[TaskOut], **rule(Role.prescriber))
def tasks(request: HttpRequest) -> list[TaskView]:
    """The prescriber's tasks not yet acknowledged (reaction medicines given under protocol)."""
    return [infusions.task_view(t) for t in infusions.open_tasks(request.user)]


@router.post("/tasks/{task_id}/acknowledge", response=TaskOut, **rule(Role.prescriber))
def acknowledge(request: HttpRequest, task_id: Id, data: AcknowledgeIn) -> TaskView:
    """Acknowledge a task, with a note (once: 409 after)."""
    decision = premedication.Decision(data.ramp, data.premedicate, data.note) if data.ramp else None
    task = infusions.acknowledge_task(
        request.user, task_id, data.note, decision=decision, now=timezone.now()
    )
    return infusions.task_view(task)


@router.post("/orders/{order_id}/end", **STATE, **rule(Role.nurse))
def end(request: HttpRequest, order_id: Id, data: EndIn) -> SessionView:
    """The end, with the volume given: its grams count toward the 28-day cap."""
    infusions.end_infusion(
        request.user,
        order_id,
        data.at,
        volume_given_ml=data.volume_given_ml,
        short_confirmed=data.short_confirmed,
        short_reason=data.short_reason,
        now=timezone.now(),
    )
    return _state(order_id)


@router.post("/orders/{order_id}/observation", **STATE, **rule(Role.nurse))
def observation(request: HttpRequest, order_id: Id, data: ObservationIn) -> SessionView:
    infusions.finish_observation(
        request.user, order_id, data.version, data.at, data.notes, now=timezone.now()
    )
    return _state(order_id)


@router.get("/patients/{patient_id}/outcomes", **rule(*EVERYONE))
def list_outcomes(request: HttpRequest, patient_id: Id) -> list[dict[str, Any]]:
    return outcomes.outcome_series(get(Patient, patient_id, "patient"))


@router.post(
    "/patients/{patient_id}/outcomes",
    response={201: dict[str, Any]},
    **rule(Role.prescriber, Role.nurse),
)
def record_outcome(request: HttpRequest, patient_id: Id, data: OutcomeIn) -> Status[Any]:
    row = outcomes.record_outcome(
        request.user,
        patient_id,
        data.measure,
        data.value,
        data.measured_on,
        today=timezone.localdate(),
    )
    return Status(201, audit.snapshot(row))
