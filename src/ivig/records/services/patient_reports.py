"""What patients report (issue 7): the day-before check of their next infusion, the symptom
diary in the days after an infusion, and their own outcome check-ins (MG-ADL); and what the
service sees of it (the alerts themselves are closed in ``services.alerts``).

Rules:

- A patient acts only for themselves (``access.patient_of``); an order that is not theirs is
  :class:`NotFound`, as if it did not exist.
- The day-before check never cancels or defers anything: an answer that calls for it sets
  ``needs_review`` and the run sheet shows "Review before starting" until a nurse or prescriber
  closes the alert with the action taken (``services.alerts``, issue 16). New medicines alone
  do not call for a review; they still show to the nurse.
- A diary entry is serious when a symptom that may mean kidney trouble, a clot or a severe
  reaction is there at any severity (breathing trouble, chest pain, reduced urine, leg swelling
  or pain), or when any symptom is severe; the service sees an alert until a nurse or
  prescriber closes it with the action taken (``services.alerts``).
- Every write is audited in its own transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ivig.core.outcomes import check_score
from ivig.errors import Conflict, Forbidden, InvalidInput, NotFound
from ivig.records import audit
from ivig.records.actors import Actor
from ivig.records.library import current_library
from ivig.records.models import (
    DayBeforeCheck,
    DiaryEntry,
    Order,
    OrderStatus,
    Outcome,
    Patient,
    RateChange,
)
from ivig.records.services.access import patient_of
from ivig.records.services.outcomes import measures_for

__all__ = [
    "CHECK_QUESTIONS",
    "DIARY_DAYS",
    "MGADL_ITEMS",
    "SERIOUS_SYMPTOMS",
    "SEVERITIES",
    "SYMPTOMS",
    "checkin",
    "checkin_offered",
    "checks_to_review",
    "day_before_check",
    "diary_entry",
    "diary_order",
    "latest_check",
    "mild_since_last",
    "next_order",
    "open_alerts",
    "patients_with_alerts",
    "serious",
    "symptom_words",
    "symptoms_by_rate",
]


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    text: str  # asked of the patient
    flag: str  # what the staff read when the answer is yes
    review: bool  # a yes calls for a review before starting


CHECK_QUESTIONS: tuple[Question, ...] = (
    Question("fever", "Do you have a fever, or feel hot and shivery?", "fever", True),
    Question(
        "infection",
        "Do you have an infection, or are you taking antibiotics?",
        "an infection or antibiotics",
        True,
    ),
    Question("unwell", "Do you feel unwell in any other way?", "feeling unwell", True),
    Question("new_medicines", "Have you started any new medicines?", "new medicines", False),
    Question(
        "vaccine",
        "Have you had a vaccine (a jab) in the last 4 weeks?",
        "a vaccine in the last 4 weeks",
        True,
    ),
    Question(
        "less_urine", "Are you passing less urine (pee) than usual?", "passing less urine", True
    ),
    Question("leg", "Do you have swelling or pain in a leg?", "leg swelling or pain", True),
)

# The diary's symptoms: key -> words (for the patient and the staff).
SYMPTOMS: dict[str, str] = {
    "headache": "headache",
    "nausea": "feeling sick (nausea)",
    "back_pain": "back pain",
    "fever": "fever",
    "rash": "rash or hives",
    "breathing": "breathing trouble",
    "chest_pain": "chest pain",
    "less_urine": "passing less urine",
    "leg": "leg swelling or pain",
}
SEVERITIES = ("none", "mild", "moderate", "severe")
# Serious at any severity: may mean a severe reaction, a clot, or kidney trouble.
SERIOUS_SYMPTOMS = frozenset({"breathing", "chest_pain", "less_urine", "leg"})
DIARY_DAYS = 7  # the diary covers the infusion day and the 7 days after it

# MG-ADL (Wolfe 1999), eight items scored 0-3, in plain words; the total is the "mg-adl"
# measure of data/outcomes.toml. Each item: key, question, the four answers (0, 1, 2, 3).
MGADL_ITEMS: tuple[tuple[str, str, tuple[str, str, str, str]], ...] = (
    (
        "talking",
        "Talking",
        (
            "Normal",
            "My speech is slurred or nasal now and then",
            "Slurred or nasal all the time, but I can be understood",
            "Hard to understand",
        ),
    ),
    (
        "chewing",
        "Chewing",
        (
            "Normal",
            "I get tired chewing solid food",
            "I get tired chewing soft food",
            "I need a feeding tube",
        ),
    ),
    (
        "swallowing",
        "Swallowing",
        (
            "Normal",
            "I choke now and then",
            "I choke often, so I change what I eat",
            "I need a feeding tube",
        ),
    ),
    (
        "breathing",
        "Breathing",
        (
            "Normal",
            "Short of breath when I do a lot",
            "Short of breath at rest",
            "I need a machine to help me breathe",
        ),
    ),
    (
        "grooming",
        "Brushing your teeth or combing your hair",
        (
            "No problem",
            "It takes extra effort, but I do not need to rest",
            "I need to rest",
            "I cannot do it",
        ),
    ),
    (
        "rising",
        "Getting up from a chair",
        (
            "No problem",
            "A little hard, sometimes I use my arms",
            "Hard, I always use my arms",
            "I need help",
        ),
    ),
    (
        "double_vision",
        "Double vision",
        (
            "None",
            "It happens, but not every day",
            "Every day, but not all the time",
            "All the time",
        ),
    ),
    (
        "eyelid",
        "Drooping eyelids",
        (
            "None",
            "It happens, but not every day",
            "Every day, but not all the time",
            "All the time",
        ),
    ),
)

OPEN = (OrderStatus.planned, OrderStatus.verified, OrderStatus.dispensed)


def _own_patient(actor: Actor) -> tuple[User, Patient]:
    """The patient reporting with their own account (issue 7): the user, signed in, and the
    patient; ``Forbidden`` for anyone else."""
    patient = patient_of(actor)
    if patient is None or not isinstance(actor, User):
        raise Forbidden("reporting as a patient", ("patient",))
    return actor, patient


# --- the day before ------------------------------------------------------------------------------


def next_order(patient: Patient, today: dt.date) -> Order | None:
    """The patient's next infusion: the first order dated tomorrow or later that is still on
    (not cancelled, deferred, or completed)."""
    return (
        Order.objects.filter(patient=patient, date__gt=today, status__in=OPEN)
        .order_by("date", "sequence", "id")
        .first()
    )


def day_before_check(
    actor: Actor, order_id: int, answers: dict[str, bool], *, today: dt.date, now: dt.datetime
) -> DayBeforeCheck:
    """The patient's answers for their next infusion. A yes that calls for it flags the order
    for review before starting; the order itself is not touched."""
    actor, patient = _own_patient(actor)
    with transaction.atomic():
        order = Order.objects.filter(pk=order_id, patient=patient).first()
        if order is None:
            raise NotFound("order", order_id)
        upcoming = next_order(patient, today)
        if upcoming is None or upcoming.pk != order.pk:
            raise InvalidInput("this is not your next infusion", field="order")
        unknown = set(answers) - {q.key for q in CHECK_QUESTIONS}
        if unknown:
            raise InvalidInput(f"unknown question: {', '.join(sorted(unknown))}", field="answers")
        clean = {q.key: bool(answers.get(q.key, False)) for q in CHECK_QUESTIONS}
        flags = [q.flag for q in CHECK_QUESTIONS if clean[q.key]]
        needs_review = any(clean[q.key] for q in CHECK_QUESTIONS if q.review)
        row = DayBeforeCheck.objects.create(
            patient=patient,
            order=order,
            answers=clean,
            flags=flags,
            needs_review=needs_review,
            submitted_by=actor,
            submitted_at=now,
        )
        audit.created(actor, "day-before check", row, patient_id=patient.pk)
    return row


def latest_check(order: Order) -> DayBeforeCheck | None:
    """The order's latest day-before check (a new one replaces the earlier for display)."""
    return (
        DayBeforeCheck.objects.filter(order=order)
        .select_related("reviewed_by")
        .order_by("-submitted_at", "-id")
        .first()
    )


def checks_to_review(order: Order) -> list[DayBeforeCheck]:
    """The order's flagged day-before checks not yet reviewed, oldest first: each stays on the
    run sheet's "Review before starting" banner until a nurse or prescriber closes it, whatever
    a later answer says (a later clean check does not hide an earlier fever; the alerts
    worklist lists each too)."""
    return list(
        DayBeforeCheck.objects.filter(order=order, needs_review=True, reviewed_at=None).order_by(
            "submitted_at", "id"
        )
    )


# --- the diary -----------------------------------------------------------------------------------


def diary_order(patient: Patient, today: dt.date) -> Order | None:
    """The infusion the diary is about: the patient's latest infusion given (completed, or
    under way) in the last ``DIARY_DAYS`` days."""
    return (
        Order.objects.filter(
            patient=patient,
            status__in=(OrderStatus.completed, OrderStatus.in_progress),
            date__lte=today,
            date__gte=today - dt.timedelta(days=DIARY_DAYS),
        )
        .order_by("-date", "-sequence", "-id")
        .first()
    )


def serious(symptoms: dict[str, str]) -> bool:
    return any(
        sev != "none" and (key in SERIOUS_SYMPTOMS or sev == "severe")
        for key, sev in symptoms.items()
    )


def diary_entry(
    actor: Actor,
    day: dt.date,
    symptoms: dict[str, str],
    note: str = "",
    *,
    today: dt.date,
    now: dt.datetime,
) -> DiaryEntry:
    """The patient's symptoms on ``day`` (the infusion day or up to 7 days after it)."""
    actor, patient = _own_patient(actor)
    unknown = set(symptoms) - set(SYMPTOMS)
    if unknown:
        raise InvalidInput(f"unknown symptom: {', '.join(sorted(unknown))}", field="symptoms")
    bad = {k: v for k, v in symptoms.items() if v not in SEVERITIES}
    if bad:
        raise InvalidInput(f"unknown severity: {', '.join(sorted(bad))}", field="symptoms")
    with transaction.atomic():
        order = diary_order(patient, today)
        if order is None:
            raise InvalidInput("you have had no infusion in the last 7 days", field="day")
        if day > today:
            raise InvalidInput("the day cannot be in the future", field="day")
        if not order.date <= day <= order.date + dt.timedelta(days=DIARY_DAYS):
            raise InvalidInput("pick a day from your last infusion to 7 days after it", field="day")
        clean = {k: symptoms.get(k, "none") for k in SYMPTOMS}
        row = DiaryEntry.objects.create(
            patient=patient,
            order=order,
            day=day,
            symptoms=clean,
            serious=serious(clean),
            note=note.strip(),
            submitted_by=actor,
            submitted_at=now,
        )
        audit.created(actor, "diary entry", row, patient_id=patient.pk)
    return row


def symptom_words(symptoms: dict[str, str]) -> list[dict[str, str]]:
    return [
        {"key": k, "name": SYMPTOMS.get(k, k), "severity": v}
        for k, v in symptoms.items()
        if v != "none"
    ]


def open_alerts(patient: Patient) -> list[dict[str, Any]]:
    """Serious diary entries not yet acknowledged, oldest first."""
    rows = DiaryEntry.objects.filter(patient=patient, serious=True, acknowledged_at=None)
    return [{"entry": e, "symptoms": symptom_words(e.symptoms)} for e in rows.order_by("day", "id")]


def patients_with_alerts(patient_ids: list[int]) -> set[int]:
    return set(
        DiaryEntry.objects.filter(
            patient_id__in=patient_ids, serious=True, acknowledged_at=None
        ).values_list("patient_id", flat=True)
    )


def _worst(entries: list[DiaryEntry]) -> list[dict[str, str]]:
    """Each symptom reported over the entries at its worst severity."""
    worst: dict[str, str] = {}
    for e in entries:
        for k, v in e.symptoms.items():
            if SEVERITIES.index(v) > SEVERITIES.index(worst.get(k, "none")):
                worst[k] = v
    return symptom_words({k: worst[k] for k in SYMPTOMS if k in worst})


def mild_since_last(order: Order) -> dict[str, Any] | None:
    """For the pre-infusion check of ``order``: what the patient reported in the diary after
    their previous infusion (every symptom, at its worst)."""
    previous = (
        Order.objects.filter(patient_id=order.patient_id, date__lt=order.date)
        .filter(diary_entries__isnull=False)
        .order_by("-date", "-sequence", "-id")
        .first()
    )
    if previous is None:
        return None
    entries = list(previous.diary_entries.order_by("day", "id"))
    symptoms = _worst(entries)
    if not symptoms:
        return None
    return {"order": previous, "symptoms": symptoms, "entries": len(entries)}


def symptoms_by_rate(patient: Patient) -> list[dict[str, Any]]:
    """Across infusions: the symptoms reported after each, next to the highest rate recorded
    in that infusion ("headache after 336 mL/h"), newest first."""
    out = []
    orders = (
        Order.objects.filter(patient=patient, diary_entries__isnull=False)
        .distinct()
        .order_by("-date", "-sequence")
    )
    for order in orders:
        symptoms = _worst(list(order.diary_entries.all()))
        if not symptoms:
            continue
        top = RateChange.objects.filter(session__order=order).aggregate(top=Max("rate_ml_per_h"))
        out.append({"order": order, "symptoms": symptoms, "top_rate": top["top"]})
    return out


# --- outcome check-ins ---------------------------------------------------------------------------


def checkin_offered(patient: Patient) -> bool:
    """Whether the MG-ADL check-in is one of the outcome measures of the patient's indications
    (``outcome_measures`` in indications.toml: MG and LEMS, not CIDP or MMN)."""
    return "mg-adl" in measures_for(patient)


def checkin(actor: Actor, answers: dict[str, int], *, today: dt.date) -> Outcome:
    """The patient's MG-ADL: eight items 0-3, the total saved as a patient-reported outcome;
    only for a patient whose indications measure it (``checkin_offered``)."""
    actor, patient = _own_patient(actor)
    if not checkin_offered(patient):
        raise Conflict("the MG-ADL check-in is not a measure of your treatment", field="measure")
    keys = [key for key, _, _ in MGADL_ITEMS]
    missing = [k for k in keys if k not in answers]
    if missing or set(answers) - set(keys):
        raise InvalidInput("answer each of the 8 questions", field="answers")
    if any(not isinstance(v, int) or not 0 <= v <= 3 for v in answers.values()):
        raise InvalidInput("each answer scores 0 to 3", field="answers")
    total = float(sum(answers.values()))
    check_score("mg-adl", total, measures=current_library().outcomes)
    with transaction.atomic():
        row = Outcome.objects.create(
            patient=patient,
            measure="mg-adl",
            value=total,
            measured_on=today,
            patient_reported=True,
            recorded_by=actor,
        )
        audit.created(actor, "outcome", row, patient_id=patient.pk)
        audit.record(
            actor,
            "check-in",
            "outcome",
            row.pk,
            patient_id=patient.pk,
            after={"items": dict(answers), "total": total},
        )
    return row


def now_and_today() -> tuple[dt.datetime, dt.date]:
    now = timezone.now()
    return now, timezone.localdate(now)
