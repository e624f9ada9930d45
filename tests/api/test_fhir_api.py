"""``GET /api/patients/{patient_id}/fhir`` on the demo's records: every staff role gets the
patient's FHIR R4B Bundle (session or token), anonymous 401, an unknown patient 404; JSON or
``application/fhir+json`` as asked; each export is audited (the read, and the export with what
was sent)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from fhir.resources.R4B.bundle import Bundle

from ivig.records.models import AuditEvent, Order, Patient, Reaction
from ivig.records.services import accounts

ROLES = ("admin", "prescriber", "pharmacist", "nurse")


@pytest.fixture
def demo(demo: dict[str, Any]) -> Patient:
    """The demo's patient with a reaction (the demo loaded by tests/conftest.py's ``demo``)."""
    patient: Patient = Reaction.objects.get().session.order.patient
    return patient


def _client(role: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=f"demo-{role}"))
    return client


def _last() -> int:
    return int(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_gets_the_bundle(demo: Patient, role: str) -> None:
    client = _client(role)  # signing in is audited too (issue 17 item 13)
    start = _last()
    response = client.get(f"/api/patients/{demo.pk}/fhir")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    bundle = Bundle.model_validate_json(response.content)
    assert bundle.type == "collection"
    kinds = Counter(e.resource.get_resource_type() for e in bundle.entry or [] if e.resource)
    assert kinds["Patient"] == 1
    assert kinds["MedicationRequest"] == Order.objects.filter(patient=demo).count()
    assert kinds["AdverseEvent"] == 1
    assert response.json()["entry"][0]["resource"]["identifier"][0]["value"] == demo.mrn

    events = list(AuditEvent.objects.filter(seq__gt=start).order_by("seq"))
    assert [(e.action, e.entity, e.patient_id) for e in events] == [
        ("export", "fhir", demo.pk),
        ("read", "fhir export", demo.pk),
    ]
    assert all(e.actor == f"demo-{role}" for e in events)
    export = events[0].after
    assert export is not None
    assert export["channel"] == "api"
    assert export["resources"] == dict(kinds)


def test_fhir_json_when_asked_and_by_token(demo: Patient) -> None:
    nurse = User.objects.get(username="demo-nurse")
    _, raw = accounts.create_token(None, nurse.pk, "lab interface", system=True)
    response = Client().get(
        f"/api/patients/{demo.pk}/fhir",
        headers={"Authorization": f"Bearer {raw}", "Accept": "application/fhir+json"},
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json; charset=utf-8"
    assert Bundle.model_validate_json(response.content).entry
    event = AuditEvent.objects.filter(action="export").get()
    assert (event.actor, event.patient_id) == ("demo-nurse", demo.pk)


def test_anonymous_401_and_unknown_404(demo: Patient) -> None:
    nurse = _client("nurse")  # signing in is audited (issue 17 item 13)
    start = _last()
    response = Client().get(f"/api/patients/{demo.pk}/fhir")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    response = Client().get(f"/api/patients/{demo.pk}/fhir", headers={"Authorization": "Bearer x"})
    assert response.status_code == 401
    assert _last() == start  # nothing sent, nothing logged
    missing = nurse.get("/api/patients/999999/fhir")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert not AuditEvent.objects.filter(seq__gt=start).exists()


def test_the_route_is_in_the_api_document(demo: Patient) -> None:
    document: dict[str, Any] = _client("admin").get("/api/openapi.json").json()
    operation = document["paths"]["/api/patients/{patient_id}/fhir"]["get"]
    assert sorted(operation["x-roles"]) == sorted(ROLES)
    assert "FHIR R4B Bundle" in operation["description"]
