"""The alerts worklist in the pages and the API (issue 16, item 9): nurses and prescribers see
what patients reported that needs acting on (/alerts/, the menu's count, the patients page's
banner), and close each with the action taken; a refusal keeps the alert open and says why."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from ivig.records.models import AuditEvent, DiaryEntry, Order, OrderStatus
from ivig.records.services import alerts
from ivig.records.services import patient_reports as reports

NO = {q.key: False for q in reports.CHECK_QUESTIONS}


@pytest.fixture
def reported(me: User, dispensed: Order) -> dict[str, Any]:
    """Today's infusion given; a serious diary entry, then a fever the day before dose 2."""
    Order.objects.filter(pk=dispensed.pk).update(status=OrderStatus.completed)
    now = timezone.now()
    today = timezone.localdate(now)
    entry = reports.diary_entry(me, today, {"chest_pain": "moderate"}, today=today, now=now)
    tomorrow = dispensed.course.orders.get(sequence=2)
    check = reports.day_before_check(
        me, tomorrow.pk, {**NO, "fever": True}, today=today, now=now + dt.timedelta(minutes=5)
    )
    return {"entry": entry, "check": check}


def _html(response: Any) -> str:
    return str(response.content.decode())


def test_the_worklist_lists_open_alerts_newest_first(client_for: Any, reported: Any) -> None:
    page = _html(client_for("nurse").get("/alerts/"))
    assert "2 alerts to act on" in page
    fever = page.index(f'id="alert-day-before-{reported["check"].pk}"')
    chest = page.index(f'id="alert-diary-{reported["entry"].pk}"')
    assert fever < chest  # newest first
    assert "chest pain (moderate)" in page
    assert "The patient said: <strong>fever</strong>" in page
    for words in ("Called the patient", "Deferred the dose", "Advised emergency care",
                  "No action needed", "Other"):  # fmt: skip
        assert words in page
    assert page.count("Close the alert</button>") == 2


@pytest.mark.parametrize("role", ["nurse", "prescriber"])
def test_the_menu_and_the_patients_page_show_the_count(
    client_for: Any, reported: Any, role: str
) -> None:
    page = _html(client_for(role).get("/patients/"))
    assert 'class="nav-count">2<span class="visually-hidden"> open</span>' in page
    assert "2 alerts to act on</strong></a>" in page


@pytest.mark.parametrize("role", ["pharmacist", "admin"])
def test_other_roles_have_no_alerts_menu(client_for: Any, reported: Any, role: str) -> None:
    page = _html(client_for(role).get("/patients/"))
    assert "/alerts/" not in page
    assert client_for(role).get("/alerts/").status_code == 403


def test_no_alert_no_count(client_for: Any, patient: Any) -> None:
    page = _html(client_for("nurse").get("/patients/"))
    assert ">Alerts</a>" in page
    assert "nav-count" not in page
    assert "to act on" not in page
    assert "No alert to act on." in _html(client_for("nurse").get("/alerts/"))


def test_closing_from_the_worklist(client_for: Any, reported: Any) -> None:
    nurse = client_for("nurse")
    entry = reported["entry"]
    url = f"/alerts/diary/{entry.pk}/close/"
    refused = nurse.post(url, {"action": "no_action", "note": " "})
    assert refused.status_code == 200
    assert "Say why no action is needed." in _html(refused)
    assert DiaryEntry.objects.get(pk=entry.pk).acknowledged_at is None
    assert not refused.context["items"][1]["form"].is_valid()  # the form again, with its error
    assert "alert-actions has-error" in _html(nurse.post(url, {"action": "shrug"}))
    done = nurse.post(url, {"action": "no_action", "note": "known angina, GP aware"}, follow=True)
    assert done.redirect_chain == [("/alerts/", 302)]
    page = _html(done)
    assert "Alert closed for Lambert, Edward" in page
    assert "1 alert to act on" in page
    assert "Closed by nurse" in page
    assert "no action needed</strong>. known angina, GP aware" in page
    event = AuditEvent.objects.get(action="close", entity="diary entry")
    assert event.reason == "no action needed: known angina, GP aware"
    again = nurse.post(url, {"action": "called"}, follow=True)
    assert "this alert was closed already" in _html(again)
    assert AuditEvent.objects.filter(action="close").count() == 1


def test_closing_from_another_page_goes_back_there(
    client_for: Any, reported: Any, dispensed: Order
) -> None:
    back = f"/patients/{dispensed.patient_id}/"
    url = f"/alerts/diary/{reported['entry'].pk}/close/"
    nurse = client_for("nurse")
    refused = nurse.post(url, {"action": "other", "next": back})
    assert (refused.status_code, refused["Location"]) == (302, back)
    done = nurse.post(url, {"action": "called", "next": back})
    assert (done.status_code, done["Location"]) == (302, back)
    outside = nurse.post(
        f"/alerts/day-before/{reported['check'].pk}/close/",
        {"action": "called", "next": "https://evil.example/"},
    )
    assert outside["Location"] == "/alerts/"  # never to another site


def test_one_patients_alerts(client_for: Any, reported: Any, dispensed: Order) -> None:
    page = _html(client_for("prescriber").get(f"/alerts/?patient={dispensed.patient_id}"))
    assert "Show every patient" in page
    assert "2 alerts to act on" in page


def _post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_the_api_lists_and_closes_alerts(client_for: Any, reported: Any) -> None:
    nurse = client_for("nurse")
    listed = nurse.get("/api/alerts").json()
    assert [(a["kind"], a["open"]) for a in listed] == [("day-before", True), ("diary", True)]
    check_id = reported["check"].pk
    url = f"/api/alerts/day-before/{check_id}/close"
    assert _post(nurse, url, {"action": "no_action"}).status_code == 422
    assert _post(nurse, url, {"action": "sleep"}).status_code == 422
    assert _post(nurse, "/api/alerts/weight/1/close", {"action": "called"}).status_code == 422
    assert _post(client_for("pharmacist"), url, {"action": "called"}).status_code == 403
    done = _post(nurse, url, {"action": "deferred", "note": "fever 38.4; dose 2 deferred"})
    assert done.status_code == 200, done.content
    body = done.json()
    assert (body["open"], body["action"], body["closed_by"]) == (False, "deferred", "nurse")
    assert _post(nurse, url, {"action": "called"}).status_code == 409
    assert alerts.open_count() == 1
