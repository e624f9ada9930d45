"""Serum creatinine results: dated, with their unit, append-only (issue 14 item 5).

A result is recorded like a weight (the prescriber, the nurse or the admin; audited in the same
transaction) and corrected only by a new entry (``corrections``). The latest result in force is
the renal function of every plan made from the records (``courses``); the plan warns when there
is none, or when it is older at the first dose than the service's limit
(``IVIG_CREATININE_MAX_AGE_DAYS``, :func:`max_age_days`).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction

from ivig.core.renal import creatinine_mg_dl, creatinine_unit
from ivig.errors import InvalidInput
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.models import CreatinineResult, Patient, Role
from ivig.records.services.access import require
from ivig.records.services.common import get
from ivig.records.services.corrections import current

__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "add_creatinine",
    "check_creatinine",
    "latest_creatinine",
    "max_age_days",
]

# The default of IVIG_CREATININE_MAX_AGE_DAYS (server/config.py says why).
DEFAULT_MAX_AGE_DAYS = 90

ROLES = (Role.prescriber, Role.nurse, Role.admin)


def max_age_days() -> int:
    """The service's limit on the age of a creatinine result at the first dose."""
    return int(getattr(settings, "IVIG_CREATININE_MAX_AGE_DAYS", DEFAULT_MAX_AGE_DAYS))


def check_creatinine(
    value: float, unit: object, measured_on: dt.date, born: dt.date, today: dt.date
) -> str:
    """Refuse a result the core would refuse (its unit missing or unknown, a value implausible
    for its unit) or dated in the future or before birth; the unit, as stored."""
    given = creatinine_unit(unit, field="unit")
    creatinine_mg_dl(value, given, field="value")
    if measured_on > today:
        raise InvalidInput("a creatinine cannot be measured in the future", field="measured_on")
    if measured_on < born:
        raise InvalidInput(
            "a creatinine cannot be measured before the date of birth", field="measured_on"
        )
    return given.value


def add_creatinine(
    actor: Actor,
    patient_id: int,
    measured_on: dt.date,
    value: float,
    unit: str,
    *,
    today: dt.date,
) -> CreatinineResult:
    """Record a serum creatinine with its unit and date (audited: ``create creatinine``)."""
    actor = require(actor, "recording a creatinine result", *ROLES)
    with transaction.atomic():
        patient = get(Patient, patient_id, "patient")
        stored = check_creatinine(value, unit, measured_on, patient.date_of_birth, today)
        record = CreatinineResult.objects.create(
            patient=patient,
            measured_on=measured_on,
            value=float(value),
            unit=stored,
            recorded_by=actor,
        )
        audit.created(actor, "creatinine", record, patient_id=patient.pk)
        from ivig.records.services import replan_needed  # it plans with courses, which reads us

        replan_needed.check_patient(
            actor,
            patient.pk,
            f"creatinine recorded: {record.value:g} {record.unit} on "
            f"{record.measured_on.isoformat()}",
        )
    return record


def latest_creatinine(patient: Patient) -> CreatinineResult | None:
    """The latest result in force: a corrected or voided one is never used."""
    return current(patient.creatinine_results.all()).order_by("-measured_on", "-id").first()
