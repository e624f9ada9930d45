"""Idempotent submissions (requirement 29; ASVS 11.1): the same submission sent twice with the
same ``Idempotency-Key`` (the API) or form nonce (a page) records once and answers the same;
the same key with another body is refused; simultaneous duplicates record once; an answer of
500 is not kept, so a retry runs again."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from ivig.records.models import (
    AuditEvent,
    IdempotencyKey,
    InfusionSession,
    Order,
    Outcome,
    RateChange,
    Vitals,
)
from ivig.records.services import accounts, infusions, outcomes

WELL = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True)


def _post(client: Client, url: str, body: dict[str, Any], key: str | None, **headers: str) -> Any:
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(url, body, content_type="application/json", headers=headers)


@pytest.fixture
def running(users: dict[str, Any], dispensed: Order) -> Order:
    """The dispensed order, its infusion running for an hour."""
    InfusionSession.objects.create(
        order=dispensed,
        state="running",
        started_at=timezone.now() - dt.timedelta(hours=1),
        started_by=users["nurse"],
    )
    Order.objects.filter(pk=dispensed.pk).update(status="in-progress")
    return Order.objects.get(pk=dispensed.pk)


def test_the_same_vitals_twice_with_one_key_record_once(
    client_for: Callable[[str | None], Client], running: Order
) -> None:
    """Requirement 29: one row, the same answer (status and body), the view not run again."""
    nurse = client_for("nurse")
    url = f"/api/orders/{running.pk}/vitals"
    body = {"at": timezone.now().isoformat(), "temperature_c": 36.6, "pulse_per_min": 72}
    first = _post(nurse, url, body, "vitals-0915")
    events = AuditEvent.objects.count()
    second = _post(nurse, url, body, "vitals-0915")
    assert first.status_code == 201, first.content
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert second["Content-Type"] == first["Content-Type"]
    assert second["Idempotent-Replayed"] == "true"
    assert Vitals.objects.count() == 1
    assert AuditEvent.objects.count() == events  # nothing recorded the second time
    # without a key, each submission is its own
    assert _post(nurse, url, body, None).status_code == 201
    assert Vitals.objects.count() == 2


def test_the_same_key_with_another_body_is_refused(
    client_for: Callable[[str | None], Client], running: Order
) -> None:
    """Requirement 29: a key names one submission: another body with it is 422."""
    nurse = client_for("nurse")
    url = f"/api/orders/{running.pk}/vitals"
    at = timezone.now().isoformat()
    assert _post(nurse, url, {"at": at, "pulse_per_min": 72}, "k1").status_code == 201
    other = _post(nurse, url, {"at": at, "pulse_per_min": 90}, "k1")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "invalid_input"
    assert other.json()["error"]["field"] == "idempotency_key"
    assert Vitals.objects.count() == 1


def test_keys_are_per_user(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any
) -> None:
    """Requirement 29: another user's identical key is another submission (and their token's
    key is their own)."""
    url = f"/api/patients/{patient.pk}/outcomes"
    body = {"measure": "3tug", "value": 20, "measured_on": timezone.localdate().isoformat()}
    assert _post(client_for("nurse"), url, body, "same").status_code == 201
    assert _post(client_for("prescriber"), url, body, "same").status_code == 201
    _, raw = accounts.create_token(None, users["prescriber"].pk, "ward pc", system=True)
    bearer = _post(Client(), url, body, "same", Authorization=f"Bearer {raw}")
    assert bearer.status_code == 201
    assert bearer["Idempotent-Replayed"] == "true"  # the prescriber's key, by token too
    assert Outcome.objects.count() == 2
    assert IdempotencyKey.objects.count() == 2


def test_a_failure_is_not_kept(
    client_for: Callable[[str | None], Client], patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requirement 29: a 500 is not stored: the retry with the same key runs and records."""
    url = f"/api/patients/{patient.pk}/outcomes"
    body = {"measure": "3tug", "value": 20, "measured_on": timezone.localdate().isoformat()}
    real = outcomes.record_outcome

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(outcomes, "record_outcome", broken)
    nurse = client_for("nurse")
    assert _post(nurse, url, body, "retry-me").status_code == 500
    assert not IdempotencyKey.objects.exists()
    monkeypatch.setattr(outcomes, "record_outcome", real)
    retried = _post(nurse, url, body, "retry-me")
    assert retried.status_code == 201
    again = _post(nurse, url, body, "retry-me")  # the retry's answer is the one kept
    assert (again.status_code, again.content) == (201, retried.content)
    assert again["Idempotent-Replayed"] == "true"
    assert Outcome.objects.count() == 1


def test_simultaneous_duplicates_record_once(
    live_records: None,
    client_for: Callable[[str | None], Client],
    patient: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requirement 29 with 30: two identical submissions at the same moment (a double click
    on two connections): one outcome; the other answer is the same one, or 409, never a
    second row."""
    real = outcomes.record_outcome

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(outcomes, "record_outcome", slow)
    url = f"/api/patients/{patient.pk}/outcomes"
    body = {"measure": "3tug", "value": 20, "measured_on": timezone.localdate().isoformat()}
    barrier = threading.Barrier(2)
    answers: list[tuple[int, bytes]] = []

    def submit() -> None:
        try:
            client = client_for("nurse")
            barrier.wait(timeout=10)
            response = _post(client, url, body, "double-click")
            answers.append((response.status_code, response.content))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Outcome.objects.count() == 1
    statuses = sorted(status for status, _ in answers)
    assert statuses in ([201, 201], [201, 409]), answers
    if statuses == [201, 201]:
        assert answers[0][1] == answers[1][1]


def test_a_double_click_on_start_infusion_starts_once(
    client_for: Callable[[str | None], Client], users: dict[str, Any], dispensed: Order
) -> None:
    """Requirement 29: the run sheet's "Start infusion" form sent twice with its nonce (a
    double click) makes one start event and gets the same answer (htmx headers included)."""
    now = timezone.now()
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=now - dt.timedelta(minutes=2))
    baseline = infusions.VitalsInput(pulse_per_min=74)  # before the start (issue 16 item 7)
    infusions.record_vitals(users["nurse"], dispensed.pk, now - dt.timedelta(minutes=2), baseline,
                            now=now)  # fmt: skip
    at = timezone.localtime(now - dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "at": at,
        "version": Order.objects.get(pk=dispensed.pk).version,
        "visual_inspection_ok": "on",
        "visual_inspection_notes": "",
        "administered_by": users["nurse"].pk,
        "idempotency_key": "start-nonce-1",
    }
    nurse = client_for("nurse")
    url = f"/orders/{dispensed.pk}/runsheet/start/"
    first = nurse.post(url, form, headers={"HX-Request": "true"})
    second = nurse.post(url, form, headers={"HX-Request": "true"})
    assert first.status_code == 200, first.content
    assert InfusionSession.objects.get(order=dispensed).started_at is not None
    assert (second.status_code, second.content) == (first.status_code, first.content)
    hx = {k: v for k, v in first.items() if k.lower().startswith("hx-")}
    assert {k: v for k, v in second.items() if k.lower().startswith("hx-")} == hx
    assert second["Idempotent-Replayed"] == "true"
    assert RateChange.objects.filter(session__order=dispensed).count() == 1
    assert AuditEvent.objects.filter(action="start").count() == 1


def test_a_crash_between_the_write_and_its_record_leaves_nothing_to_replay(
    client_for: Callable[[str | None], Client], patient: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 item 12 (requirements 29 and 1: one transaction): the key's record is written in
    the write's transaction. A crash after the view's write but before the record (here the
    record's own write fails) leaves neither: no outcome, no audit event, no key; the retry
    with the same key then records once, and a repeat is replayed, not run again."""
    from ivig.server.middleware import Idempotent

    url = f"/api/patients/{patient.pk}/outcomes"
    body = {"measure": "3tug", "value": 20, "measured_on": timezone.localdate().isoformat()}
    nurse = client_for("nurse")  # signed in (an audited sign-in) before the count
    events = AuditEvent.objects.count()

    def crash(row: Any, response: Any) -> None:
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(Idempotent, "_finish", staticmethod(crash))
    nurse.raise_request_exception = False
    assert _post(nurse, url, body, "crash-1").status_code == 500
    assert Outcome.objects.count() == 0  # the write went with the record: no half state
    assert AuditEvent.objects.count() == events
    assert not IdempotencyKey.objects.exists()
    monkeypatch.undo()
    retried = _post(nurse, url, body, "crash-1")
    assert retried.status_code == 201, retried.content
    again = _post(nurse, url, body, "crash-1")
    assert again["Idempotent-Replayed"] == "true"
    assert Outcome.objects.count() == 1
