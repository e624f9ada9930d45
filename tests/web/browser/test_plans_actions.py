"""Defer, cancel and re-plan in the browser (issue 16 items 1 and 3), as the nurse and the
prescriber would go through them: a weight corrected on the patient page marks the course
"re-plan needed" on the patient page and the run sheet; the prescriber re-plans it with a coded
reason; the nurse defers a dose from the run sheet (a fever) after the confirmation page; the
prescriber cancels the rest of the course; the reasons are in the course's history.

Every page load is screenshotted and any console error fails the test (conftest.py); axe-core
runs on the confirmation page and the patient page."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from typing import Any

import pytest

# Without the dev extras: skip, except on CI, where the import error fails the run.
if os.environ.get("CI", "").strip().lower() in ("", "0", "false", "no"):
    pytest.importorskip("playwright", reason="the browser tests need the dev extras")
    pytest.importorskip("axe_playwright_python", reason="the browser tests need the dev extras")

from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture
def live_course(live_users: dict[str, Any], live_patient: Any) -> Any:
    """A 2-day LEMS induction of Privigen (US) from tomorrow, prescribed (85 g a day)."""
    from django.utils import timezone

    from ivig.records.services import courses

    return courses.prescribe(
        live_users["prescriber"],
        live_patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=timezone.localdate() + dt.timedelta(days=1), days=2,
        ),
    )  # fmt: skip


def visit(shots: Any, page: Page, url: str) -> None:
    """Go to ``url`` once the screenshot of the page it is on is taken."""
    page.wait_for_load_state("load")
    shots.settle()
    page.goto(url)


def go(shots: Any, target: Locator) -> None:
    """Click a link or button that loads a page, once the screenshot of this one is taken."""
    target.page.wait_for_load_state("load")
    shots.settle()
    target.click()


def _sign_out(shots: Any, page: Page) -> None:
    go(shots, page.get_by_role("button", name="Sign out"))
    expect(page).to_have_url(re.compile(r"/signin/"))


def test_a_corrected_weight_a_re_plan_a_deferred_dose_and_a_cancelled_course(
    page: Page,
    sign_in: Callable[[str], Page],
    live_patient: Any,
    live_course: Any,
    shots: Any,
    check_accessibility: Callable[[], list[str]],
) -> None:
    first, second = live_course.orders.order_by("sequence")
    patient_url = f"/patients/{live_patient.pk}/"

    # the nurse corrects the weight typed 100 kg: 80 kg
    sign_in("nurse")
    visit(shots, page, patient_url)
    go(shots, page.get_by_role("link", name=re.compile(r"^Correct or void")).first)
    page.get_by_label("Weight (kg)").fill("80")
    page.get_by_label("Reason for the correction").fill("typed 100, the scale said 80")
    go(shots, page.get_by_role("button", name="Save the correction"))
    visit(shots, page, patient_url)
    needed = page.locator(f"#replan-needed-course-{live_course.pk}")
    expect(needed).to_contain_text("Re-plan needed: weight corrected from 100 kg to 80 kg.")
    expect(needed).to_contain_text("Dosing weight 85.0 kg adjusted in the plan; now 77.0 kg")
    expect(needed).to_contain_text("A prescriber must re-plan the course.")

    # the run sheet says so too, for this dose
    visit(shots, page, f"/orders/{first.pk}/runsheet/")
    expect(page.locator(f"#replan-needed-{first.pk}")).to_contain_text(
        "This dose cannot be verified or started until the course is re-planned."
    )
    _sign_out(shots, page)

    # the prescriber re-plans from the patient page, with a coded reason
    sign_in("prescriber")
    visit(shots, page, patient_url)
    go(
        shots,
        page.locator(f"#replan-needed-course-{live_course.pk}").get_by_role(
            "link", name="Re-plan the course"
        ),
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Re-plan a course")
    page.get_by_label("Why").select_option("record-changed")
    page.get_by_label("Reason for the re-plan").fill("weight corrected to 80 kg")
    go(shots, page.get_by_role("button", name="Re-plan", exact=True))
    expect(page.locator(".messages")).to_contain_text("2 orders planned again")
    expect(page.locator(".replan-needed")).to_have_count(0)
    _sign_out(shots, page)

    # the nurse defers dose 1 from the run sheet: a fever
    sign_in("nurse")
    visit(shots, page, f"/orders/{first.pk}/runsheet/")
    go(shots, page.get_by_role("link", name=re.compile(r"^Defer dose 1 of")))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Defer dose 1 of")
    assert check_accessibility() == []
    go(shots, page.get_by_role("button", name="Defer this dose"))
    expect(page.locator("#id_reason_code_error")).to_be_visible()  # no reason chosen
    page.locator("#id_reason_code").select_option("fever")
    page.get_by_label("Note").fill("38.4 °C this morning")
    go(shots, page.get_by_role("button", name="Defer this dose"))
    expect(page).to_have_url(re.compile(rf"/orders/{first.pk}/runsheet/$"))
    expect(page.locator("#check")).to_contain_text("Infection or fever: 38.4 °C this morning")
    _sign_out(shots, page)

    # the prescriber cancels the rest of the course; the history keeps both reasons
    sign_in("prescriber")
    visit(shots, page, patient_url)
    go(shots, page.get_by_role("link", name=re.compile(r"^Cancel the course")))
    expect(page.get_by_role("table")).to_contain_text(second.date.isoformat())
    page.locator("#id_reason_code").select_option("prescriber")
    page.get_by_label("Note").fill("switch to maintenance next month")
    go(shots, page.get_by_role("button", name="Cancel the course"))
    expect(page.locator(".messages")).to_contain_text("Course cancelled: 1 dose not yet started")
    history = page.locator(".course-history")
    expect(history).to_contain_text("deferred: Infection or fever: 38.4 °C this morning")
    expect(history).to_contain_text(
        "course cancelled: Prescriber decision: switch to maintenance next month"
    )
    expect(history).to_contain_text("course re-planned: Weight, height, risks or renal function")
    assert check_accessibility() == []
