"""Outcome measures over time: each new value is classified against the patient's baseline
(the first value of that measure) by the clinical core (3TUG more than 20 %, QMG 3 points,
MG-ADL and MRC 2 points; sources in the library's outcomes.toml)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from django.db import transaction

from ivig.core.outcomes import OutcomeMeasure, check_score, classify_change
from ivig.errors import InvalidInput
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import Outcome, Patient, Role
from ivig.records.services.access import require
from ivig.records.services.common import get
from ivig.records.services.corrections import current

__all__ = ["measures_for", "outcome_series", "patient_reported", "record_outcome"]


def _measure(measure: str) -> str:
    key = "-".join(measure.strip().lower().replace("_", " ").split())
    measures = current_library().outcomes
    if key not in measures:
        known = ", ".join(measures)
        raise InvalidInput(f"unknown outcome measure '{measure}'; known: {known}", field="measure")
    return key


def record_outcome(
    actor: Actor,
    patient_id: int,
    measure: str,
    value: float,
    measured_on: dt.date,
    *,
    today: dt.date,
) -> Outcome:
    actor = require(actor, "recording an outcome", Role.prescriber, Role.nurse)
    key = _measure(measure)
    if measured_on > today:
        raise InvalidInput("an outcome cannot be measured in the future", field="measured_on")
    check_score(key, value, measures=current_library().outcomes)
    with transaction.atomic():
        patient = get(Patient, patient_id, "patient")
        row = Outcome.objects.create(
            patient=patient, measure=key, value=value, measured_on=measured_on, recorded_by=actor
        )
        audit.created(actor, "outcome", row, patient_id=patient.pk)
    return row


def measures_for(patient: Patient) -> dict[str, OutcomeMeasure]:
    """The outcome measures that apply to the patient: those of the indications of their
    courses (the latest first) and of their eligibility (``outcome_measures`` in
    ``indications.toml``), in order; every measure of the library when neither names an
    indication it lists (a baseline may be measured before the first course)."""
    library = current_library()
    indications = library.catalogue.indications
    ids = [
        *patient.courses.order_by("-start", "-id").values_list("indication", flat=True),
        *patient.eligibility.order_by("id").values_list("indication", flat=True),
    ]
    wanted = [
        m for i in dict.fromkeys(ids) if i in indications for m in indications[i].outcome_measures
    ]
    if not wanted:
        return dict(library.outcomes)
    return {m: library.outcomes[m] for m in dict.fromkeys(wanted) if m in library.outcomes}


def outcome_series(patient: Patient) -> list[dict[str, Any]]:
    """Every outcome of the patient in force (corrected and voided entries are skipped:
    requirement 11), each with its change against the measure's baseline."""
    out: list[dict[str, Any]] = []
    baseline: dict[str, Outcome] = {}
    measures = current_library().outcomes
    for row in current(patient.outcomes.all()).order_by("measured_on", "id"):
        first = baseline.setdefault(row.measure, row)
        change = classify_change(row.measure, first.value, row.value, measures=measures)
        out.append(
            {
                "id": row.pk,
                "measure": row.measure,
                "value": row.value,
                "measured_on": row.measured_on,
                "baseline": first.value,
                "baseline_on": first.measured_on,
                "change": None if first.pk == row.pk else audit.snapshot_value(asdict(change)),
            }
        )
    return out


def patient_reported(series: list[dict[str, Any]]) -> set[int]:
    """The ids of the entries of ``series`` (:func:`outcome_series`) that the patient reported
    (issue 7 check-ins), which the chart marks apart."""
    ids = [s["id"] for s in series if s.get("id") is not None]
    return set(
        Outcome.objects.filter(pk__in=ids, patient_reported=True).values_list("pk", flat=True)
    )
