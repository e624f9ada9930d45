"""The API at the chair, issue 16 items 4, 5 and 7: the start needs baseline vital signs or
a reason (409 naming the field), the restart vital signs after the reaction and the symptoms
resolved or a reason, the end the volume given (422 without it, 409 well short of the dose
unconfirmed); the session's ``pump`` says where the dose stands by the pump log."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import Order
from ivig.records.services import infusions

WELL = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True)


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def test_a_day_at_the_chair_by_the_api(
    client_for: Callable[[str | None], Client], users: dict[str, Any], dispensed: Order
) -> None:
    nurse = client_for("nurse")
    url = f"/api/orders/{dispensed.pk}"
    start = (timezone.now() - dt.timedelta(minutes=60)).replace(microsecond=0)
    infusions.pre_check(users["nurse"], dispensed.pk, WELL, now=start - dt.timedelta(minutes=5))
    body = {"version": Order.objects.get(pk=dispensed.pk).version, "at": start,
            "visual_inspection_ok": True}  # fmt: skip
    refused = _post(nurse, f"{url}/start", body)
    assert refused.status_code == 409
    assert refused.json()["error"]["field"] == "baseline_vitals_missing_reason"
    assert _post(nurse, f"{url}/vitals", {"at": start, "pulse_per_min": 74}).status_code == 201
    started = _post(nurse, f"{url}/start", body)
    assert started.status_code == 200, started.content
    state = started.json()
    assert state["pump"]["dose_ml"] == 850
    assert state["pump"]["reaction_at"] is None

    def version() -> int:
        return int(nurse.get(f"{url}/session").json()["version"])

    def at(minute: float) -> dt.datetime:
        return start + dt.timedelta(minutes=minute)

    assert _post(nurse, f"{url}/vitals", {"at": at(30), "pulse_per_min": 76}).status_code == 201
    rate = {"version": version(), "at": at(30), "rate_ml_per_h": 51}
    assert _post(nurse, f"{url}/rates", rate).status_code == 201
    reaction = {"version": version(), "at": at(35), "symptoms": ["headache"],
                "action_taken": "pump paused"}  # fmt: skip
    assert _post(nurse, f"{url}/reactions", reaction).status_code == 201
    on_hold = nurse.get(f"{url}/session").json()["pump"]
    assert (on_hold["expected_end"], on_hold["reaction_severity"]) == (None, "mild")
    resume = {"version": version(), "at": at(40), "rate_ml_per_h": 25.5, "symptoms_resolved": True}
    refused = _post(nurse, f"{url}/resume", resume)
    assert (refused.status_code, refused.json()["error"]["field"]) == (409, "vitals")
    assert _post(nurse, f"{url}/vitals", {"at": at(40), "pulse_per_min": 72}).status_code == 201
    assert _post(nurse, f"{url}/resume", resume).status_code == 201
    pump = nurse.get(f"{url}/session").json()["pump"]
    assert pump["restarted_ml_per_h"] == 25.5
    assert pump["expected_end"] is not None
    end = {"at": at(50)}
    missing = _post(nurse, f"{url}/end", end)
    assert (missing.status_code, missing.json()["error"]["field"]) == (422, "volume_given_ml")
    short = _post(nurse, f"{url}/end", {**end, "volume_given_ml": 21.3})
    assert (short.status_code, short.json()["error"]["field"]) == (409, "short_stop_reason")
    ended = _post(nurse, f"{url}/end", {**end, "volume_given_ml": 21.3, "short_confirmed": True,
                                        "short_reason": "patient asked to stop"})  # fmt: skip
    assert ended.status_code == 200, ended.content
    session = ended.json()["session"]
    assert (session["volume_given_ml"], session["given_g"]) == (21.3, 2.13)
