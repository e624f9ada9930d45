"""A list read is audited (issue 17 item 8; requirement 2, ASTM E2147 "simple access and
viewing"): ``GET /api/patients`` and ``GET /api/orders`` write one ``read`` event per patient
they returned (as the single reads and the lot look-up do), naming the patient, the category
and the URL, in one transaction; a list that returned nobody writes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.test import Client

from ivig.records import audit
from ivig.records.models import AuditEvent, Order
from ivig.records.services import accounts


def _reads(after: int) -> list[tuple[str, str, int | None, str]]:
    events = AuditEvent.objects.filter(seq__gt=after, action="read").order_by("seq")
    return [(e.actor, e.entity, e.patient_id, e.after["url"]) for e in events]


def _last() -> int:
    return int(AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0)


def test_a_patient_search_records_each_patient_returned(
    make_patient: Callable[..., Any], client_for: Callable[[str | None], Client]
) -> None:
    first = make_patient(170, 70, mrn="L-1", family_name="Lambert")
    second = make_patient(170, 70, mrn="L-2", family_name="Lamb", date_of_birth=dt.date(1970, 1, 1))
    make_patient(170, 70, mrn="O-1", family_name="Other")
    start = _last()
    response = client_for("nurse").get("/api/patients?q=lamb&limit=200")
    assert response.status_code == 200
    returned = [p["id"] for p in response.json()]
    assert sorted(returned) == sorted([first.pk, second.pk])
    url = "/api/patients?q=lamb&limit=200"
    assert _reads(start) == [("nurse", "demographics", pk, url) for pk in returned]
    start = _last()
    assert client_for("nurse").get("/api/patients?q=nobody").json() == []
    assert _reads(start) == []


def test_an_order_list_records_each_patient_once(
    users: dict[str, Any], dispensed: Order, make_patient: Callable[..., Any]
) -> None:
    """By token too; a patient with two orders listed is one event."""
    _, raw = accounts.create_token(None, users["pharmacist"].pk, "lab", system=True)
    bearer = Client(headers={"Authorization": f"Bearer {raw}"})
    start = _last()
    response = bearer.get("/api/orders")
    assert response.status_code == 200
    assert len({o["patient_id"] for o in response.json()}) == 1 < len(response.json())
    assert _reads(start) == [("pharmacist", "medication/infusion", dispensed.patient_id,
                              "/api/orders")]  # fmt: skip


def test_an_unrecorded_list_is_not_shown(
    client_for: Callable[[str | None], Client], dispensed: Order, monkeypatch: Any
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("audit table unavailable")

    nurse = client_for("nurse")  # signed in (an audited sign-in) before the audit breaks
    monkeypatch.setattr(audit, "record_all", broken)  # record goes through it
    response = nurse.get("/api/orders")
    assert response.status_code == 503
    assert b"privigen" not in response.content
