"""Corrections through the API (requirements 11, 12): 201 with the new entry, 422 without a
reason, 409 for a second correction, the history with both entries; the roles of each kind."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import AuditEvent, InfusionSession, Order, Vitals, WeightRecord


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def test_correct_a_weight_then_read_its_history(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    """Requirement 11: the original stays readable, marked superseded; the history shows both."""
    original = patient.weights.get()
    nurse = client_for("nurse")
    answer = _post(
        nurse,
        f"/api/weights/{original.pk}/corrections",
        {"values": {"weight_kg": 92.5}, "reason": "weighed in outdoor clothes"},
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["kind"] == "weight"
    assert body["status"] == "current"
    assert body["weight_kg"] == 92.5
    assert body["supersedes_id"] == original.pk
    assert body["correction_reason"] == "weighed in outdoor clothes"

    history = client_for("pharmacist").get(f"/api/weights/{original.pk}/history")
    assert history.status_code == 200
    entries = history.json()["entries"]
    assert [(e["id"], e["status"], e["weight_kg"]) for e in entries] == [
        (original.pk, "superseded", 86.4), (body["id"], "current", 92.5),
    ]  # fmt: skip
    patient_page = nurse.get(f"/api/patients/{patient.pk}").json()
    assert [w["weight_kg"] for w in patient_page["weights"]] == [92.5]


def test_no_reason_is_422_and_a_second_void_is_409(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    """Requirement 12: a void without a reason is 422; a second void of the same entry 409."""
    original = patient.weights.get()
    prescriber = client_for("prescriber")
    url = f"/api/weights/{original.pk}/void"
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        answer = _post(prescriber, url, body)
        assert answer.status_code == 422, answer.content
        assert answer.json()["error"]["field"] == "reason"
    answer = _post(
        prescriber, f"/api/weights/{original.pk}/corrections", {"values": {"weight_kg": 9}}
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "reason"
    assert _post(prescriber, url, {"reason": "another patient's weight"}).status_code == 201
    again = _post(prescriber, url, {"reason": "another patient's weight"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert WeightRecord.objects.count() == 2
    assert AuditEvent.objects.filter(action="void").count() == 1


def test_vitals_corrections_are_the_nurses_and_are_checked(
    client_for: Callable[[str | None], Client], users: dict[str, Any], dispensed: Order
) -> None:
    """Requirements 11, 34, 15: impossible corrected vital signs are 422; a prescriber 403."""
    now = timezone.now()
    session = InfusionSession.objects.create(
        order=dispensed, state="running", started_at=now - dt.timedelta(hours=1)
    )
    vitals = Vitals.objects.create(
        session=session, at=now - dt.timedelta(minutes=30), spo2_percent=97,
        recorded_by=users["nurse"],
    )  # fmt: skip
    url = f"/api/vitals/{vitals.pk}/corrections"
    refused = _post(client_for("prescriber"), url, {"values": {"spo2_percent": 95}, "reason": "x"})
    assert refused.status_code == 403
    impossible = _post(client_for("nurse"), url, {"values": {"spo2_percent": 120}, "reason": "x"})
    assert impossible.status_code == 422
    assert impossible.json()["error"]["field"] == "spo2_percent"
    done = _post(client_for("nurse"), url, {"values": {"spo2_percent": 95}, "reason": "misread"})
    assert done.status_code == 201, done.content
    assert done.json()["spo2_percent"] == 95
    assert Vitals.objects.get(pk=vitals.pk).spo2_percent == 97


def test_unknown_entries_are_404(client_for: Callable[[str | None], Client], patient: Any) -> None:
    nurse = client_for("nurse")
    assert nurse.get("/api/weights/999999/history").status_code == 404
    answer = _post(nurse, "/api/weights/999999/void", {"reason": "x"})
    assert answer.status_code == 404
