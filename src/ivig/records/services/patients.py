"""Patients, their weights and their eligibility."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower, Upper

from ivig.core.eligibility import check_answers
from ivig.core.screening import check_risk_codes
from ivig.core.weights import HEIGHT_RANGE_CM
from ivig.errors import Conflict, InvalidInput, OutOfRange
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_catalogue, current_library
from ivig.records.models import Eligibility, IgaStatus, Patient, Role, Sex, WeightRecord
from ivig.records.services.access import require
from ivig.records.services.common import locked, save_versioned
from ivig.records.services.corrections import current
from ivig.records.services.weights import checked_weight

__all__ = [
    "TEXT_MAX",
    "EligibilityInput",
    "PatientInput",
    "add_weight",
    "age_on",
    "awaiting_text",
    "confirm_weight",
    "create_patient",
    "latest_weight",
    "record_eligibility",
    "register_patient",
    "screening_codes",
    "search_patients",
    "update_patient",
    "update_patient_and_weight",
    "weight_for_dosing",
]

WRITE_ROLES = (Role.prescriber, Role.admin)

TEXT_MAX: dict[str, int | None] = {
    name: getattr(Patient._meta.get_field(name), "max_length", None)
    for name in ("mrn", "family_name", "given_name", "conditions", "allergies", "notes")
}
"""A patient's text fields and the most characters each holds (``None``: no limit), from the
columns: the one table of limits that the API's schema, the page's form and the CSV import
(through this service) all apply (issue 17 item 14)."""


@dataclass(frozen=True, slots=True)
class PatientInput:
    mrn: str
    family_name: str
    given_name: str
    date_of_birth: dt.date
    sex: str
    height_cm: float
    risk_codes: tuple[str, ...] = ()
    conditions: str = ""
    allergies: str = ""
    iga_status: str = IgaStatus.unknown
    notes: str = ""


def _check_text(data: PatientInput) -> None:
    """Every text field: no NUL character (no clinical text holds one; PostgreSQL cannot store
    it) and not longer than its column (:data:`TEXT_MAX`), whichever way it came in."""
    for name, most in TEXT_MAX.items():
        value = getattr(data, name)
        words = name.replace("_", " ")
        if "\x00" in value:
            raise InvalidInput(f"the {words} may not contain a NUL character", field=name)
        if most is not None and len(value.strip()) > most:
            raise InvalidInput(
                f"the {words} has {len(value.strip())} characters: at most {most}", field=name
            )


def _mrn_taken(mrn: str) -> Conflict:
    """The refusal of an MRN on file already, in any case (issue 17 item 15), naming the one
    on file as it is spelled."""
    found = Patient.objects.annotate(low=Lower("mrn")).filter(low=Lower(Value(mrn))).first()
    return Conflict(f"a patient with MRN {found.mrn if found else mrn} exists already", field="mrn")


def _check(data: PatientInput, today: dt.date) -> dict[str, Any]:
    _check_text(data)
    if not data.mrn.strip():
        raise InvalidInput("the MRN is required", field="mrn")
    for name in ("family_name", "given_name"):
        if not getattr(data, name).strip():
            raise InvalidInput(f"the {name.replace('_', ' ')} is required", field=name)
    if data.sex not in Sex.values:
        raise InvalidInput(f"sex must be one of {', '.join(Sex.values)}", field="sex")
    if data.iga_status not in IgaStatus.values:
        raise InvalidInput(
            f"IgA status must be one of {', '.join(IgaStatus.values)}", field="iga_status"
        )
    low, high = HEIGHT_RANGE_CM
    if not low <= data.height_cm <= high:
        raise OutOfRange("height_cm", data.height_cm, low, high, "cm", what="height")
    if not dt.date(1900, 1, 1) <= data.date_of_birth <= today:
        raise InvalidInput("the date of birth must be a past date", field="date_of_birth")
    try:
        check_risk_codes(data.risk_codes, current_catalogue())
    except InvalidInput as exc:
        exc.field = "risk_codes"
        raise
    return {
        "mrn": data.mrn.strip(),
        "family_name": data.family_name.strip(),
        "given_name": data.given_name.strip(),
        "date_of_birth": data.date_of_birth,
        "sex": data.sex,
        "height_cm": data.height_cm,
        "risk_codes": sorted(set(data.risk_codes)),
        "conditions": data.conditions,
        "allergies": data.allergies,
        "iga_status": data.iga_status,
        "notes": data.notes,
    }


def create_patient(actor: Actor, data: PatientInput, *, today: dt.date) -> Patient:
    actor = require(actor, "creating a patient", *WRITE_ROLES)
    fields = _check(data, today)
    try:
        with transaction.atomic():
            patient = Patient.objects.create(**fields)
            audit.created(actor, "patient", patient, patient_id=patient.pk)
    except IntegrityError:
        raise _mrn_taken(fields["mrn"]) from None
    return patient


def update_patient(
    actor: Actor, patient_id: int, version: int, data: PatientInput, *, today: dt.date
) -> Patient:
    actor = require(actor, "editing a patient", *WRITE_ROLES)
    fields = _check(data, today)
    try:
        with transaction.atomic():
            patient = locked(Patient, patient_id, "patient")
            changed = _record_change(patient, fields)
            before = audit.snapshot(patient)
            save_versioned(patient, version, f"patient {patient.mrn}", **fields)
            audit.record(
                actor,
                "update",
                "patient",
                patient.pk,
                patient_id=patient.pk,
                before=before,
                after=audit.snapshot(patient),
            )
            if changed:
                _recheck_plans(actor, patient.pk, changed)
    except IntegrityError:
        raise _mrn_taken(fields["mrn"]) from None
    return patient


def add_weight(
    actor: Actor, patient_id: int, measured_on: dt.date, weight_kg: float, *, today: dt.date
) -> WeightRecord:
    """Record a weight: in range, dated between the date of birth and today (issue 14 item 8).
    One that differs by 10 % or more from the weight in use is kept, marked as needing a
    prescriber's confirmation (:func:`confirm_weight`); until then no dose is planned on it
    (:func:`weight_for_dosing`)."""
    actor = require(actor, "recording a weight", Role.prescriber, Role.nurse, Role.admin)
    with transaction.atomic():
        patient = locked(Patient, patient_id, "patient")
        fields = checked_weight(patient, measured_on, weight_kg, today=today)
        record = WeightRecord.objects.create(
            patient=patient,
            measured_on=measured_on,
            weight_kg=weight_kg,
            recorded_by=actor,
            **fields,
        )
        audit.created(actor, "weight", record, patient_id=patient.pk)
        _recheck_plans(
            actor, patient.pk, f"weight recorded: {weight_kg:g} kg on {measured_on.isoformat()}"
        )
    return record


def _recheck_plans(actor: Actor, patient_id: int, why: str) -> None:
    """Mark (or clear) "re-plan needed" on the patient's open courses after a change of the
    record (issue 16 item 3). Imported here: ``replan_needed`` plans with ``courses``, which
    reads the patient's record through this module."""
    from ivig.records.services import replan_needed

    replan_needed.check_patient(actor, patient_id, why)


# The patient's fields a plan reads (the ideal weight, the age, the screening), in words.
PLANNED_ON = {
    "sex": "sex",
    "date_of_birth": "date of birth",
    "height_cm": "height",
    "risk_codes": "risks",
    "iga_status": "IgA status",
}


def _shown(name: str, value: Any) -> str:
    if name == "height_cm":
        return f"{value:g} cm"
    if name == "risk_codes":
        return ", ".join(sorted(value)) or "none"
    return str(value)


def _record_change(patient: Patient, fields: Mapping[str, Any]) -> str:
    """What an edit changes of the fields a plan reads, in words ("" when nothing)."""
    words = [
        f"{label} changed from {_shown(name, getattr(patient, name))} to "
        f"{_shown(name, fields[name])}"
        for name, label in PLANNED_ON.items()
        if _shown(name, getattr(patient, name)) != _shown(name, fields[name])
    ]
    return "; ".join(words)


def register_patient(
    actor: Actor,
    data: PatientInput,
    *,
    today: dt.date,
    weight_kg: float | None = None,
    weighed_on: dt.date | None = None,
) -> Patient:
    """A new patient and, when ``weight_kg`` is given, the first weight (weighed ``weighed_on``,
    else today), in one transaction: a weight refused leaves no patient without it. The form
    and the CSV import register patients so; each part is audited as on its own."""
    with transaction.atomic():
        patient = create_patient(actor, data, today=today)
        if weight_kg is not None:
            add_weight(actor, patient.pk, weighed_on or today, weight_kg, today=today)
    return patient


def update_patient_and_weight(
    actor: Actor,
    patient_id: int,
    version: int,
    data: PatientInput,
    *,
    today: dt.date,
    weight_kg: float | None = None,
) -> tuple[Patient, WeightRecord | None]:
    """:func:`update_patient` and, when ``weight_kg`` is given, a weight weighed today, in one
    transaction (the patient form's save): the patient and the new weight record."""
    with transaction.atomic():
        patient = update_patient(actor, patient_id, version, data, today=today)
        record = (
            add_weight(actor, patient_id, today, weight_kg, today=today)
            if weight_kg is not None
            else None
        )
    return patient, record


def confirm_weight(actor: Actor, weight_id: int, reason: str, *, now: dt.datetime) -> WeightRecord:
    """A prescriber confirms a weight that changed by 10 % or more, with the reason (issue 14
    item 8; Group Health nursing orders: the physician is told of such a change). Audited
    (``confirm``, before and after). Only a weight in force that awaits confirmation: a
    mistyped weight is corrected or voided instead (``corrections``)."""
    actor = require(actor, "confirming a changed weight", Role.prescriber)
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(
            "say why the weight is right (e.g. re-weighed on the ward scale)", field="reason"
        )
    with transaction.atomic():
        record = locked(WeightRecord, weight_id, "weight")
        if record.entered_in_error or WeightRecord.objects.filter(supersedes=record).exists():
            raise Conflict(
                f"weight {record.pk} was corrected or voided: confirm the current entry",
                field="weight",
            )
        if not record.needs_confirmation:
            raise Conflict(
                f"weight {record.pk} changed by less than the rule's percentage: it needs no "
                "confirmation",
                field="weight",
            )
        if record.confirmed_at is not None:
            raise Conflict(f"weight {record.pk} was confirmed already", field="weight")
        before = audit.snapshot(record)
        record.confirmed_by = actor
        record.confirmed_at = now
        record.confirmation_reason = text
        record.save(update_fields=["confirmed_by", "confirmed_at", "confirmation_reason"])
        audit.record(actor, "confirm", "weight", record.pk, patient_id=record.patient_id,
                     before=before, after=audit.snapshot(record), reason=text)  # fmt: skip
        _recheck_plans(
            actor, record.patient_id, f"weight confirmed: {record.weight_kg:g} kg on "
            f"{record.measured_on.isoformat()}",
        )  # fmt: skip
    return record


def awaiting_text(record: WeightRecord) -> str:
    """Why a weight is not used for dosing yet: the change and what to do."""
    previous = record.compared_with
    change = (
        f"{record.change_percent:+g} % from {previous.weight_kg:g} kg on "
        f"{previous.measured_on.isoformat()}"
        if previous is not None and record.change_percent is not None
        else "a change of 10 % or more"
    )
    rule = current_library().weight_rule
    return (
        f"the latest weight, {record.weight_kg:g} kg on {record.measured_on.isoformat()}, is "
        f"{change} ({rule.value:g} % or more: {rule.source.title.split(':')[0]}): a prescriber "
        "must confirm it with a reason, or it must be corrected, before a dose is planned on it"
    )


def weight_for_dosing(patient: Patient) -> WeightRecord | None:
    """The weight a dose is planned on: the latest in force; refused (Conflict, field
    ``weight_kg``) while it awaits a prescriber's confirmation (issue 14 item 8: the service
    refuses rather than fall back on an older weight, which may be as wrong). ``None`` when no
    weight is recorded."""
    record = latest_weight(patient)
    if record is not None and record.awaiting_confirmation:
        raise Conflict(awaiting_text(record), field="weight_kg")
    return record


# The highest code point: every string that begins with ``p`` sorts below ``p + TOP`` (binary
# order, as in SQLite and in a PostgreSQL database created with ``--no-locale``/``C``).
TOP = "\U0010ffff"


def _prefix(column: str, term: str) -> Q:
    """``column`` begins with ``term``, ignoring case, in a form the expression index on
    ``Lower(column)`` serves (a range on ``lower(column)``); ``istartswith`` keeps the match
    exact whatever the collation."""
    return Q(
        **{
            f"{column}_lower__gte": Lower(Value(term)),
            f"{column}_lower__lt": Lower(Value(term + TOP)),
            f"{column}__istartswith": term,
        }
    )


def search_patients(term: str) -> QuerySet[Patient]:
    """The patients the search box finds for ``term``, by name: the MRN exactly (ignoring
    case), or a family or given name beginning with the term (ignoring case); "family, given"
    narrows on both. Each arm is served by an index (migration 0005), so the search costs the
    same with 10 thousand or 100 thousand patients; slice the result (the caller's page)."""
    query = Patient.objects.annotate(
        mrn_upper=Upper("mrn"),
        family_name_lower=Lower("family_name"),
        given_name_lower=Lower("given_name"),
    ).order_by("family_name", "given_name", "id")
    term = term.strip()
    if not term:
        return query
    family, comma, given = term.partition(",")
    if comma and family.strip() and given.strip():
        return query.filter(_prefix("family_name", family.strip())).filter(
            _prefix("given_name", given.strip())
        )
    return query.filter(
        Q(mrn_upper=Upper(Value(term))) | _prefix("family_name", term) | _prefix("given_name", term)
    )


def age_on(born: dt.date, on: dt.date) -> int:
    """Age in whole years on a date."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def screening_codes(patient: Patient) -> set[str]:
    """The patient's risk codes for the core's screening, with what the record says elsewhere:
    IgA deficiency with antibodies against IgA is the core's ``iga-deficiency-anti-iga``."""
    codes = set(patient.risk_codes)
    if patient.iga_status == IgaStatus.deficient_with_antibodies:
        codes.add("iga-deficiency-anti-iga")
    return codes


def latest_weight(patient: Patient) -> WeightRecord | None:
    """The latest weight in force: a corrected or voided weight is never used (requirement
    11)."""
    return current(patient.weights.all()).order_by("-measured_on", "-id").first()


@dataclass(frozen=True, slots=True)
class EligibilityInput:
    """What every indication asks, and ``answers`` to the indication's own criteria
    (``indications.toml``): ``{key: True/False or an option's value}``."""

    indication: str
    diagnosed_by_neurologist: bool
    alternative_therapy_failed: bool
    review_date: dt.date
    answers: Mapping[str, object] = field(default_factory=dict)
    neurologist: str = ""
    severity_detail: str = ""
    alternative_therapy: str = ""


def record_eligibility(actor: Actor, patient_id: int, data: EligibilityInput) -> Eligibility:
    """Record (or replace) the patient's eligibility for an indication: its answers checked
    against the indication's criteria in the drug library in service (the core names the answer
    at fault), audited as a create or an update."""
    actor = require(actor, "recording eligibility", Role.prescriber)
    indication = current_library().catalogue.indication(data.indication)
    fields = {
        "diagnosed_by_neurologist": data.diagnosed_by_neurologist,
        "neurologist": data.neurologist,
        "answers": check_answers(indication, data.answers),
        "severity_detail": data.severity_detail,
        "alternative_therapy_failed": data.alternative_therapy_failed,
        "alternative_therapy": data.alternative_therapy,
        "review_date": data.review_date,
    }
    with transaction.atomic():
        patient = locked(Patient, patient_id, "patient")
        existing = Eligibility.objects.filter(patient=patient, indication=data.indication).first()
        before = audit.snapshot(existing) if existing else None
        if existing:
            eligibility = save_versioned(existing, None, "eligibility", recorded_by=actor, **fields)
        else:
            eligibility = Eligibility.objects.create(
                patient=patient, indication=data.indication, recorded_by=actor, **fields
            )
        audit.record(
            actor,
            "update" if existing else "create",
            "eligibility",
            eligibility.pk,
            patient_id=patient.pk,
            before=before,
            after=audit.snapshot(eligibility),
        )
    return eligibility
