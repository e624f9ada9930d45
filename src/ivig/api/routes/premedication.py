"""What carries to the next dose (issue 16 item 6): premedication ordered (prescriber) and
given (nurse), the last reaction at an earlier infusion with the prescriber's decision, and the
decision itself (the same ramp, or a ramp capped at the tolerated rate; premedication)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema

from ivig.api.auth import EVERYONE, rule
from ivig.api.schemas import Id, In
from ivig.records.models import (
    Order,
    PremedicationGiven,
    PremedicationOrder,
    ReactionDecision,
    Role,
)
from ivig.records.services import premedication
from ivig.records.services.common import get

router = Router(tags=["premedication"])


class PremedicationIn(In):
    order_id: int | None = Field(
        None, ge=1, description="one infusion of the course; empty: every one from today"
    )
    medicine: str = Field(..., min_length=1, max_length=100)
    dose: str = Field(..., min_length=1, max_length=40, description="e.g. 1 g")
    route: str = Field(..., min_length=1, max_length=40, description="e.g. oral")
    timing: str = Field(..., min_length=1, max_length=100, description="e.g. 30 min before")
    reason: str = Field("", max_length=2000)


class PremedicationOut(Schema):
    id: int
    course_id: int
    order_id: int | None
    from_date: dt.date
    medicine: str
    dose: str
    route: str
    timing: str
    reason: str
    prescribed_by: int = Field(..., description="the user id")
    prescribed_at: dt.datetime


class GivenIn(In):
    premedication_id: int = Field(..., ge=1)
    at: dt.datetime = Field(..., description="when it was given, with its time zone")
    note: str = Field("", max_length=2000)


class GivenOut(Schema):
    id: int
    premedication_id: int
    order_id: int
    at: dt.datetime
    note: str
    given_by: int = Field(..., description="the user id")


class DecisionIn(In):
    ramp: str = Field(..., pattern="^(same|capped)$", description="same or capped")
    premedicate: bool = False
    note: str = Field("", max_length=2000)
    max_ml_per_h: float | None = Field(
        None, gt=0, description="the cap; empty: the rate tolerated at the reaction"
    )


class DecisionOut(Schema):
    reaction_id: int
    ramp: str
    max_ml_per_h: float | None
    premedicate: bool
    note: str
    decided_by: int = Field(..., description="the user id")
    decided_at: dt.datetime


class LastReactionOut(Schema):
    reaction_id: int
    order_id: int
    date: dt.date
    at: dt.datetime
    severity: str
    symptoms: list[str]
    rate_ml_per_h: float | None = Field(..., description="on the pump when it began")
    tolerated_ml_per_h: float | None
    decision: DecisionOut | None


class OrderPremedicationOut(Schema):
    ordered: list[PremedicationOut]
    given: list[GivenOut]
    last_reaction: LastReactionOut | None
    cap_ml_per_h: float | None = Field(..., description="the rate guard refuses above it")


def _premedication(row: PremedicationOrder) -> dict[str, Any]:
    return {
        "id": row.pk, "course_id": row.course_id, "order_id": row.order_id,
        "from_date": row.from_date, "medicine": row.medicine, "dose": row.dose,
        "route": row.route, "timing": row.timing, "reason": row.reason,
        "prescribed_by": row.prescribed_by_id, "prescribed_at": row.prescribed_at,
    }  # fmt: skip


def _given(row: PremedicationGiven) -> dict[str, Any]:
    return {"id": row.pk, "premedication_id": row.premedication_id, "order_id": row.order_id,
            "at": row.at, "note": row.note, "given_by": row.given_by_id}  # fmt: skip


def _decision(row: ReactionDecision | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"reaction_id": row.reaction_id, "ramp": row.ramp, "max_ml_per_h": row.max_ml_per_h,
            "premedicate": row.premedicate, "note": row.note, "decided_by": row.decided_by_id,
            "decided_at": row.decided_at}  # fmt: skip


@router.get("/orders/{order_id}/premedication", response=OrderPremedicationOut, **rule(*EVERYONE))
def for_order(request: HttpRequest, order_id: Id) -> dict[str, Any]:
    """The premedication ordered for an infusion and given, the last reaction at an earlier
    infusion of the patient with the prescriber's decision, and the cap on the rates."""
    order = get(Order, order_id, "order")
    last = premedication.last_reaction(order)
    cap = premedication.rate_cap(order)
    return {
        "ordered": [_premedication(p) for p in premedication.premedications_for(order)],
        "given": [_given(g) for g in premedication.given_for(order)],
        "last_reaction": None
        if last is None
        else {
            "reaction_id": last.reaction.pk,
            "order_id": last.order.pk,
            "date": last.order.date,
            "at": last.reaction.at,
            "severity": last.reaction.severity,
            "symptoms": list(last.reaction.symptoms),
            "rate_ml_per_h": last.rate_ml_per_h,
            "tolerated_ml_per_h": last.tolerated_ml_per_h,
            "decision": _decision(last.decision),
        },
        "cap_ml_per_h": cap.max_ml_per_h if cap else None,
    }


@router.post(
    "/courses/{course_id}/premedication", response=PremedicationOut, **rule(Role.prescriber)
)
def order(request: HttpRequest, course_id: Id, data: PremedicationIn) -> dict[str, Any]:
    """Order premedication for one infusion of the course, or every one from today."""
    given = premedication.PremedicationInput(
        data.medicine, data.dose, data.route, data.timing, data.reason
    )
    row = premedication.order_premedication(
        request.user, course_id, given, order_id=data.order_id, now=timezone.now()
    )
    return _premedication(row)


@router.post("/orders/{order_id}/premedication/given", response=GivenOut, **rule(Role.nurse))
def given(request: HttpRequest, order_id: Id, data: GivenIn) -> dict[str, Any]:
    """Premedication given before the infusion, at its time (that day; once each)."""
    row = premedication.record_given(
        request.user, order_id, data.premedication_id, data.at, note=data.note,
        now=timezone.now(),
    )  # fmt: skip
    return _given(row)


@router.post("/reactions/{entry_id}/decision", response=DecisionOut, **rule(Role.prescriber))
def decide(request: HttpRequest, entry_id: Id, data: DecisionIn) -> dict[str, Any] | None:
    """The decision for the infusions after a reaction (once): ``capped`` makes the rate guard
    refuse above the cap at every later infusion of the patient."""
    decision = premedication.Decision(data.ramp, data.premedicate, data.note, data.max_ml_per_h)
    row = premedication.decide(request.user, entry_id, decision, now=timezone.now())
    return _decision(row)
