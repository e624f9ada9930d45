"""Prescribing by phase (issue 16 item 14): the page shows the chosen phase's fields (a script
hides the other phase's; without it both show under their headings) and the server ignores
the other phase's fields whatever they hold; the cap refusal in plain words, the same on the
page and in the API."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import Course
from ivig.records.services import courses

START = timezone.localdate() + dt.timedelta(days=5)
COURSE = {
    "indication": "lems",
    "product": "privigen-us",
    "place": "hospital",
    "start": START.isoformat(),
    "weight_basis": "auto",
}
# The other phase's fields, filled with what would be refused were they read.
JUNK_INDUCTION = {"days": "forty", "total_g_per_kg": "9"}
JUNK_MAINTENANCE = {"dose_g_per_kg": "lots", "every_weeks": "-1", "count": "0"}


def _words(day: dt.date) -> str:
    return f"{day.day} {day:%B} {day.year}"


def test_each_phase_has_its_fieldset_and_the_script_that_hides_the_other(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    html = client_for("prescriber").get(f"/patients/{patient.pk}/prescribe/").content.decode()
    assert "data-phase-form" in html
    induction = re.search(r'<fieldset data-phase="induction">\s*<legend>([^<]+)</legend>', html)
    maintenance = re.search(r'<fieldset data-phase="maintenance">\s*<legend>([^<]+)</legend>', html)
    assert induction is not None
    assert maintenance is not None
    assert induction.group(1) == "Induction (ignored for maintenance)"
    assert maintenance.group(1) == "Maintenance (ignored for induction)"
    assert 'name="days"' in html.split('data-phase="induction"')[1].split("</fieldset>")[0]
    assert re.search(r'<script src="/static/web/phase[^"]*\.js" defer>', html)
    # without the script both show: neither is hidden by the server
    assert re.findall(r'<fieldset data-phase="(\w+)"([^>]*)>', html) == [
        ("induction", ""),
        ("maintenance", ""),
    ]


def test_maintenance_ignores_what_the_induction_fields_hold(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    data = {**COURSE, "phase": "maintenance", "dose_g_per_kg": "0.4", "every_weeks": "4",
            "count": "2", **JUNK_INDUCTION}  # fmt: skip
    page = client_for("prescriber").post(f"/patients/{patient.pk}/prescribe/", data)
    assert page.status_code == 302, page.content.decode()[:2000]
    course = Course.objects.get()
    assert course.phase == "maintenance"
    assert course.orders.count() == 2
    assert course.regimen.get("days") is None
    assert course.regimen.get("total_g_per_kg") is None


def test_induction_ignores_what_the_maintenance_fields_hold(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    prescriber = client_for("prescriber")
    data = {**COURSE, "phase": "induction", "days": "2", **JUNK_MAINTENANCE}
    preview = prescriber.post(
        f"/patients/{patient.pk}/prescribe/preview/", data, headers={"HX-Request": "true"}
    )
    assert "Doses" in preview.content.decode()  # a plan, no error about the maintenance fields
    assert "lots" not in preview.content.decode()
    assert prescriber.post(f"/patients/{patient.pk}/prescribe/", data).status_code == 302
    assert Course.objects.get().orders.count() == 2


def test_the_chosen_phase_fields_are_still_checked(
    client_for: Callable[[str | None], Client], patient: Any
) -> None:
    data = {**COURSE, "phase": "induction", "days": "forty", **JUNK_MAINTENANCE}
    page = client_for("prescriber").post(f"/patients/{patient.pk}/prescribe/", data)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="id_days_error"' in html
    assert 'id="id_dose_g_per_kg_error"' not in html
    assert Course.objects.count() == 0


def test_the_cap_refusal_names_the_window_the_cap_and_the_earliest_start(
    users: dict[str, Any], client_for: Callable[[str | None], Client], patient: Any
) -> None:
    # A 2 g/kg induction on days 0-1, then maintenance 1 g/kg from day 14: with the induction,
    # 3 g/kg in days 0-27; day 0 leaves the window on day 28, the earliest start.
    courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput("lems", "induction", "privigen-us", "hospital", START, days=2),
    )
    later = START + dt.timedelta(days=14)
    words = (
        f"with the earlier doses, this course would give 3 g/kg between "
        f"{START.day}"  # '1 and 28 December 2026', or across months in full
    )
    tail = (
        f"{_words(START + dt.timedelta(days=27))}; the cap is 2 g/kg in any 28 days for LEMS; "
        f"the earliest start is {_words(START + dt.timedelta(days=28))}"
    )
    data = {**COURSE, "start": later.isoformat(), "phase": "maintenance",
            "dose_g_per_kg": "1", "every_weeks": "4", "count": "2"}  # fmt: skip
    page = client_for("prescriber").post(f"/patients/{patient.pk}/prescribe/", data)
    html = page.content.decode()
    error = re.search(r'id="id_start_error">([^<]*)<', html)
    assert error is not None
    assert error.group(1).startswith(words)
    assert error.group(1).endswith(tail)
    api = client_for("prescriber").post(
        f"/api/patients/{patient.pk}/courses",
        {**data, "start": later.isoformat(), "dose_g_per_kg": 1, "every_weeks": 4, "count": 2},
        content_type="application/json",
    )
    assert api.status_code == 422
    assert api.json()["error"]["message"] == error.group(1)  # the same words
    assert Course.objects.count() == 1
