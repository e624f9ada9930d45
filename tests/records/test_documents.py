"""The documents service: each document of a patient's record is made and audited in one call,
and a document that cannot be handed over leaves no audit event (``deliver`` runs inside the
event's transaction)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ivig.records.models import AuditEvent, Order
from ivig.records.services import documents


def _last() -> int:
    return int(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


def test_the_calendar_export_names_its_events_and_the_channel(
    users: dict[str, Any], dispensed: Order, now: dt.datetime
) -> None:
    patient = dispensed.patient
    start = _last()
    body, events = documents.export_calendar(users["nurse"], patient, now=now)
    assert body.startswith(b"BEGIN:VCALENDAR")
    assert events == 2
    documents.export_calendar(None, patient, now=now, via="cli")
    rows = list(AuditEvent.objects.filter(seq__gt=start).order_by("seq"))
    assert [(e.action, e.entity, e.patient_id, e.after) for e in rows] == [
        ("export", "calendar", patient.pk, {"events": 2, "format": "ics"}),
        ("export", "calendar", patient.pk, {"events": 2, "format": "ics", "via": "cli"}),
    ]


def test_a_patients_own_copy_is_their_read_and_the_export(
    users: dict[str, Any], dispensed: Order, now: dt.datetime
) -> None:
    patient = dispensed.patient
    start = _last()
    documents.export_calendar(users["nurse"], patient, now=now, own_url="/me/calendar.ics")
    rows = list(AuditEvent.objects.filter(seq__gt=start).order_by("seq"))
    assert [(e.action, e.entity, e.after) for e in rows] == [
        ("read", "calendar", {"url": "/me/calendar.ics"}),
        ("export", "calendar", None),
    ]


@pytest.mark.parametrize("document", ["calendar", "fhir"])
def test_a_document_not_handed_over_is_not_audited(
    users: dict[str, Any], dispensed: Order, now: dt.datetime, document: str
) -> None:
    def full_disk(_body: object) -> None:
        raise OSError("No space left on device")

    def export() -> object:
        if document == "calendar":
            return documents.export_calendar(None, dispensed.patient, now=now, deliver=full_disk)
        return documents.export_fhir(
            None, dispensed.patient, now=now, channel="cli", deliver=full_disk
        )

    start = _last()
    with pytest.raises(OSError, match="No space"):
        export()
    assert not AuditEvent.objects.filter(seq__gt=start).exists()


def test_the_fhir_export_counts_what_it_sent(
    users: dict[str, Any], dispensed: Order, now: dt.datetime
) -> None:
    handed: list[dict[str, Any]] = []
    bundle = documents.export_fhir(
        users["pharmacist"], dispensed.patient, now=now, channel="api", deliver=handed.append
    )
    assert handed == [bundle]
    event = AuditEvent.objects.get(action="export")
    assert (event.entity, event.patient_id) == ("fhir", dispensed.patient_id)
    assert event.after["channel"] == "api"
    assert event.after["resources"]["MedicationRequest"] == 2
