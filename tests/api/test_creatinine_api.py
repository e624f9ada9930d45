"""Creatinine results and the renal function through the API (issue 14 items 2, 5 and 15): the
unit is sent with every creatinine and never assumed; the preview carries the ``renal`` block."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.utils import timezone

JSON = "application/json"


def _post(client: Any, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type=JSON)


def test_a_result_is_recorded_and_listed(client_for: Any, patient: Any) -> None:
    today = timezone.localdate()
    url = f"/api/patients/{patient.pk}/creatinine-results"
    nurse = client_for("nurse")
    made = _post(nurse, url, {"measured_on": today.isoformat(), "value": 1.1, "unit": "mg/dL"})
    assert made.status_code == 201, made.content
    assert made.json()["unit"] == "mg/dL"
    listed = client_for("pharmacist").get(url)
    assert listed.status_code == 200
    assert [(r["value"], r["unit"]) for r in listed.json()] == [(1.1, "mg/dL")]


def test_a_result_without_its_unit_or_implausible_for_it_is_refused(
    client_for: Any, patient: Any
) -> None:
    today = timezone.localdate().isoformat()
    url = f"/api/patients/{patient.pk}/creatinine-results"
    nurse = client_for("nurse")
    missing = _post(nurse, url, {"measured_on": today, "value": 1.1})
    assert missing.status_code == 422
    blank = _post(nurse, url, {"measured_on": today, "value": 1.1, "unit": ""})
    assert blank.status_code == 422
    assert blank.json()["error"]["field"] == "unit"
    implausible = _post(nurse, url, {"measured_on": today, "value": 12, "unit": "umol/L"})
    assert implausible.status_code == 422
    error = implausible.json()["error"]
    assert error["field"] == "value"
    assert "plausible in mg/dL" in error["message"]


def test_the_preview_carries_the_renal_block(client_for: Any, patient: Any) -> None:
    start = (timezone.localdate() + dt.timedelta(days=5)).isoformat()
    course = {"indication": "lems", "phase": "induction", "product": "privigen-us",
              "start": start, "days": 2}  # fmt: skip
    url = f"/api/patients/{patient.pk}/courses/preview"
    prescriber = client_for("prescriber")
    without = _post(prescriber, url, course)
    assert without.status_code == 200
    plan = without.json()
    assert plan["renal"]["basis"] == "none"
    assert "renal-function-missing" in {f["code"] for f in plan["findings"]}
    no_unit = _post(prescriber, url, {**course, "creatinine": 12})
    assert no_unit.status_code == 422
    assert no_unit.json()["error"]["field"] == "creatinine_unit"
    given = _post(prescriber, url, {**course, "creatinine": 12, "creatinine_unit": "mg/dL"})
    assert given.status_code == 200
    plan = given.json()
    renal = plan["renal"]
    assert (renal["formula"], renal["inputs"]["creatinine_unit"]) == ("CKD-EPI 2021", "mg/dL")
    assert renal["egfr"] < 15
    assert "Inker" in renal["source"]
    # findings shown through the API carry no CLI option (issue 14 item 15)
    assert not any("--" in f["message"] for f in plan["findings"])
