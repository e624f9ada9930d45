"""Weights through the API (issue 14 item 8): a weight changed by 10 % or more is kept but
awaits a prescriber's confirmation (``POST /api/weights/{id}/confirm``) before a course is
planned on it; weights before birth are 422. The fixture patient weighs 100 kg (5 days ago)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def patient(make_patient: Callable[..., Any]) -> Any:
    """The suite's patient as these tests knew it, 180 cm and 100 kg: the 10 % examples."""
    return make_patient(180, 100)


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


COURSE = {"indication": "lems", "phase": "induction", "product": "privigen-us", "days": 2}


def test_a_changed_weight_waits_for_a_prescribers_confirmation(
    patient: Any, client_for: Callable[[str | None], Client], today: dt.date
) -> None:
    nurse, prescriber = client_for("nurse"), client_for("prescriber")
    r = _post(nurse, f"/api/patients/{patient.pk}/weights",
              {"measured_on": today, "weight_kg": 250})  # fmt: skip
    assert r.status_code == 201, r.content
    weight = r.json()
    assert (weight["needs_confirmation"], weight["awaiting_confirmation"]) == (True, True)
    assert weight["change_percent"] == 150.0
    course = {**COURSE, "start": today}
    refused = _post(prescriber, f"/api/patients/{patient.pk}/courses", course)
    assert refused.status_code == 409, refused.content
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("conflict", "weight_kg")
    assert "must confirm it" in error["message"]
    url = f"/api/weights/{weight['id']}/confirm"
    assert _post(nurse, url, {"reason": "re-weighed"}).status_code == 403
    done = _post(prescriber, url, {"reason": "re-weighed on the ward scale: 250 kg"})
    assert done.status_code == 200, done.content
    assert done.json()["awaiting_confirmation"] is False
    shown = client_for("nurse").get(f"/api/patients/{patient.pk}").json()["weights"]
    assert {w["weight_kg"]: w["confirmation_reason"] for w in shown}[250] == (
        "re-weighed on the ward scale: 250 kg"
    )
    again = _post(prescriber, url, {"reason": "again"})
    assert again.status_code == 409
    preview = _post(prescriber, f"/api/patients/{patient.pk}/courses/preview", course)
    assert preview.status_code == 200, preview.content
