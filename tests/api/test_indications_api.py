"""Indications in the API (issue 15): ``GET /api/indications`` from the library in service,
courses and eligibility with no default indication, eligibility answers by the indication's
criteria."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.test import Client

from ivig.records.library import current_library


def put(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.put(url, json.dumps(body, default=str), content_type="application/json")


def test_the_indications_of_the_library(client_for: Callable[[str | None], Client]) -> None:
    answer = client_for("nurse").get("/api/indications")
    assert answer.status_code == 200
    rows = {row["id"]: row for row in answer.json()}
    assert list(rows) == ["lems", "cidp", "mg", "mmn"]
    assert {row["catalogue_version"] for row in rows.values()} == {current_library().version}
    lems = rows["lems"]
    assert lems["short_name"] == "LEMS"
    assert lems["outcome_measures"] == ["3tug", "qmg", "mrc-sum", "mg-adl"]
    vgcc = lems["criteria"][0]
    assert vgcc["key"] == "vgcc_antibodies"
    assert vgcc["kind"] == "choice"
    assert vgcc["required"] is True
    assert vgcc["verified"] is True
    assert [o["value"] for o in vgcc["options"]] == ["positive", "negative", "not-tested"]
    yes_no = rows["cidp"]["criteria"][1]
    assert (yes_no["key"], yes_no["kind"], yes_no["options"]) == (
        "other_causes_excluded",
        "yes-no",
        [],
    )
    assert yes_no["verified"] is False


def test_eligibility_round_trip_with_the_indications_answers(
    client_for: Callable[[str | None], Client], patient: Any, today: dt.date
) -> None:
    url = f"/api/patients/{patient.pk}/eligibility"
    body = {
        "indication": "mmn",
        "diagnosed_by_neurologist": True,
        "neurologist": "Dr Nerve",
        "answers": {"severity_measure": "mrc", "conduction_block": "block"},
        "alternative_therapy_failed": False,
        "review_date": today + dt.timedelta(days=90),
    }
    saved = put(client_for("prescriber"), url, body)
    assert saved.status_code == 200, saved.content
    assert saved.json()["answers"] == {"conduction_block": "block", "severity_measure": "mrc"}
    listed = client_for("pharmacist").get(url).json()
    assert [(e["indication"], e["answers"]["conduction_block"]) for e in listed] == [
        ("mmn", "block")
    ]
    assert "vgcc_antibodies" not in listed[0]


def test_a_course_needs_its_indication(
    client_for: Callable[[str | None], Client], patient: Any, today: dt.date
) -> None:
    body = {"phase": "induction", "product": "privigen-us", "start": today, "days": 2}
    url = f"/api/patients/{patient.pk}/courses/preview"
    prescriber = client_for("prescriber")
    refused = prescriber.post(url, json.dumps(body, default=str), content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "indication"
    body["indication"] = "mg"
    planned = prescriber.post(url, json.dumps(body, default=str), content_type="application/json")
    assert planned.status_code == 200, planned.content
    assert planned.json()["indication"] == {"id": "mg", "name": "Myasthenia gravis"}
