"""At the chair: pre-infusion check, override, start, guarded rates, vitals, reactions (pause,
resume, a prescriber's restart order, tasks), end, observation; and outcomes.

In the bodies of ``rates``, ``resume``, ``reactions`` and ``restart-order``, ``version`` is the
infusion session's version (``GET /api/orders/{id}/session`` -> ``version``); in ``start`` and
``observation`` it is the order's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Status

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import Id, In, Versioned, override_of
from ivig.api.schemas import OverrideIn as SoftOverrideIn
from ivig.records import audit
from ivig.records.models import InfusionSession, Order, Patient, RateChange, Role
from ivig.records.services import infusions, outcomes
from ivig.records.services.common import get

router = Router(tags=["infusions"])


class CheckIn(In):
    infection: bool
    fever: bool
    feeling_unwell: bool
    hydrated: bool
    notes: str = ""


class OverrideIn(In):
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


class RateIn(Versioned, AtIn):
    """``version``: the infusion session's version (``GET .../session``: ``version``)."""

    rate_ml_per_h: float = Field(..., description="mL/h")
    vitals_missing_reason: str = Field(
        "", max_length=2000, description="why no vital signs were taken before an increase"
    )
    override: SoftOverrideIn | None = None  # a coded, signed override (requirement 47)


class ResumeIn(Versioned, AtIn):
    """``version``: the infusion session's version."""

    rate_ml_per_h: float = Field(..., description="mL/h")


class RestartOrderIn(Versioned):
    """``version``: the infusion session's version."""

    reason: str = Field(..., min_length=1, max_length=2000)
    max_rate_ml_per_h: float = Field(..., gt=0, description="mL/h")


class VitalsIn(AtIn):
    temperature_c: float | None = None
    pulse_per_min: int | None = None
    systolic_mm_hg: int | None = None
    diastolic_mm_hg: int | None = None
    respiratory_rate_per_min: int | None = None
    spo2_percent: int | None = None


class ReactionIn(Versioned, AtIn):
    """``version``: the infusion session's version."""

    symptoms: list[str] = Field(..., min_length=1)
    severity: str | None = None
    action_taken: str = Field(..., min_length=1)
    medicines_given: str = Field("", max_length=2000)


class AcknowledgeIn(In):
    note: str = Field(..., min_length=1, max_length=2000)


class ObservationIn(Versioned, AtIn):
    notes: str = ""


class OutcomeIn(In):
    measure: str
    value: float
    measured_on: dt.date


def _state(order_id: Id) -> dict[str, Any]:
    return infusions.session_state(get(Order, order_id, "order"), now=timezone.now())


@router.get("/orders/{order_id}/session", **rule(*EVERYONE))
def session(request: HttpRequest, order_id: Id) -> dict[str, Any]:
    """The infusion session with the vitals checkpoints done, due, overdue or upcoming."""
    return _state(order_id)


@router.post("/orders/{order_id}/check", **rule(Role.nurse))
def check(request: HttpRequest, order_id: Id, data: CheckIn) -> dict[str, Any]:
    infusions.pre_check(
        request.user, order_id, infusions.CheckAnswers(**data.dict()), now=timezone.now()
    )
    return _state(order_id)


@router.post("/orders/{order_id}/override", **rule(Role.prescriber))
def override(request: HttpRequest, order_id: Id, data: OverrideIn) -> dict[str, Any]:
    infusions.override(request.user, order_id, data.reason, now=timezone.now())
    return _state(order_id)


@router.post("/orders/{order_id}/start", **rule(Role.nurse))
def start(request: HttpRequest, order_id: Id, data: StartIn) -> dict[str, Any]:
    infusions.start_infusion(
        request.user,
        order_id,
        data.version,
        data.at,
        visual_inspection_ok=data.visual_inspection_ok,
        visual_inspection_notes=data.visual_inspection_notes,
        administered_by=data.administered_by,
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
        request.user, order_id, data.version, data.at, data.rate_ml_per_h, now=timezone.now()
    )
    return Status(201, _pump(row))


@router.post("/orders/{order_id}/restart-order", **rule(Role.prescriber))
def restart_order(request: HttpRequest, order_id: Id, data: RestartOrderIn) -> dict[str, Any]:
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


@router.get("/tasks", **rule(Role.prescriber))
def tasks(request: HttpRequest) -> list[dict[str, Any]]:
    """The prescriber's tasks not yet acknowledged (reaction medicines given under protocol)."""
    return [infusions.task_dict(t) for t in infusions.open_tasks(request.user)]


@router.post("/tasks/{task_id}/acknowledge", **rule(Role.prescriber))
def acknowledge(request: HttpRequest, task_id: Id, data: AcknowledgeIn) -> dict[str, Any]:
    """Acknowledge a task, with a note (once: 409 after)."""
    task = infusions.acknowledge_task(request.user, task_id, data.note, now=timezone.now())
    return infusions.task_dict(task)


@router.post("/orders/{order_id}/end", **rule(Role.nurse))
def end(request: HttpRequest, order_id: Id, data: AtIn) -> dict[str, Any]:
    infusions.end_infusion(request.user, order_id, data.at, now=timezone.now())
    return _state(order_id)


@router.post("/orders/{order_id}/observation", **rule(Role.nurse))
def observation(request: HttpRequest, order_id: Id, data: ObservationIn) -> dict[str, Any]:
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
