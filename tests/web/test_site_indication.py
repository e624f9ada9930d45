"""Adding an indication is a data change (issue 15): a site library with a fifth indication in
indications.toml, and no code, has it offered by the prescribe form and the API, planned,
named and described in the handout, asked about in eligibility and measured by its own
outcome measures."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from django.test import Client

from ivig.records.services import courses

DERMATOMYOSITIS = """
[[indications]]
id = "dm"
name = "Dermatomyositis"
short_name = "DM"
schedule_preference = ["dm", "general", "pi"]
on_label_groups = ["dm"]
induction_total_g_per_kg = { value = 2.0, source = "octagam10-dm", verified = false }
induction_days = { value = [2, 5], source = "octagam10-dm", verified = false }
maintenance_every_weeks = { value = [4, 4], source = "octagam10-dm", verified = false }
maintenance_dose_g_per_kg = { value = [1.0, 2.0], source = "octagam10-dm", verified = false }
cap_g_per_kg = { value = 2.0, source = "octagam10-dm", verified = false }
cap_window_days = { value = 28, source = "octagam10-dm", verified = false }
outcome_measures = ["mrc-sum"]

[indications.handout]
plain_name = "dermatomyositis"
about = "In DM, your body's defence system attacks your muscles and skin by mistake."
how_ivig_helps = "IVIG may calm the attack on your muscles and skin."
source = "service-eligibility"
verified = false

[[indications.criteria]]
key = "muscle_biopsy"
question = "Muscle biopsy consistent with dermatomyositis"
kind = "yes-no"
required = true
source = "service-eligibility"
verified = false
"""


def send(client: Client, method: str, url: str, body: dict[str, Any]) -> Any:
    data = json.dumps(body, default=str)
    return getattr(client, method)(url, data, content_type="application/json")


def test_a_fifth_indication_is_a_data_change(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    patient: Any,
    today: dt.date,
    library: Callable[..., str],
) -> None:
    library("2026.12.9", add={"indications.toml": "\n" + DERMATOMYOSITIS})
    prescriber = client_for("prescriber")

    # offered by the API and the prescribe form
    listed = {row["id"]: row for row in prescriber.get("/api/indications").json()}
    assert list(listed) == ["lems", "cidp", "mg", "mmn", "dm"]
    assert listed["dm"]["criteria"][0]["key"] == "muscle_biopsy"
    assert listed["dm"]["catalogue_version"] == "2026.12.9"
    form = prescriber.get(f"/patients/{patient.pk}/prescribe/").content.decode()
    assert '<option value="dm">DM: Dermatomyositis</option>' in form

    # planned, on-label with the product's dermatomyositis schedule
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="dm",
            phase="induction",
            product="octagam-10",
            place="infusion-centre",
            start=today + dt.timedelta(days=5),
            days=2,
        ),
    )
    assert course.plan["indication"] == {"id": "dm", "name": "Dermatomyositis"}
    assert course.plan["schedule"]["group"] == "dm"

    # named and described in the handout, and no other indication
    handout = client_for("nurse").get(f"/patients/{patient.pk}/handout/").content.decode()
    assert "You have dermatomyositis. Its short name is DM." in handout
    assert "attacks your muscles and skin by mistake" in handout
    assert "LEMS" not in handout

    # its criteria in eligibility: required, of its kind, then recorded and shown in words
    url = f"/api/patients/{patient.pk}/eligibility"
    body: dict[str, Any] = {
        "indication": "dm",
        "diagnosed_by_neurologist": True,
        "answers": {},
        "alternative_therapy_failed": True,
        "review_date": today + dt.timedelta(days=180),
    }
    missing = send(prescriber, "put", url, body)
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "answers.muscle_biopsy"
    body["answers"] = {"muscle_biopsy": True}
    assert send(prescriber, "put", url, body).status_code == 200
    page = client_for("nurse").get(f"/patients/{patient.pk}/").content.decode()
    assert "DM: Muscle biopsy consistent with dermatomyositis: yes; review by" in " ".join(
        page.split()
    )
    # and its own outcome measures on the outcome form
    select = re.search(r'<select name="measure".*?</select>', page, re.S)
    assert select
    assert re.findall(r'<option value="([^"]*)"', select.group(0)) == ["mrc-sum"]
