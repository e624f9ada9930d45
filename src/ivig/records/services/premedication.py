"""What carries from one infusion to the next (issue 16 item 6): premedication ordered by the
prescriber (a medicine, dose, route and when: "paracetamol 1 g oral 30 min before") for one
infusion or the rest of a course, premedication given by the nurse at its clinical time, and
the prescriber's decision after a reaction: the same ramp, or a slower ramp capped at the rate
tolerated (the pump's rate guard then refuses above it at every later infusion of the patient:
``rate_cap``; ``infusions.pump.guard_rate``), with or without premedication. Each write is
audited. A decision marks the patient's open courses whose doses it changes "re-plan needed"
(``replan_needed.check_patient``): the re-plan takes the cap as a ramp input (``ceiling``), so
the steps, the expected end, the checkpoints and the booking's length follow it.

Sources: the product labels' infusion-reaction advice (restart at a lower rate, premedicate with
an antipyretic or antihistamine; AHFS immune globulin monograph) and the protocol's last
tolerated rate (requirement 62; ``core.monitoring``) as the cap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ivig.errors import Conflict, InvalidInput, InvalidTime, NotFound
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import (
    Course,
    Order,
    OrderStatus,
    PremedicationGiven,
    PremedicationOrder,
    RampDecision,
    RateChange,
    Reaction,
    ReactionDecision,
    Role,
)
from ivig.records.services.access import require
from ivig.records.services.ceiling import words
from ivig.records.services.common import CLOCK_SKEW, locked
from ivig.records.services.corrections import current
from ivig.records.services.replan_needed import check_patient

__all__ = [
    "Decision",
    "PremedicationInput",
    "PreviousReaction",
    "RateCap",
    "decide",
    "described",
    "given_for",
    "last_reaction",
    "order_premedication",
    "premedications_for",
    "rate_cap",
    "reactions_of",
    "record_given",
]

OPEN = (OrderStatus.planned, OrderStatus.verified, OrderStatus.dispensed, OrderStatus.in_progress)


@dataclass(frozen=True, slots=True)
class PremedicationInput:
    """A premedication order as the prescriber writes it."""

    medicine: str
    dose: str
    route: str
    timing: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """The prescriber's decision after a reaction: ``ramp`` is ``same`` or ``capped`` (at the
    tolerated rate, or a lower ``max_ml_per_h``); ``premedicate`` says premedication is
    ordered for the next infusions."""

    ramp: str
    premedicate: bool = False
    note: str = ""
    max_ml_per_h: float | None = None


@dataclass(frozen=True, slots=True)
class PreviousReaction:
    """The last reaction at an earlier infusion of the patient, as the next run sheet shows it."""

    reaction: Reaction
    order: Order
    rate_ml_per_h: float | None  # on the pump when it began
    tolerated_ml_per_h: float | None
    decision: ReactionDecision | None

    @property
    def symptoms(self) -> str:
        """The symptoms in words: ``chest-tightness`` -> ``chest tightness``."""
        return ", ".join(str(s).replace("-", " ") for s in self.reaction.symptoms)


@dataclass(frozen=True, slots=True)
class RateCap:
    """The highest rate of an infusion after a reaction, by the prescriber's decision."""

    max_ml_per_h: float
    reaction_on: dt.date
    decision: ReactionDecision

    @property
    def why(self) -> str:
        return f"the prescriber's cap after the reaction on {self.reaction_on.isoformat()}"


def _text(value: str, field: str, what: str, most: int) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"give the {what}", field=field)
    if len(value) > most:
        raise InvalidInput(f"the {what} is at most {most} characters", field=field)
    return value


def order_premedication(
    actor: Actor,
    course_id: int,
    data: PremedicationInput,
    *,
    order_id: int | None = None,
    now: dt.datetime,
) -> PremedicationOrder:
    """A prescriber orders premedication for one infusion of the course (``order_id``) or for
    every infusion of the course from today on."""
    actor = require(actor, "ordering premedication", Role.prescriber)
    fields = {
        "medicine": _text(data.medicine, "medicine", "medicine", 100),
        "dose": _text(data.dose, "dose", "dose", 40),
        "route": _text(data.route, "route", "route", 40),
        "timing": _text(data.timing, "timing", "time to give it", 100),
    }
    with transaction.atomic():
        course = locked(Course, course_id, "course")
        order = None
        if order_id is not None:
            order = Order.objects.filter(pk=order_id, course=course).first()
            if order is None:
                raise NotFound("order", order_id)
        later = course.orders.filter(status__in=OPEN)
        today = timezone.localdate(now)
        if order is not None and order.status not in OPEN:
            raise Conflict(f"order {order.pk} is {order.status}: nothing to premedicate")
        if order is None and not later.filter(date__gte=today).exists():
            raise Conflict(f"course {course.pk} has no infusion left to premedicate")
        row = PremedicationOrder.objects.create(
            patient_id=course.patient_id,
            course=course,
            order=order,
            from_date=order.date if order is not None else today,
            reason=data.reason.strip(),
            prescribed_by=actor,
            prescribed_at=now,
            **fields,
        )
        audit.created(actor, "premedication", row, patient_id=course.patient_id)
    return row


def premedications_for(order: Order) -> QuerySet[PremedicationOrder]:
    """The premedication ordered for ``order``: for it alone, or for its course from a date on
    or before it."""
    return (
        PremedicationOrder.objects.filter(
            Q(order=order)
            | Q(order__isnull=True, course_id=order.course_id, from_date__lte=order.date)
        )
        .select_related("prescribed_by")
        .order_by("prescribed_at", "id")
    )


def given_for(order: Order) -> QuerySet[PremedicationGiven]:
    """The premedication given before ``order``, in time order."""
    return (
        PremedicationGiven.objects.filter(order=order)
        .select_related("premedication", "given_by")
        .order_by("at", "id")
    )


def record_given(
    actor: Actor,
    order_id: int,
    premedication_id: int,
    at: dt.datetime,
    *,
    note: str = "",
    now: dt.datetime,
) -> PremedicationGiven:
    """A nurse records a premedication given before the infusion of ``order_id``, at ``at``
    (not in the future, not before the order's day), once per order."""
    actor = require(actor, "recording premedication given", Role.nurse)
    if at.tzinfo is None:
        raise InvalidInput("give the time with its time zone", field="at")
    if at > now + CLOCK_SKEW:
        raise InvalidTime("the time given is in the future", field="at")
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        premedication = premedications_for(order).filter(pk=premedication_id).first()
        if premedication is None:
            raise NotFound("premedication order", premedication_id)
        if order.status not in OPEN:
            raise Conflict(f"order {order.pk} is {order.status}: premedication is not recorded")
        if timezone.localtime(at).date() != order.date:
            raise InvalidTime(
                f"premedication for the infusion on {order.date.isoformat()} is given that day",
                field="at",
            )
        if PremedicationGiven.objects.filter(order=order, premedication=premedication).exists():
            raise Conflict(
                f"{premedication.medicine} is recorded as given for this infusion already",
                field="premedication",
            )
        row = PremedicationGiven.objects.create(
            premedication=premedication, order=order, at=at, note=note.strip(), given_by=actor,
            recorded_at=now,
        )  # fmt: skip
        audit.created(actor, "premedication-given", row, patient_id=order.patient_id)
    return row


def _reactions_before(order: Order) -> QuerySet[Reaction]:
    """The patient's reactions in force at infusions before ``order``'s day, the latest first."""
    return current(
        Reaction.objects.filter(
            session__order__patient_id=order.patient_id, session__order__date__lt=order.date
        )
    ).order_by("-at", "-id")


def _tolerated(reaction: Reaction) -> float | None:
    advice = reaction.recommended or {}
    limit = advice.get("last_tolerated_ml_per_h", advice.get("restart_max_ml_per_h"))
    return float(limit) if limit is not None else None


def _rate_at(reaction: Reaction) -> float | None:
    row = (
        RateChange.objects.filter(
            session_id=reaction.session_id, at__lte=reaction.at, rate_ml_per_h__gt=0
        )
        .order_by("-at", "-id")
        .first()
    )
    return row.rate_ml_per_h if row else None


def _decision(reaction: Reaction) -> ReactionDecision | None:
    return ReactionDecision.objects.filter(reaction=reaction).select_related("decided_by").first()


def last_reaction(order: Order) -> PreviousReaction | None:
    """The last reaction at an earlier infusion of the patient, with the rate on the pump when
    it began, the rate tolerated and the prescriber's decision (``None``: none recorded)."""
    reaction = _reactions_before(order).select_related("session__order").first()
    return None if reaction is None else described(reaction)


def described(reaction: Reaction) -> PreviousReaction:
    """A reaction with its infusion, the rate on the pump when it began, the rate tolerated
    and the prescriber's decision."""
    return PreviousReaction(
        reaction=reaction,
        order=reaction.session.order,
        rate_ml_per_h=_rate_at(reaction),
        tolerated_ml_per_h=_tolerated(reaction),
        decision=_decision(reaction),
    )


def reactions_of(patient_id: int) -> list[PreviousReaction]:
    """Every reaction in force of the patient, the latest first, each described."""
    rows = current(Reaction.objects.filter(session__order__patient_id=patient_id))
    return [described(r) for r in rows.select_related("session__order").order_by("-at", "-id")]


def rate_cap(order: Order) -> RateCap | None:
    """The cap on ``order``'s rates: the latest decision after a reaction at an earlier
    infusion, when it is a ramp capped at the tolerated rate (a later "same ramp" lifts it)."""
    decision = (
        ReactionDecision.objects.filter(reaction__in=_reactions_before(order))
        .select_related("reaction__session__order")
        .order_by("-reaction__at", "-id")
        .first()
    )
    if decision is None or decision.ramp != RampDecision.capped or decision.max_ml_per_h is None:
        return None
    return RateCap(decision.max_ml_per_h, decision.reaction.session.order.date, decision)


def decide(
    actor: Actor, reaction_id: int, decision: Decision, *, now: dt.datetime
) -> ReactionDecision:
    """The prescriber's decision for the infusions after a reaction, once per reaction: the
    same ramp, or a ramp capped at the tolerated rate (or lower); premedication or not."""
    actor = require(actor, "deciding after a reaction", Role.prescriber)
    if decision.ramp not in RampDecision.values:
        raise InvalidInput("the ramp is 'same' or 'capped'", field="ramp")
    with transaction.atomic():
        reaction = current(Reaction.objects.filter(pk=reaction_id)).first()
        if reaction is None:
            raise NotFound("reaction", reaction_id)
        earlier = _decision(reaction)
        if earlier is not None:
            raise Conflict(
                f"the decision after this reaction was recorded already by {earlier.decided_by}",
                field="reaction",
            )
        cap = None
        if decision.ramp == RampDecision.capped:
            tolerated = _tolerated(reaction)
            cap = decision.max_ml_per_h if decision.max_ml_per_h is not None else tolerated
            if cap is None or not cap > 0:
                raise InvalidInput(
                    "no tolerated rate is known for this reaction: give the maximum rate",
                    field="max_ml_per_h",
                )
            if tolerated is not None and cap > tolerated + 1e-9:
                raise InvalidInput(
                    f"the cap is at most the tolerated {tolerated:g} mL/h", field="max_ml_per_h"
                )
        order = Order.objects.get(session__pk=reaction.session_id)
        row = ReactionDecision.objects.create(
            reaction=reaction, patient_id=order.patient_id, ramp=decision.ramp,
            max_ml_per_h=cap, premedicate=decision.premedicate, note=decision.note.strip(),
            decided_by=actor, decided_at=now,
        )  # fmt: skip
        audit.created(actor, "reaction-decision", row, patient_id=order.patient_id)
        why = (
            words(cap, order.date)
            if cap is not None
            else f"the prescriber's decision after the reaction of {order.date.isoformat()}: "
            "the same ramp"
        )
        check_patient(actor, order.patient_id, why)  # the later doses follow the decision
    return row
