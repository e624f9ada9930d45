"""At the chair: pre-infusion check, override, start, rates, vitals, reactions, end, observation;
and outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Status

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import In, Versioned
from ivig.records import audit
from ivig.records.models import Order, Patient, Role
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
    pass


class RateIn(AtIn):
    rate_ml_per_h: float = Field(..., description="mL/h")


class VitalsIn(AtIn):
    temperature_c: float | None = None
    pulse_per_min: int | None = None
    systolic_mm_hg: int | None = None
    diastolic_mm_hg: int | None = None
    respiratory_rate_per_min: int | None = None
    spo2_percent: int | None = None


class ReactionIn(AtIn):
    symptoms: list[str] = Field(..., min_length=1)
    severity: str | None = None
    action_taken: str = Field(..., min_length=1)


class ObservationIn(Versioned, AtIn):
    notes: str = ""


class OutcomeIn(In):
    measure: str
    value: float
    measured_on: dt.date


def _state(order_id: int) -> dict[str, Any]:
    return infusions.session_state(get(Order, order_id, "order"), now=timezone.now())


@router.get("/orders/{order_id}/session", **rule(*EVERYONE))
def session(request: HttpRequest, order_id: int) -> dict[str, Any]:
    """The infusion session with the vitals checkpoints done, due, overdue or upcoming."""
    return _state(order_id)


@router.post("/orders/{order_id}/check", **rule(Role.nurse))
def check(request: HttpRequest, order_id: int, data: CheckIn) -> dict[str, Any]:
    infusions.pre_check(
        request.user, order_id, infusions.CheckAnswers(**data.dict()), now=timezone.now()
    )
    return _state(order_id)


@router.post("/orders/{order_id}/override", **rule(Role.prescriber))
def override(request: HttpRequest, order_id: int, data: OverrideIn) -> dict[str, Any]:
    infusions.override(request.user, order_id, data.reason, now=timezone.now())
    return _state(order_id)


@router.post("/orders/{order_id}/start", **rule(Role.nurse))
def start(request: HttpRequest, order_id: int, data: StartIn) -> dict[str, Any]:
    infusions.start_infusion(request.user, order_id, data.version, data.at, now=timezone.now())
    return _state(order_id)


@router.post("/orders/{order_id}/rates", response={201: dict[str, Any]}, **rule(Role.nurse))
def rate(request: HttpRequest, order_id: int, data: RateIn) -> Status[dict[str, Any]]:
    row = infusions.record_rate(
        request.user, order_id, data.at, data.rate_ml_per_h, now=timezone.now()
    )
    return Status(201, audit.snapshot(row))


@router.post("/orders/{order_id}/vitals", response={201: dict[str, Any]}, **rule(Role.nurse))
def vitals(request: HttpRequest, order_id: int, data: VitalsIn) -> Status[dict[str, Any]]:
    values = data.dict()
    at = values.pop("at")
    row = infusions.record_vitals(
        request.user, order_id, at, infusions.VitalsInput(**values), now=timezone.now()
    )
    return Status(201, audit.snapshot(row))


@router.post("/orders/{order_id}/reactions", response={201: dict[str, Any]}, **rule(Role.nurse))
def reaction(request: HttpRequest, order_id: int, data: ReactionIn) -> Status[dict[str, Any]]:
    row = infusions.record_reaction(
        request.user,
        order_id,
        data.at,
        data.symptoms,
        data.action_taken,
        severity=data.severity,
        now=timezone.now(),
    )
    return Status(201, audit.snapshot(row))


@router.post("/orders/{order_id}/end", **rule(Role.nurse))
def end(request: HttpRequest, order_id: int, data: AtIn) -> dict[str, Any]:
    infusions.end_infusion(request.user, order_id, data.at, now=timezone.now())
    return _state(order_id)


@router.post("/orders/{order_id}/observation", **rule(Role.nurse))
def observation(request: HttpRequest, order_id: int, data: ObservationIn) -> dict[str, Any]:
    infusions.finish_observation(
        request.user, order_id, data.version, data.at, data.notes, now=timezone.now()
    )
    return _state(order_id)


@router.get("/patients/{patient_id}/outcomes", **rule(*EVERYONE))
def list_outcomes(request: HttpRequest, patient_id: int) -> list[dict[str, Any]]:
    return outcomes.outcome_series(get(Patient, patient_id, "patient"))


@router.post(
    "/patients/{patient_id}/outcomes",
    response={201: dict[str, Any]},
    **rule(Role.prescriber, Role.nurse),
)
def record_outcome(request: HttpRequest, patient_id: int, data: OutcomeIn) -> Status[Any]:
    row = outcomes.record_outcome(
        request.user,
        patient_id,
        data.measure,
        data.value,
        data.measured_on,
        today=timezone.localdate(),
    )
    return Status(201, audit.snapshot(row))
