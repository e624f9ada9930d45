"""Before the start: the nurse's pre-infusion check (the screening again on the day, with the
nurse's answers) and a prescriber's override of a blocking finding (issue 3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction

from ivig.core.screening import ScreeningInput, assess_risks, screen
from ivig.core.weights import Sex
from ivig.errors import Conflict, InvalidInput
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import InfusionSession, Order, OrderStatus, Role
from ivig.records.services.access import require
from ivig.records.services.common import locked
from ivig.records.services.infusions._common import blocking_findings, change, history
from ivig.records.services.patients import age_on, screening_codes

__all__ = ["CheckAnswers", "override", "pre_check"]


@dataclass(frozen=True, slots=True)
class CheckAnswers:
    """The nurse's questions before starting (issue 3)."""

    infection: bool
    fever: bool
    feeling_unwell: bool
    hydrated: bool
    notes: str = ""


def _session(order: Order) -> InfusionSession:
    """The order's session, made at its first check."""
    session, _ = InfusionSession.objects.get_or_create(order=order)
    return session


def _egfr_and_bmi(patient: Any, age: int) -> tuple[float | None, float | None]:
    """The eGFR from the latest creatinine result in force and the BMI from the latest weight,
    for the screening on the day as for the plan (issue 14 items 4 and 5); None when not known
    or not computable (CKD-EPI is for adults: a child's eGFR is the prescriber's to give)."""
    from ivig.core.renal import renal_function
    from ivig.core.weights import bmi
    from ivig.errors import IvigError
    from ivig.records.services.patients import latest_weight
    from ivig.records.services.renal import latest_creatinine

    egfr = None
    result = latest_creatinine(patient)
    if result is not None:
        try:
            egfr = renal_function(
                egfr=None, creatinine=result.value, unit=result.unit, age=age,
                sex=Sex(patient.sex), measured_on=result.measured_on,
            ).egfr  # fmt: skip
        except IvigError:
            egfr = None
    weight = latest_weight(patient)
    index = bmi(weight.weight_kg, patient.height_cm) if weight is not None else None
    return egfr, index


def pre_check(
    actor: Actor, order_id: int, answers: CheckAnswers, *, now: dt.datetime
) -> InfusionSession:
    """Screen again on the day, with the nurse's answers; store the findings."""
    actor = require(actor, "the pre-infusion check", Role.nurse)
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        if order.status != OrderStatus.dispensed:
            raise Conflict(f"order {order.pk} is {order.status}: check a dispensed order")
        patient = order.patient
        catalogue = current_library().catalogue
        codes = screening_codes(patient)
        if answers.infection:
            codes.add("active-infection")
        if answers.fever:
            codes.add("fever")
        first, previous, last = history(order)
        age = age_on(patient.date_of_birth, order.date)
        egfr, bmi = _egfr_and_bmi(patient, age)
        risks = assess_risks(codes, age=age, egfr=egfr, catalogue=catalogue, bmi=bmi)
        findings = screen(
            ScreeningInput(
                risks=risks,
                product=catalogue.product(order.course.product_id),
                first_infusion=first,
                previous_product=catalogue.product(previous) if previous else None,
                last_infusion=last,
                first_dose=order.date,
                sex=Sex(patient.sex),
            ),
            catalogue,
        )
        rows = [
            {"code": f.code, "severity": f.severity.value, "message": f.message, "source": f.source}
            for f in findings
        ]
        if answers.feeling_unwell:
            rows.append(
                {
                    "code": "feeling-unwell",
                    "severity": "warn",
                    "source": "nurse",
                    "message": "the patient feels unwell today: review before starting",
                }
            )
        if not answers.hydrated:
            rows.append(
                {
                    "code": "not-hydrated",
                    "severity": "warn",
                    "source": "nurse",
                    "message": "hydrate before the infusion (boxed warning: renal risk)",
                }
            )
        session = _session(order)
        session = change(
            actor, "pre-check", session, order,
            check_answers=asdict(answers), check_findings=rows, checked_by=actor,
            checked_at=now, override_reason="", override_by=None, override_at=None,
        )  # fmt: skip
    return session


def override(actor: Actor, order_id: int, reason: str, *, now: dt.datetime) -> InfusionSession:
    """A prescriber's decision to go ahead despite a blocking finding, with the reason."""
    actor = require(actor, "overriding a blocking finding", Role.prescriber)
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    with transaction.atomic():
        order = locked(Order, order_id, "order")
        session = InfusionSession.objects.filter(order=order).first()
        if session is None or session.checked_at is None:
            raise Conflict("the pre-infusion check has not been done")
        if not blocking_findings(session):
            raise Conflict("no blocking finding stands: there is nothing to override")
        session = change(
            actor, "override", session, order, reason=reason.strip(),
            override_reason=reason.strip(), override_by=actor, override_at=now,
        )  # fmt: skip
    return session
