"""A patient's treatment as a FHIR R4B Bundle (``type: collection``), checked with the
``fhir.resources`` R4B models before it leaves (issue 6).

What goes in, one small mapping function per resource type:

- **Patient**: the MRN (identifier type ``MR``), name, birth date, gender.
- **MedicationRequest, one per order** (not per course): each dated infusion has its own dose,
  vials, rate steps and status (a re-plan or a deferral changes one order, not the course), so
  one request per order says exactly what was ordered for that day. The course is the
  ``groupIdentifier`` shared by its orders. ``dosageInstruction`` holds one ``Dosage`` per rate
  step (``sequence``, ``timing`` with the step's length, ``doseAndRate`` *ordered* in
  mg/kg/min and *calculated* in mL/h with the step's grams); every step carries the 28-day cap
  as ``maxDosePerPeriod`` (grams at the dosing weight per 28 days) and the infusion's dose as
  ``maxDosePerAdministration``.
- **MedicationAdministration, one per infusion** (``effectivePeriod`` start to end, the last
  rate given, ``request`` the order), **and one per rate segment** with ``partOf`` the
  infusion: A3.8 says one administration covers a period at one rate, so each pump rate from
  one change to the next is its own segment (a pause or stop at 0 mL/h is a gap, not a
  segment).
- **Observation**: each vital sign (LOINC, UCUM units, category ``vital-signs``; blood pressure
  as the 85354-9 panel with its systolic and diastolic components; ``partOf`` the infusion),
  each weight (29463-7), each outcome score (text codes only: no LOINC code is claimed for
  3TUG, QMG, MG-ADL or the MRC sum; category ``exam``, MG-ADL ``survey``).
- **AdverseEvent** per reaction (``suspectEntity.instance`` the infusion's administration;
  ``severity`` mild/moderate/severe, ``seriousness`` serious for a severe reaction).

Each function maps the records given to it (it reads them, never queries or writes):
``ivig.records.services.documents`` walks the patient's record, passes the entries in force
(a correction is exported with status ``amended``) and audits the export. Every entry has a
``urn:uuid`` full URL derived from the record's table and id (the same record has the same URL
in every export), and every reference points inside the Bundle.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from fhir.resources.R4B.bundle import Bundle

from ivig.core.dosing import vial_label
from ivig.core.outcomes import OutcomeMeasure
from ivig.core.vitals import VITAL_SIGNS, LoincPanel

if TYPE_CHECKING:  # the records it is given: annotations only, never imported to run
    from django.contrib.auth.models import User

    from ivig.records.models import (
        Course,
        InfusionSession,
        Order,
        Outcome,
        Patient,
        RateChange,
        Reaction,
        Vitals,
        WeightRecord,
    )

__all__ = [
    "LOINC",
    "UCUM",
    "adverse_event",
    "bundle",
    "counts",
    "entry",
    "medication_administrations",
    "medication_request",
    "outcome_observation",
    "patient_resource",
    "vital_observations",
    "weight_observation",
]

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
DOSE_RATE_TYPE = "http://terminology.hl7.org/CodeSystem/dose-rate-type"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
AE_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
AE_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"

# The namespace of the entries' UUIDs (uuid5 of "<table>/<id>"): fixed, so that an export
# names the same record with the same URL every time.
NAMESPACE = uuid.UUID("5f0b6a52-3c1e-4d0e-9a43-6f1d2b8e7c10")

MEDICATION_REQUEST_STATUS = {
    "planned": "active",
    "verified": "active",
    "dispensed": "active",
    "in-progress": "active",
    "completed": "completed",
    "deferred": "on-hold",
    "cancelled": "cancelled",
}
ADMINISTRATION_STATUS = {  # the infusion's state (``SessionState``)
    "running": "in-progress",
    "paused": "on-hold",
    "stopped": "stopped",
    "ended": "completed",
    "closed": "completed",
}
BODY_WEIGHT = ("29463-7", "Body weight")
SURVEY_MEASURES = {"mg-adl"}  # patient-reported; the others are examinations


# --- small helpers ---------------------------------------------------------------------------


def urn(kind: str, pk: object) -> str:
    """The entry's full URL: ``urn:uuid:`` of the record's table and id."""
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{kind}/{pk}')}"


def ref(kind: str, pk: object, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"reference": urn(kind, pk)}
    if display:
        out["display"] = display
    return out


def quantity(value: float, unit: str, code: str | None = None) -> dict[str, Any]:
    """A UCUM quantity (``code`` when the printed unit is not the UCUM code)."""
    return {"value": _number(value), "unit": unit, "system": UCUM, "code": code or unit}


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _number(value: float) -> float | int:
    """A whole number without a trailing ``.0``; otherwise rounded to 3 decimals."""
    number = round(float(value), 3)
    return int(number) if number.is_integer() else number


def _instant(value: dt.datetime) -> str:
    return value.isoformat()


def _who(user: User | None) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.username)


def _category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [coding(OBSERVATION_CATEGORY, code, display)], "text": display}]


# --- Patient -----------------------------------------------------------------------------------


def patient_resource(patient: Patient) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [coding(V2_0203, "MR", "Medical record number")]},
                "value": patient.mrn,
            }
        ],
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": patient.sex,  # male | female: the FHIR administrative genders
        "birthDate": patient.date_of_birth.isoformat(),
    }


# --- MedicationRequest -------------------------------------------------------------------------


def medication_text(course: Course) -> str:
    """The product as ordered: name and concentration (no code is claimed)."""
    product = course.plan.get("product", {})
    name = product.get("name") or course.product_id
    mg_per_ml = float(product.get("concentration_mg_per_ml") or 0)
    if not mg_per_ml:
        return f"{name} (human normal immunoglobulin, intravenous)"
    percent = f"{mg_per_ml / 10:g}%"
    strength = f"({mg_per_ml:g} mg/mL)" if percent in name else f"{percent} ({mg_per_ml:g} mg/mL)"
    return f"{name} {strength} human normal immunoglobulin, intravenous"


def _g_per_ml(course: Course) -> float:
    return float(course.plan.get("product", {}).get("concentration_mg_per_ml") or 0) / 1000


def _cap(course: Course) -> dict[str, Any] | None:
    """The rolling cap as a Ratio: grams at the course's dosing weight per window of days."""
    per_kg, days = course.plan.get("cap_g_per_kg"), course.plan.get("cap_window_days")
    if not per_kg or not days:
        return None
    grams = float(per_kg) * course.dosing_weight_kg
    return {"numerator": quantity(grams, "g"), "denominator": quantity(float(days), "d")}


def step_dosage(order: Order, course: Course, number: int, step: dict[str, Any]) -> dict[str, Any]:
    """One rate step as a Dosage: its sequence, its length, the ordered rate per kg and the
    calculated rate in mL/h with the grams the step gives."""
    start, end = float(step["start_min"]), float(step["end_min"])
    ml_h, mg_kg_min = float(step["rate_ml_per_h"]), float(step["rate_mg_per_kg_per_min"])
    grams = float(step["volume_ml"]) * _g_per_ml(course)
    last = number == len(order.steps)
    text = (
        f"Step {number}: {ml_h:g} mL/h ({mg_kg_min:g} mg/kg/min at {course.dosing_weight_kg:g} kg) "
        f"from minute {start:g} to {end:g}{' (until the dose is in)' if last else ''}; "
        f"{float(step['volume_ml']):g} mL this step; basis: {step.get('basis', '')}"
    )
    dosage: dict[str, Any] = {
        "sequence": number,
        "text": text,
        "timing": {
            "event": [order.date.isoformat()],
            "repeat": {"boundsDuration": quantity(end - start, "min")},
        },
        "route": {"text": "intravenous"},
        "doseAndRate": [
            {
                "type": {"coding": [coding(DOSE_RATE_TYPE, "ordered", "Ordered")]},
                "rateQuantity": quantity(mg_kg_min, "mg/kg/min"),
            },
            {
                "type": {"coding": [coding(DOSE_RATE_TYPE, "calculated", "Calculated")]},
                "doseQuantity": quantity(grams, "g"),
                "rateQuantity": quantity(ml_h, "mL/h"),
            },
        ],
        "maxDosePerAdministration": quantity(order.dose_g, "g"),
    }
    cap = _cap(course)
    if cap is not None:
        dosage["maxDosePerPeriod"] = cap
    return dosage


def medication_request(order: Order, course: Course) -> dict[str, Any]:
    indication = course.plan.get("indication", {}).get("name") or course.indication
    weight = course.plan.get("dosing_weight", {})
    notes = [
        f"{course.phase} course, infusion {order.sequence}: {order.dose_g:g} g "
        f"(prescribed {order.prescribed_g:g} g), {order.volume_ml:g} mL; vials "
        + vial_label(order.vials),
        f"dosing weight {course.dosing_weight_kg:g} kg ({course.weight_basis})"
        + (f": {weight['reason']}" if weight.get("reason") else ""),
        f"drug library {order.catalogue_version or course.catalogue_version}",
    ]
    if order.status_reason:
        notes.append(f"status {order.status}: {order.status_reason}")
    return {
        "resourceType": "MedicationRequest",
        "identifier": [{"value": f"order-{order.pk}"}],
        "groupIdentifier": {"value": f"course-{course.pk}"},
        "status": MEDICATION_REQUEST_STATUS.get(order.status, "unknown"),
        "intent": "order",
        "medicationCodeableConcept": {"text": medication_text(course)},
        "subject": ref("Patient", order.patient_id),
        "authoredOn": _instant(course.created_at),
        "requester": {"display": _who(course.prescribed_by)},
        "reasonCode": [{"text": indication}],
        "note": [{"text": n} for n in notes],
        "dosageInstruction": [
            step_dosage(order, course, i, step) for i, step in enumerate(order.steps, start=1)
        ],
    }


# --- MedicationAdministration ------------------------------------------------------------------


def _segments(
    session: InfusionSession, changes: list[RateChange]
) -> list[tuple[RateChange, dt.datetime | None]]:
    """Each period at one rate above zero: (the change that set it, when it ended)."""
    out = []
    for i, change in enumerate(changes):
        if change.rate_ml_per_h <= 0:
            continue
        following = changes[i + 1].at if i + 1 < len(changes) else session.ended_at
        out.append((change, following))
    return out


def _period(start: dt.datetime | None, end: dt.datetime | None) -> dict[str, Any]:
    period = {}
    if start is not None:
        period["start"] = _instant(start)
    if end is not None:
        period["end"] = _instant(end)
    return period


def _lots_note(order: Order) -> list[dict[str, Any]]:
    lots = [
        f"{lot.product_id} lot {lot.lot_number} (expiry {lot.expiry.isoformat()}), "
        f"{lot.count} x {lot.vial_size_g:g} g"
        for lot in order.lots.all()
    ]
    return [{"text": "lots: " + "; ".join(lots)}] if lots else []


def medication_administrations(
    session: InfusionSession, course: Course
) -> list[tuple[str, int, dict[str, Any]]]:
    """The infusion (the whole of it, at its last rate), then one resource per rate segment
    (``partOf`` the infusion), each as (the table and id of its full URL, the resource). A
    session not started gives nothing."""
    status = ADMINISTRATION_STATUS.get(str(session.state))
    if status is None or session.started_at is None:
        return []
    order = session.order
    changes = list(session.rate_changes.all())
    given = [c for c in changes if c.rate_ml_per_h > 0]
    end = session.ended_at
    if end is None and session.state == "stopped" and changes:
        end = changes[-1].at
    common: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "medicationCodeableConcept": {"text": medication_text(course)},
        "subject": ref("Patient", order.patient_id),
        "request": ref("Order", order.pk),
    }
    performer = _who(session.administered_by or session.started_by)
    if performer:
        common["performer"] = [{"actor": {"display": performer}}]
    last = given[-1].rate_ml_per_h if given else 0.0
    infusion = {
        **common,
        "identifier": [{"value": f"infusion-{session.pk}"}],
        "status": status,
        "effectivePeriod": _period(session.started_at, end),
        "note": _lots_note(order),
        "dosage": {
            "text": f"infusion of order {order.sequence} on {order.date.isoformat()}: "
            f"{len(given)} rate(s), the last {last:g} mL/h",
            "route": {"text": "intravenous"},
            "rateQuantity": quantity(last, "mL/h"),
        },
    }
    if not infusion["note"]:
        del infusion["note"]
    if session.ended_at is not None:  # the grams given (issue 16 item 4): the dose when unrecorded
        grams = order.dose_g if session.given_g is None else session.given_g
        infusion["dosage"]["dose"] = quantity(grams, "g")
    out = [("InfusionSession", session.pk, infusion)]
    for change, until in _segments(session, changes):
        segment_status = "completed" if until is not None else status
        out.append(
            (
                "RateChange",
                change.pk,
                {
                    **common,
                    "identifier": [{"value": f"rate-{change.pk}"}],
                    "partOf": [ref("InfusionSession", session.pk)],
                    "status": segment_status,
                    "effectivePeriod": _period(change.at, until),
                    "dosage": {
                        "text": f"{change.action}: {change.rate_ml_per_h:g} mL/h"
                        + (f" ({change.note})" if change.note else ""),
                        "rateQuantity": quantity(change.rate_ml_per_h, "mL/h"),
                    },
                },
            )
        )
    return out


# --- Observation -------------------------------------------------------------------------------


def _observation(
    patient_id: int, code: dict[str, Any], category: list[dict[str, Any]], amended: bool
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "amended" if amended else "final",
        "category": category,
        "code": code,
        "subject": ref("Patient", patient_id),
    }


def vital_observations(vitals: Vitals, patient_id: int) -> list[tuple[str, dict[str, Any]]]:
    """One Observation per sign measured, blood pressure as a panel: (the key of its full URL,
    the resource)."""
    category = _category("vital-signs", "Vital Signs")
    base = {
        "effectiveDateTime": _instant(vitals.at),
        "partOf": [ref("InfusionSession", vitals.session_id)],
    }
    amended = vitals.supersedes_id is not None
    out = []
    panels: dict[LoincPanel, list[dict[str, Any]]] = {}
    for sign in VITAL_SIGNS:
        value = getattr(vitals, sign.field)
        if value is None:
            continue
        codings = [coding(LOINC, sign.loinc, sign.loinc_display)]
        codings += [coding(LOINC, *more) for more in sign.also_coded]
        code = {"coding": codings, "text": sign.loinc_display}
        if sign.panel is not None:
            part = {"code": code, "valueQuantity": quantity(value, sign.ucum)}
            panels.setdefault(sign.panel, []).append(part)
            continue
        resource = _observation(patient_id, code, category, amended)
        resource.update(base, valueQuantity=quantity(value, sign.ucum))
        out.append((f"{vitals.pk}/{sign.loinc}", resource))
    for panel, parts in panels.items():
        code = {"coding": [coding(LOINC, panel.code, panel.display)], "text": panel.text}
        resource = _observation(patient_id, code, category, amended)
        resource.update(base, component=parts)
        out.append((f"{vitals.pk}/{panel.code}", resource))
    return out


def weight_observation(weight: WeightRecord) -> dict[str, Any]:
    code = {"coding": [coding(LOINC, *BODY_WEIGHT)], "text": "Body weight"}
    category = _category("vital-signs", "Vital Signs")
    resource = _observation(weight.patient_id, code, category, weight.supersedes_id is not None)
    resource.update(
        effectiveDateTime=weight.measured_on.isoformat(),
        valueQuantity=quantity(weight.weight_kg, "kg"),
    )
    return resource


def outcome_observation(outcome: Outcome, measure: OutcomeMeasure | None) -> dict[str, Any]:
    """An outcome score: a text code (no LOINC code is claimed), its unit (seconds in UCUM;
    points as the UCUM annotation ``{score}``); ``measure``: the library's definition of it
    (``None`` if the library in service no longer has it)."""
    name = measure.name if measure else outcome.measure
    unit = measure.unit if measure else ""
    if unit == "s":
        value = quantity(outcome.value, "s")
    else:
        value = quantity(outcome.value, unit or "{score}", "{score}")
    category = (
        _category("survey", "Survey")
        if outcome.measure in SURVEY_MEASURES
        else _category("exam", "Exam")
    )
    resource = _observation(
        outcome.patient_id, {"text": name}, category, outcome.supersedes_id is not None
    )
    resource.update(effectiveDateTime=outcome.measured_on.isoformat(), valueQuantity=value)
    return resource


# --- AdverseEvent ------------------------------------------------------------------------------


def adverse_event(reaction: Reaction, patient_id: int) -> dict[str, Any]:
    """A reaction: the event as text (its symptoms), severity as recorded; a severe reaction is
    ``serious`` (an interpretation: the record grades severity, not regulatory seriousness)."""
    severity = str(reaction.severity)
    serious = severity == "severe"
    symptoms = ", ".join(str(s) for s in reaction.symptoms) or "infusion reaction"
    event: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "identifier": {"value": f"reaction-{reaction.pk}"},
        "actuality": "actual",
        "event": {"text": f"infusion reaction: {symptoms}"},
        "subject": ref("Patient", patient_id),
        "date": _instant(reaction.at),
        "recordedDate": _instant(reaction.recorded_at),
        "seriousness": {
            "coding": [
                coding(
                    AE_SERIOUSNESS,
                    *(("serious", "Serious") if serious else ("non-serious", "Non-serious")),
                )
            ]
        },
        "suspectEntity": [{"instance": ref("InfusionSession", reaction.session_id)}],
    }
    if severity in ("mild", "moderate", "severe"):
        event["severity"] = {"coding": [coding(AE_SEVERITY, severity, severity.capitalize())]}
    recorder = _who(reaction.recorded_by)
    if recorder:
        event["recorder"] = {"display": recorder}
    return event


# --- the Bundle --------------------------------------------------------------------------------


def entry(kind: str, pk: object, resource: dict[str, Any]) -> dict[str, Any]:
    """One entry of the Bundle: the resource with its full URL (:func:`urn`)."""
    return {"fullUrl": urn(kind, pk), "resource": resource}


def bundle(entries: Iterable[dict[str, Any]], *, now: dt.datetime) -> dict[str, Any]:
    """The entries (:func:`entry`) as a Bundle (JSON-ready), checked against the R4B models
    (a mapping error raises ``pydantic.ValidationError`` rather than sending a bad document)."""
    out = {
        "resourceType": "Bundle",
        "identifier": {"value": str(uuid.uuid4())},
        "type": "collection",
        "timestamp": _instant(now),
        "entry": list(entries),
    }
    Bundle.model_validate(out)
    return out


def counts(bundle: dict[str, Any]) -> dict[str, int]:
    """Entries per resource type."""
    out: dict[str, int] = {}
    for item in bundle.get("entry", []):
        kind = item["resource"]["resourceType"]
        out[kind] = out.get(kind, 0) + 1
    return out
