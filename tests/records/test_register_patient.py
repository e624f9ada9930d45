"""A patient registered with a first weight, or edited with a new one: one transaction, each
part audited as on its own (``patients.register_patient``, ``update_patient_and_weight``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from ivig.errors import InvalidInput
from ivig.records.models import AuditEvent, Patient, WeightRecord
from ivig.records.services import patients

NEW = patients.PatientInput(
    mrn="MRN0042",
    family_name="Okafor",
    given_name="Ada",
    date_of_birth=dt.date(1971, 3, 9),
    sex="female",
    height_cm=168,
)


def test_a_patient_is_registered_with_the_first_weight(
    users: dict[str, Any], today: dt.date
) -> None:
    weighed = today - dt.timedelta(days=2)
    patient = patients.register_patient(
        users["prescriber"], NEW, today=today, weight_kg=61.5, weighed_on=weighed
    )
    weight = WeightRecord.objects.get(patient=patient)
    assert (weight.weight_kg, weight.measured_on) == (61.5, weighed)
    events = AuditEvent.objects.filter(patient_id=patient.pk).order_by("seq")
    assert [(e.action, e.entity) for e in events] == [("create", "patient"), ("create", "weight")]
    bare = patients.register_patient(users["prescriber"], replace(NEW, mrn="MRN0043"), today=today)
    assert not bare.weights.exists()


def test_a_refused_first_weight_leaves_no_patient(users: dict[str, Any], today: dt.date) -> None:
    with pytest.raises(InvalidInput):
        patients.register_patient(users["prescriber"], NEW, today=today, weight_kg=-1)
    assert not Patient.objects.filter(mrn=NEW.mrn).exists()
    assert not AuditEvent.objects.filter(entity="patient").exists()


def test_an_edit_with_a_refused_weight_changes_nothing(
    users: dict[str, Any], today: dt.date
) -> None:
    patient = patients.register_patient(users["prescriber"], NEW, today=today, weight_kg=61.5)
    edited = replace(NEW, height_cm=170)
    with pytest.raises(InvalidInput):
        patients.update_patient_and_weight(
            users["prescriber"], patient.pk, patient.version, edited, today=today, weight_kg=-1
        )
    assert Patient.objects.get(pk=patient.pk).height_cm == 168
    saved, record = patients.update_patient_and_weight(
        users["prescriber"], patient.pk, patient.version, edited, today=today, weight_kg=62
    )
    assert saved.height_cm == 170
    assert record is not None
    assert (record.weight_kg, record.measured_on) == (62, today)
