"""Re-plan needed through the API (issue 16 item 3): a weight recorded after prescribing that
changes the dose marks the course (``replan_needed`` in the course), verification is refused
(409, field ``replan``) until the prescriber re-plans (``POST /api/courses/{id}/replan``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


@pytest.mark.django_db
def test_a_new_weight_marks_the_course_and_the_re_plan_clears_it(
    patient: Any, client_for: Callable[[str | None], Client], today: dt.date
) -> None:
    prescriber, nurse = client_for("prescriber"), client_for("nurse")
    course = {"indication": "lems", "phase": "induction", "product": "privigen-us", "days": 2,
              "start": today + dt.timedelta(days=1)}  # fmt: skip
    made = _post(prescriber, f"/api/patients/{patient.pk}/courses", course)
    assert made.status_code == 201, made.content
    assert made.json()["replan_needed"] == {}
    weighed = {"measured_on": today, "weight_kg": 80}
    assert _post(nurse, f"/api/patients/{patient.pk}/weights", weighed).status_code == 201
    order = made.json()["orders"][0]
    refused = _post(
        client_for("pharmacist"),
        f"/api/orders/{order['id']}/verify",
        {"version": order["version"], "dose_g": order["dose_g"], "volume_ml": order["volume_ml"]},
    )
    assert refused.status_code == 409, refused.content
    assert refused.json()["error"]["field"] == "replan"
    assert "re-plan needed: weight recorded: 80 kg" in refused.json()["error"]["message"]
    course_id = made.json()["id"]
    from ivig.records.models import Course

    marked = Course.objects.get(pk=course_id)
    assert marked.replan_needed["new_weight"] == {"kg": 80.0, "basis": "actual"}
    done = _post(prescriber, f"/api/courses/{course_id}/replan",
                 {"version": marked.version, "reason": "weighed 80 kg"})  # fmt: skip
    assert done.status_code == 200, done.content
    assert done.json()["course"]["replan_needed"] == {}
