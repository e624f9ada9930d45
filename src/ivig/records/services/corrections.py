"""Corrections never overwrite (requirements 11-13; OpenMRS ``saveObs`` void and link, 21 CFR
11.10(e)).

A clinical entry (a weight, a creatinine result, a set of vital signs, a reaction, an outcome)
is never updated or deleted once recorded. To correct it, a NEW entry is written: a copy of the
original with the corrected values, checked exactly as a new recording would be (impossible
vital signs are refused, a weight must be in its range...), linked to the original by
``supersedes`` and carrying the reason. To void an entry recorded in error, a new entry marked
``entered_in_error`` supersedes it. The original row stays as it was, readable, and is then
*superseded*.

- no reason: :class:`~ivig.errors.InvalidInput` (422, field ``reason``);
- an entry already corrected or voided (or a void itself): :class:`~ivig.errors.Conflict` (409);
  the one-to-one ``supersedes`` link backs this in the database;
- each correction and void is audited (``correct`` / ``void``) with the original as ``before``,
  the new entry as ``after``, the reason and the patient, in the same transaction.

Who corrects is who records: weights and creatinine results the prescriber, nurse or admin;
vital signs and reactions the nurse; outcomes the prescriber or nurse.

Readers that show "the" weight or outcome use :func:`current` to skip superseded and voided
entries; :func:`history` gives the whole chain of one entry, oldest first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from ivig.core.monitoring import ReactionSeverity, check_vitals
from ivig.core.outcomes import check_score
from ivig.core.vitals import VITAL_FIELDS
from ivig.errors import Conflict, InvalidInput, InvalidTime, NotFound
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import (
    Correctable,
    CreatinineResult,
    Outcome,
    Reaction,
    Role,
    Vitals,
    WeightRecord,
)
from ivig.records.services.access import require
from ivig.records.services.common import CLOCK_SKEW, locked
from ivig.records.services.weights import checked_weight

__all__ = [
    "KINDS",
    "Kind",
    "correct",
    "current",
    "history",
    "kind_of",
    "patient_of",
    "status_of",
    "void",
]

C = TypeVar("C", bound=Correctable)
Q = TypeVar("Q", bound=models.QuerySet[Any])

VITALS = VITAL_FIELDS  # the vital signs, in the order core.vitals defines them


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of correctable entry: its model, who may record (and so correct) it, the fields a
    correction may change, and the check a new recording of it gets."""

    name: str
    label: str
    model: type[Correctable]
    roles: tuple[Role, ...]
    fields: tuple[str, ...]
    check: Callable[[Correctable, dict[str, Any], dt.datetime], dict[str, Any]]
    patient: Callable[[Any], int]


# --- the checks a new recording would get ---------------------------------------------------------


def _check_weight(row: Any, new: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """As ``add_weight`` checks (issue 14 item 8): in range, dated between the date of birth and
    today, and compared again with the weight in use; a confirmation is not carried over."""
    return checked_weight(
        row.patient,
        new["measured_on"],
        float(new["weight_kg"]),
        today=timezone.localdate(now),
        exclude=row.pk,
    )


def _clinical_time(at: dt.datetime, row: Any, now: dt.datetime) -> None:
    """The time of a recording at the chair: not in the future (beyond the clock skew), not
    before the infusion started (requirements 35, 9)."""
    if at > now + CLOCK_SKEW:
        raise InvalidTime("the time is in the future", field="at")
    started = row.session.started_at
    if started is not None and at < started:
        raise InvalidTime("the time is before the start of the infusion", field="at")


def _check_vitals(row: Any, new: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    _clinical_time(new["at"], row, now)
    values = {name: new[name] for name in VITALS}
    if all(v is None for v in values.values()):
        raise InvalidInput("record at least one vital sign", field="temperature_c")
    # impossible values: 422, abnormal ones: flagged
    flags = check_vitals(**values, protocol=current_library().monitoring)
    return {"flags": [{"field": f.field, "message": f.message} for f in flags]}


def _check_reaction(row: Any, new: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """As ``record_reaction`` checks: symptoms named, a severity, the action taken. The
    severity stays as recorded (the nurse's grade) unless corrected; the protocol's advice
    recorded at the time is kept as it was: it is what the nurse was shown."""
    _clinical_time(new["at"], row, now)
    symptoms = new["symptoms"]
    if not isinstance(symptoms, list) or not all(isinstance(s, str) for s in symptoms):
        raise InvalidInput("symptoms must be a list of names", field="symptoms")
    if not [s for s in symptoms if s.strip()]:
        raise InvalidInput("name at least one symptom", field="symptoms")
    if new["severity"] not in ReactionSeverity.__members__:
        raise InvalidInput("severity must be mild, moderate or severe", field="severity")
    if not str(new["action_taken"]).strip():
        raise InvalidInput("say what was done", field="action_taken")
    return {}


def _check_outcome(row: Any, new: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    key = "-".join(str(new["measure"]).strip().lower().replace("_", " ").split())
    measures = current_library().outcomes
    if key not in measures:
        known = ", ".join(measures)
        raise InvalidInput(
            f"unknown outcome measure '{new['measure']}'; known: {known}", field="measure"
        )
    check_score(key, float(new["value"]), measures=measures)
    if new["measured_on"] > timezone.localdate(now):
        raise InvalidInput("an outcome cannot be measured in the future", field="measured_on")
    return {"measure": key}


def _check_creatinine(row: Any, new: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """As ``renal.add_creatinine`` checks: the unit given and known, the value plausible for
    it, the date neither in the future nor before birth; the unit as stored."""
    from ivig.records.services.renal import check_creatinine

    born = row.patient.date_of_birth
    unit = check_creatinine(
        new["value"], new["unit"], new["measured_on"], born, timezone.localdate(now)
    )
    return {"unit": unit}


KINDS: dict[str, Kind] = {
    "weight": Kind(
        "weight",
        "weight",
        WeightRecord,
        (Role.prescriber, Role.nurse, Role.admin),
        ("measured_on", "weight_kg"),
        _check_weight,
        lambda row: row.patient_id,
    ),
    "vitals": Kind(
        "vitals",
        "vital signs",
        Vitals,
        (Role.nurse,),
        ("at", *VITALS),
        _check_vitals,
        lambda row: row.session.order.patient_id,
    ),
    "reaction": Kind(
        "reaction",
        "reaction",
        Reaction,
        (Role.nurse,),
        ("at", "symptoms", "severity", "action_taken", "medicines_given"),
        _check_reaction,
        lambda row: row.session.order.patient_id,
    ),
    "outcome": Kind(
        "outcome",
        "outcome",
        Outcome,
        (Role.prescriber, Role.nurse),
        ("measure", "value", "measured_on"),
        _check_outcome,
        lambda row: row.patient_id,
    ),
    "creatinine": Kind(
        "creatinine",
        "creatinine result",
        CreatinineResult,
        (Role.prescriber, Role.nurse, Role.admin),
        ("measured_on", "value", "unit"),
        _check_creatinine,
        lambda row: row.patient_id,
    ),
}


def _manager(kind: Kind) -> models.Manager[Any]:
    return cast("models.Manager[Any]", kind.model._default_manager)


def _name_of(row: Correctable) -> str:
    return next(name for name, kind in KINDS.items() if isinstance(row, kind.model))


def kind_of(name: str) -> Kind:
    """The kind named ``name`` (weight, vitals, reaction, outcome)."""
    try:
        return KINDS[name]
    except KeyError:
        raise InvalidInput(
            f"unknown kind of entry '{name}'; kinds: {', '.join(KINDS)}", field="kind"
        ) from None


def patient_of(kind: str, row: Any) -> int:
    """The patient an entry belongs to."""
    return kind_of(kind).patient(row)


# --- values as typed (a form's, or JSON text) -----------------------------------------------------


def _value(field: models.Field[Any, Any], raw: Any) -> Any:
    """One corrected value in the field's type; text from JSON is parsed (dates ISO 8601)."""
    name = field.name
    if raw is None or raw == "":
        if field.null:
            return None
        raise InvalidInput(f"{name} is required", field=name)
    if isinstance(raw, bool) and not isinstance(field, models.BooleanField):
        raise InvalidInput(f"{name}: not a {field.get_internal_type()} value", field=name)
    try:
        if isinstance(field, models.DateTimeField):
            at = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
            if at.tzinfo is None:
                raise InvalidInput("give the time with its time zone", field=name)
            return at
        if isinstance(field, models.DateField):
            if isinstance(raw, dt.datetime):
                raise ValueError(raw)
            return raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
        if isinstance(field, models.FloatField):
            return float(raw)
        if isinstance(field, models.IntegerField):
            number = float(raw)
            if not number.is_integer():
                raise ValueError(raw)
            return int(number)
        if isinstance(field, models.JSONField):
            return [str(s) for s in raw] if isinstance(raw, list | tuple) else raw
        return str(raw)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{name}: {raw!r} is not a valid value", field=name) from None


def _corrected(kind: Kind, original: Correctable, values: dict[str, Any]) -> dict[str, Any]:
    """The original's correctable fields with ``values`` applied (each parsed)."""
    if not isinstance(values, dict) or not values:
        raise InvalidInput("give the corrected values", field="values")
    unknown = sorted(set(values) - set(kind.fields))
    if unknown:
        raise InvalidInput(
            f"{', '.join(unknown)} cannot be corrected here; a {kind.label} correction may "
            f"change {', '.join(kind.fields)}",
            field=unknown[0],
        )
    meta = kind.model._meta
    new = {name: getattr(original, name) for name in kind.fields}
    for name, raw in values.items():
        new[name] = _value(meta.get_field(name), raw)  # type: ignore[arg-type]
    return new


def _reason(reason: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("give the reason for the correction", field="reason")
    return text


# --- correct and void -----------------------------------------------------------------------------


def _copy(original: Correctable) -> dict[str, Any]:
    """The original's stored values, for the new entry (not its id, link or recording)."""
    skip = {"id", "supersedes", "correction_reason", "entered_in_error", "recorded_by",
            "recorded_at"}  # fmt: skip
    return {
        f.attname: getattr(original, f.attname)
        for f in original._meta.concrete_fields
        if f.name not in skip
    }


def _open(kind: Kind, entry_id: object) -> Correctable:
    """The entry, locked; refused if it is already corrected or voided, or is a void."""
    original = locked(kind.model, entry_id, kind.label)
    if original.entered_in_error:
        raise Conflict(
            f"{kind.label} {original.pk} is a void (entered in error): it cannot be changed",
            field="entry",
        )
    newer = _manager(kind).filter(supersedes=original).first()
    if newer is not None:
        what = "voided" if newer.entered_in_error else "corrected"
        raise Conflict(
            f"{kind.label} {original.pk} was {what} already (by entry {newer.pk}): correct "
            "the current entry",
            field="entry",
        )
    return original


# The entries a plan reads: a correction or void of one may change a planned dose.
PLANNED_ON = ("weight", "creatinine")


def _recheck_plans(actor: Actor, kind: Kind, original: Any, row: Any) -> None:
    """Mark (or clear) "re-plan needed" on the patient's open courses (issue 16 item 3). The
    import is here: ``replan_needed`` plans with ``courses``, which reads this module."""
    from ivig.records.services import replan_needed

    if kind.name == "weight":
        old, new = f"{original.weight_kg:g} kg", f"{row.weight_kg:g} kg"
    else:
        old, new = f"{original.value:g} {original.unit}", f"{row.value:g} {row.unit}"
    why = (
        f"{kind.label} of {original.measured_on.isoformat()} ({old}) voided"
        if row.entered_in_error
        else f"{kind.label} corrected from {old} to {new}"
    )
    replan_needed.check_patient(actor, kind.patient(original), why)


def _supersede(
    actor: Actor,
    kind: Kind,
    entry_id: object,
    reason: str,
    action: str,
    make: Callable[[Correctable], dict[str, Any]],
) -> Correctable:
    try:
        with transaction.atomic():
            original = _open(kind, entry_id)
            fields = make(original)
            row = _manager(kind).create(
                **fields, supersedes=original, correction_reason=reason, recorded_by=actor
            )
            audit.record(
                actor,
                action,
                kind.name,
                original.pk,
                patient_id=kind.patient(original),
                before=audit.snapshot(original),
                after=audit.snapshot(row),
                reason=reason,
            )
            if kind.name in PLANNED_ON:
                _recheck_plans(actor, kind, original, row)
    except IntegrityError:  # a simultaneous correction of the same entry won the link
        raise Conflict(
            f"{kind.label} {entry_id} was corrected or voided at the same moment by someone "
            "else: reload it",
            field="entry",
        ) from None
    return cast(Correctable, row)


def correct(
    actor: Actor,
    kind: str,
    entry_id: object,
    values: dict[str, Any],
    reason: str,
    *,
    now: dt.datetime | None = None,
) -> Correctable:
    """Correct an entry: a new entry with ``values`` applied supersedes it (requirement 11)."""
    spec = kind_of(kind)
    actor = require(actor, f"correcting a {spec.label}", *spec.roles)
    text = _reason(reason)
    moment = now or timezone.now()

    def make(original: Correctable) -> dict[str, Any]:
        new = _corrected(spec, original, values)
        if all(new[name] == getattr(original, name) for name in spec.fields):
            raise InvalidInput("nothing was changed: give the corrected values", field="values")
        derived = spec.check(original, new, moment)
        return {**_copy(original), **new, **derived}

    return _supersede(actor, spec, entry_id, text, "correct", make)


def void(
    actor: Actor, kind: str, entry_id: object, reason: str, *, now: dt.datetime | None = None
) -> Correctable:
    """Void an entry recorded in error: a new entry marked ``entered_in_error`` supersedes it
    (requirements 11-13; never a delete)."""
    spec = kind_of(kind)
    actor = require(actor, f"voiding a {spec.label}", *spec.roles)
    text = _reason(reason)

    def make(original: Correctable) -> dict[str, Any]:
        return {**_copy(original), "entered_in_error": True}

    return _supersede(actor, spec, entry_id, text, "void", make)


# --- reading --------------------------------------------------------------------------------------


def current(queryset: Q) -> Q:
    """The entries in force: neither superseded by a correction or void, nor a void."""
    return queryset.filter(superseded_by__isnull=True, entered_in_error=False)


def status_of(row: Correctable) -> str:
    """``current``, ``superseded`` (corrected or voided later) or ``entered-in-error`` (a void)."""
    if row.entered_in_error:
        return "entered-in-error"
    if _manager(KINDS[_name_of(row)]).filter(supersedes=row).exists():
        return "superseded"
    return "current"


def history(kind: str, entry_id: object) -> list[Correctable]:
    """Every version of an entry, oldest first: the first recording, each correction, and a
    void if there is one (the last is the one in force unless it is a void)."""
    spec = kind_of(kind)
    manager = _manager(spec)
    row = manager.filter(pk=entry_id).first() if str(entry_id).isdigit() else None
    if row is None:
        raise NotFound(spec.label, entry_id)
    while row.supersedes_id is not None:
        row = manager.get(pk=row.supersedes_id)
    chain = [row]
    while (newer := manager.filter(supersedes=chain[-1]).first()) is not None:
        chain.append(newer)
    return chain
