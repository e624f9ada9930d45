"""Corrections never overwrite (requirements 11, 12, 13): a correction or a void is a new entry
linked to the original, with a reason; the original stays as it was; a second correction of
the same entry is a conflict; readers of "the" weight or outcome skip superseded entries."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ivig.errors import Conflict, Forbidden, InvalidInput, InvalidTime, OutOfRange
from ivig.records import audit
from ivig.records.models import (
    AuditEvent,
    InfusionSession,
    Order,
    Outcome,
    Reaction,
    Vitals,
    WeightRecord,
)
from ivig.records.services import corrections, outcomes, patients

NOW = timezone.now()


@pytest.fixture
def running(users: dict[str, Any], dispensed: Order) -> Order:
    """The dispensed order's infusion, started an hour ago, with one set of vital signs and a
    reaction (rows made directly: what is corrected here is the stored entry)."""
    nurse = users["nurse"]
    session = InfusionSession.objects.create(
        order=dispensed, state="running", started_at=NOW - dt.timedelta(hours=1), started_by=nurse
    )
    Vitals.objects.create(
        session=session, at=NOW - dt.timedelta(minutes=45), temperature_c=36.8, pulse_per_min=80,
        systolic_mm_hg=120, diastolic_mm_hg=80, recorded_by=nurse,
    )  # fmt: skip
    Reaction.objects.create(
        session=session, at=NOW - dt.timedelta(minutes=30), symptoms=["headache"],
        severity="mild", recommended={"action": "slow", "message": "slow the rate"},
        action_taken="slowed the rate", recorded_by=nurse,
    )  # fmt: skip
    return dispensed


def _weight(patient: Any) -> WeightRecord:
    row = patient.weights.get()
    assert isinstance(row, WeightRecord)
    return row


def _row_values(row: Any) -> dict[str, Any]:
    return audit.snapshot(row)


def test_a_correction_is_a_new_linked_entry_and_the_original_stays(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 11: the original row is unchanged, marked superseded; the new row links it."""
    original = _weight(patient)
    stored = _row_values(original)
    new = corrections.correct(
        users["nurse"], "weight", original.pk, {"weight_kg": 90}, "scale was not zeroed"
    )
    assert isinstance(new, WeightRecord)
    assert new.pk != original.pk
    assert new.supersedes_id == original.pk
    assert (new.weight_kg, new.measured_on) == (90, original.measured_on)
    assert new.correction_reason == "scale was not zeroed"
    assert new.recorded_by_id == users["nurse"].pk
    assert not new.entered_in_error
    original.refresh_from_db()
    assert _row_values(original) == stored  # never updated
    assert corrections.status_of(original) == "superseded"
    assert corrections.status_of(new) == "current"
    assert corrections.history("weight", original.pk) == [original, new]
    assert corrections.history("weight", new.pk) == [original, new]
    # readers use the weight in force
    assert patients.latest_weight(patient) == new
    assert list(corrections.current(WeightRecord.objects.filter(patient=patient))) == [new]


def test_a_void_supersedes_with_entered_in_error(users: dict[str, Any], patient: Any) -> None:
    """Requirements 11, 13: a void is a new entry marked entered in error, never a delete."""
    original = _weight(patient)
    void = corrections.void(users["prescriber"], "weight", original.pk, "wrong patient")
    assert void.entered_in_error
    assert void.supersedes_id == original.pk
    assert (void.weight_kg, void.measured_on) == (original.weight_kg, original.measured_on)
    assert WeightRecord.objects.filter(pk=original.pk).exists()
    assert corrections.status_of(void) == "entered-in-error"
    assert patients.latest_weight(patient) is None  # no weight in force: no rates
    assert corrections.history("weight", original.pk) == [original, void]


def test_each_correction_and_void_is_audited(users: dict[str, Any], patient: Any) -> None:
    """Requirements 11, 5: the action, before (original), after (new), reason and patient."""
    original = _weight(patient)
    new = corrections.correct(users["nurse"], "weight", original.pk, {"weight_kg": 91}, "typo")
    voided = corrections.void(users["nurse"], "weight", new.pk, "duplicate entry")
    correct_event, void_event = AuditEvent.objects.filter(action__in=("correct", "void")).order_by(
        "seq"
    )
    assert (correct_event.action, correct_event.entity) == ("correct", "weight")
    assert correct_event.entity_id == str(original.pk)
    assert correct_event.patient_id == patient.pk
    assert correct_event.before is not None
    assert correct_event.after is not None
    assert correct_event.before["weight_kg"] == 86.4
    assert correct_event.after["weight_kg"] == 91
    assert correct_event.after["supersedes_id"] == original.pk
    assert correct_event.reason == "typo"
    assert (void_event.action, void_event.entity_id) == ("void", str(new.pk))
    assert void_event.after is not None
    assert void_event.after["id"] == voided.pk
    assert void_event.after["entered_in_error"] is True
    assert void_event.reason == "duplicate entry"
    assert audit.verify_chain().ok


@pytest.mark.parametrize("reason", ["", "   "])
def test_no_reason_is_refused(users: dict[str, Any], patient: Any, reason: str) -> None:
    """Requirement 12: a correction or void without a reason is refused (422, field reason)."""
    original = _weight(patient)
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as caught:
        corrections.correct(users["nurse"], "weight", original.pk, {"weight_kg": 90}, reason)
    assert caught.value.field == "reason"
    assert caught.value.http_status == 422
    with pytest.raises(InvalidInput) as caught:
        corrections.void(users["nurse"], "weight", original.pk, reason)
    assert caught.value.field == "reason"
    assert WeightRecord.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_a_second_correction_of_the_same_entry_is_a_conflict(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 12: a second archive of the same record gives 409."""
    original = _weight(patient)
    corrections.void(users["nurse"], "weight", original.pk, "wrong patient")
    with pytest.raises(Conflict) as caught:
        corrections.void(users["nurse"], "weight", original.pk, "wrong patient")
    assert caught.value.http_status == 409
    with pytest.raises(Conflict):
        corrections.correct(users["nurse"], "weight", original.pk, {"weight_kg": 90}, "again")
    void = WeightRecord.objects.get(supersedes=original)
    with pytest.raises(Conflict, match="void"):  # a void itself cannot be corrected
        corrections.correct(users["nurse"], "weight", void.pk, {"weight_kg": 90}, "undo")
    assert WeightRecord.objects.count() == 2


def test_the_database_backs_the_one_correction_rule(users: dict[str, Any], patient: Any) -> None:
    """Requirement 12: even past the service, two entries cannot supersede the same one."""
    original = _weight(patient)
    corrections.correct(users["nurse"], "weight", original.pk, {"weight_kg": 90}, "typo")
    with pytest.raises(IntegrityError), transaction.atomic():
        WeightRecord.objects.create(
            patient=patient,
            measured_on=original.measured_on,
            weight_kg=95,
            recorded_by=users["nurse"],
            supersedes=original,
        )


def test_simultaneous_corrections_record_one(live_records: None, users: dict[str, Any],
                                             patient: Any) -> None:  # fmt: skip
    """Requirements 12, 32: two nurses correct the same weight at once: one wins, one 409."""
    original = _weight(patient)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def attempt(kg: float) -> None:
        try:
            barrier.wait(timeout=10)
            corrections.correct(users["nurse"], "weight", original.pk, {"weight_kg": kg}, "typo")
            results.append("ok")
        except Conflict:
            results.append("conflict")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(kg,)) for kg in (90, 91)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["conflict", "ok"]
    assert WeightRecord.objects.filter(supersedes=original).count() == 1
    assert audit.verify_chain().ok


def test_a_correction_is_checked_as_a_new_recording(users: dict[str, Any], patient: Any) -> None:
    """Requirement 11 with 34: a corrected weight must be in range; a date not in the future."""
    original = _weight(patient)
    with pytest.raises(OutOfRange) as caught:
        corrections.correct(users["nurse"], "weight", original.pk, {"weight_kg": 900}, "typo")
    assert caught.value.field == "weight_kg"
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    with pytest.raises(InvalidInput) as caught:
        corrections.correct(users["nurse"], "weight", original.pk, {"measured_on": tomorrow}, "x")
    assert caught.value.field == "measured_on"
    with pytest.raises(InvalidInput) as caught:  # a field that is not the weight's
        corrections.correct(users["nurse"], "weight", original.pk, {"patient_id": 2}, "x")
    assert caught.value.field == "patient_id"
    with pytest.raises(InvalidInput) as caught:  # nothing changed
        corrections.correct(users["nurse"], "weight", original.pk, {"weight_kg": 86.4}, "x")
    assert caught.value.field == "values"
    with pytest.raises(InvalidInput) as caught:
        corrections.correct(users["nurse"], "weight", original.pk, {"weight_kg": "heavy"}, "x")
    assert caught.value.field == "weight_kg"
    assert WeightRecord.objects.count() == 1


def test_roles_are_those_that_record(users: dict[str, Any], patient: Any, running: Order) -> None:
    """Requirement 15: weight prescriber/nurse/admin, vitals and reactions the nurse, outcomes
    prescriber/nurse; the check comes first."""
    weight = _weight(patient)
    vitals = Vitals.objects.get()
    with pytest.raises(Forbidden):
        corrections.correct(users["pharmacist"], "weight", weight.pk, {"weight_kg": 90}, "x")
    with pytest.raises(Forbidden):
        corrections.void(users["prescriber"], "vitals", vitals.pk, "x")
    with pytest.raises(Forbidden):
        corrections.void(users["admin"], "reaction", Reaction.objects.get().pk, "x")
    outcome = outcomes.record_outcome(
        users["nurse"], patient.pk, "3tug", 20, timezone.localdate(), today=timezone.localdate()
    )
    with pytest.raises(Forbidden):
        corrections.void(users["admin"], "outcome", outcome.pk, "x")
    corrections.void(users["prescriber"], "outcome", outcome.pk, "wrong patient")
    with pytest.raises(InvalidInput) as caught:
        corrections.void(users["nurse"], "lot", 1, "x")
    assert caught.value.field == "kind"


def test_vitals_corrections_refuse_the_impossible_and_flag_the_abnormal(
    users: dict[str, Any], running: Order
) -> None:
    """Requirements 11 and 34: corrected vitals go through the same check (impossible: 422)."""
    original = Vitals.objects.get()
    nurse = users["nurse"]
    with pytest.raises(OutOfRange) as caught:
        corrections.correct(nurse, "vitals", original.pk, {"spo2_percent": 120}, "typo")
    assert caught.value.field == "spo2_percent"
    with pytest.raises(InvalidInput) as caught:
        corrections.correct(nurse, "vitals", original.pk, {"diastolic_mm_hg": 130}, "typo")
    assert caught.value.field == "diastolic_mm_hg"
    with pytest.raises(InvalidTime):  # before the start of the infusion
        corrections.correct(
            nurse, "vitals", original.pk, {"at": NOW - dt.timedelta(hours=2)}, "time"
        )
    with pytest.raises(InvalidTime):  # in the future
        corrections.correct(
            nurse, "vitals", original.pk, {"at": (NOW + dt.timedelta(hours=1)).isoformat()}, "t"
        )
    fixed = corrections.correct(
        nurse, "vitals", original.pk, {"temperature_c": 38.6}, "read the wrong thermometer"
    )
    assert isinstance(fixed, Vitals)
    assert fixed.temperature_c == 38.6
    assert (fixed.pulse_per_min, fixed.systolic_mm_hg, fixed.at) == (80, 120, original.at)
    assert [f["field"] for f in fixed.flags] == ["temperature_c"]
    assert fixed.session_id == original.session_id
    assert Vitals.objects.count() == 2


def test_a_reaction_is_corrected_and_voided(users: dict[str, Any], running: Order) -> None:
    """Requirement 11: a reaction's correction keeps the advice it was given at the time."""
    original = Reaction.objects.get()
    fixed = corrections.correct(
        users["nurse"],
        "reaction",
        original.pk,
        {"symptoms": ["headache", "nausea"], "medicines_given": "paracetamol 1 g"},
        "nausea left out",
    )
    assert isinstance(fixed, Reaction)
    assert fixed.symptoms == ["headache", "nausea"]
    assert fixed.recommended == original.recommended
    assert fixed.severity == original.severity
    with pytest.raises(InvalidInput) as caught:
        corrections.correct(users["nurse"], "reaction", fixed.pk, {"symptoms": []}, "x")
    assert caught.value.field == "symptoms"
    with pytest.raises(InvalidInput) as caught:
        corrections.correct(users["nurse"], "reaction", fixed.pk, {"severity": "awful"}, "x")
    assert caught.value.field == "severity"
    void = corrections.void(users["nurse"], "reaction", fixed.pk, "not a reaction: the patient "
                            "was anxious")  # fmt: skip
    assert [r.pk for r in corrections.history("reaction", original.pk)] == [
        original.pk, fixed.pk, void.pk,
    ]  # fmt: skip
    assert not corrections.current(Reaction.objects.all()).exists()


def test_outcome_series_uses_the_entries_in_force(users: dict[str, Any], patient: Any) -> None:
    """Requirement 11: a corrected baseline changes the comparison; a void drops the entry."""
    today = timezone.localdate()
    nurse = users["nurse"]
    first = outcomes.record_outcome(nurse, patient.pk, "3tug", 30, today - dt.timedelta(days=30),
                                    today=today)  # fmt: skip
    second = outcomes.record_outcome(nurse, patient.pk, "3tug", 20, today, today=today)
    extra = outcomes.record_outcome(nurse, patient.pk, "qmg", 12, today, today=today)
    fixed = corrections.correct(nurse, "outcome", first.pk, {"value": 22}, "typed 30 for 22")
    corrections.void(nurse, "outcome", extra.pk, "another patient's score")
    series = outcomes.outcome_series(patient)
    assert [(row["id"], row["value"], row["baseline"]) for row in series] == [
        (fixed.pk, 22, 22), (second.pk, 20, 22),
    ]  # fmt: skip
    assert Outcome.objects.count() == 5
    with pytest.raises(InvalidInput) as caught:
        corrections.correct(nurse, "outcome", second.pk, {"measure": "grip"}, "x")
    assert caught.value.field == "measure"
    with pytest.raises(OutOfRange):
        corrections.correct(nurse, "outcome", second.pk, {"value": -5}, "x")
