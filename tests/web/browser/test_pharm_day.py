"""Issue 16 items 6, 10, 12 and 15 in the browser: the pharmacist verifies a whole 3-day
induction in one action (the patient's allergies, IgA status, risks and answers beside the
numbers) and dispenses it from one lot per vial size, a lot read from a scanned GS1 code, the
product on each label chosen (no default) and a row left unchosen named beside it; day 1 reacts
at 51 mL/h; the prescriber decides on the patient's page (a ramp capped at the tolerated rate,
premedication), orders paracetamol for the rest of the course and re-plans it with the cap as a
ramp input; the nurse records it given on day 1's run sheet, and day 2's run sheet shows the
last reaction, the decision and the capped steps. No console error (conftest.py); axe-core on
the new pages."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

if os.environ.get("CI", "").strip().lower() in ("", "0", "false", "no"):
    pytest.importorskip("playwright", reason="the browser tests need the dev extras")
    pytest.importorskip("axe_playwright_python", reason="the browser tests need the dev extras")

from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

GTIN = "09506000134352"  # GS1's example GTIN
NORMAL = {"pulse_per_min": 74, "systolic_mm_hg": 124, "diastolic_mm_hg": 76}


@pytest.fixture
def midday() -> Iterator[str]:
    """The service's clock near midday (as test_whole_day.py): the infusion started 2 hours
    ago falls within the order's day whatever the hour the test runs at."""
    from django.test import override_settings

    offset = 12 - dt.datetime.now(dt.UTC).hour
    zone = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    with override_settings(TIME_ZONE=zone):
        yield zone


def _course(users: dict[str, Any], patient: Any) -> Any:
    from django.utils import timezone

    from ivig.records.services import courses

    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=timezone.localdate(), days=3),
    )  # fmt: skip


def _day1_reaction(users: dict[str, Any], order: Any) -> None:
    """Day 1 checked and started 2 hours ago, up to 51 mL/h at 30 minutes, a reaction at 40
    (headache, chills)."""
    from django.utils import timezone

    from ivig.records.models import Order
    from ivig.records.services import infusions

    now = timezone.now()
    start = now - dt.timedelta(hours=2)
    nurse = users["nurse"]
    answers = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False,
                                     hydrated=True)  # fmt: skip
    infusions.pre_check(nurse, order.pk, answers, now=start)
    infusions.record_vitals(nurse, order.pk, start, infusions.VitalsInput(**NORMAL), now=start)
    version = Order.objects.get(pk=order.pk).version
    infusions.start_infusion(nurse, order.pk, version, start, visual_inspection_ok=True, now=now)
    at30 = start + dt.timedelta(minutes=30)
    infusions.record_vitals(nurse, order.pk, at30, infusions.VitalsInput(**NORMAL), now=now)
    session = Order.objects.get(pk=order.pk).session
    infusions.record_rate(nurse, order.pk, session.version, at30, 51, now=now)
    session = Order.objects.get(pk=order.pk).session
    infusions.record_reaction(nurse, order.pk, session.version, start + dt.timedelta(minutes=40),
                              ["headache", "chills"], "pump paused", now=now)  # fmt: skip


def _sign_out(page: Page, username: str) -> None:
    page.get_by_role("button", name=f"Sign out {username}").click()
    expect(page).to_have_url(re.compile(r"/signin/$"))


def test_a_course_verified_and_dispensed_together_and_the_next_dose_after_a_reaction(
    page: Page,
    sign_in: Callable[[str], Page],
    live_users: dict[str, Any],
    live_patient: Any,
    shots: Any,
    check_accessibility: Callable[[], list[str]],
    midday: str,
) -> None:
    from ivig.records.models import Order, Patient

    Patient.objects.filter(pk=live_patient.pk).update(
        allergies="penicillin (rash)", iga_status="deficient"
    )
    course = _course(live_users, live_patient)
    violations: list[str] = []

    # --- the pharmacist: the whole course at once (items 10, 12, 15) ---
    sign_in("pharmacist")
    page.get_by_role("link", name="Pharmacy").first.click()
    page.get_by_role("link", name="Verify all 3 doses of this course").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Verify the course: Lambert")
    expect(page.get_by_text("penicillin (rash)")).to_be_visible()
    expect(page.locator(".pharmacy-patient")).to_contain_text("Deficient")
    expect(page.locator("table.course-doses tbody tr")).to_have_count(3)
    violations += check_accessibility()
    page.get_by_role("button", name="Verify all 3 doses of this course").click()
    expect(page.get_by_text(re.compile(r"Verified 3 doses: Lambert"))).to_be_visible()
    page.get_by_role("link", name="Dispense all 3 doses of this course").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dispense the course")
    rows = page.locator("fieldset.lot-row:not(.spare-row)")  # the spare row stays empty
    count = rows.count()
    assert count >= 1
    scan = rows.nth(0).get_by_label("Scan")
    scan.fill(f"]d201{GTIN}17291200" + "10LOT-SCAN1")
    scan.press("Enter")  # the scanner's Enter fills the row; it does not submit
    expect(rows.nth(0).get_by_label("Lot number")).to_have_value("LOT-SCAN1")
    expect(rows.nth(0).get_by_label("Expiry date")).to_have_value("2029-12-31")
    product = rows.nth(0).get_by_label("Product on the vial label")
    expect(product).to_have_value("")  # no default: the pharmacist reads the label
    for i in range(1, count):
        rows.nth(i).get_by_label("Lot number").fill(f"LOT-{i}")
        rows.nth(i).get_by_label("Expiry date").fill("2029-06-30")
        rows.nth(i).get_by_label("Product on the vial label").select_option("privigen-us")
    violations += check_accessibility()
    page.get_by_role("button", name="Dispense all 3 doses of this course").click()
    expect(page.locator("#id_lots-0-product_id_error")).to_be_visible()  # beside its row
    shots.take("product-not-chosen")
    rows.nth(0).get_by_label("Product on the vial label").select_option("privigen-us")
    page.get_by_role("button", name="Dispense all 3 doses of this course").click()
    expect(page.get_by_text(re.compile(r"Dispensed 3 doses: Lambert"))).to_be_visible()
    assert set(course.orders.values_list("status", flat=True)) == {"dispensed"}
    _sign_out(page, "pharmacist")

    # The infusion below started 2 hours ago: as if the pharmacy had done this at the start of
    # the day (a start is never before the dispensing, requirement 35).
    from django.utils import timezone

    morning = timezone.now().replace(hour=0, minute=0)
    course.orders.update(verified_at=morning, dispensed_at=morning)
    day1, day2 = course.orders.order_by("date")[:2]
    _day1_reaction(live_users, day1)

    # --- the prescriber decides and orders premedication (item 6) ---
    sign_in("prescriber")
    page.goto(f"/patients/{live_patient.pk}/")
    page.get_by_role("link", name="Reactions and premedication").click()
    expect(page.locator(".previous-reaction")).to_contain_text("at 51 mL/h; tolerated 25.5 mL/h")
    page.get_by_label("a slower ramp, capped at the tolerated rate").check()
    page.get_by_label("Premedicate before the next infusions").check()
    page.get_by_label("Note").fill("premedicate before day 2")
    page.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_text("Decision recorded for the next infusions.")).to_be_visible()
    page.get_by_label("Before which infusions").select_option(f"course-{course.pk}")
    page.get_by_label("Medicine").fill("paracetamol")
    page.get_by_label("Dose").fill("1 g")
    page.get_by_role("button", name="Order premedication").click()
    expect(page.get_by_text("Premedication ordered: paracetamol 1 g.")).to_be_visible()
    violations += check_accessibility()
    # the cap is a ramp input: the later doses are re-planned with it (not clamped on display)
    page.goto(f"/patients/{live_patient.pk}/")
    expect(page.locator(".replan-needed").first).to_be_visible()
    page.get_by_role("link", name="Re-plan the course").first.click()
    page.get_by_label("Reason for the re-plan").fill("the rate cap after day 1's reaction")
    page.get_by_role("button", name="Re-plan", exact=True).click()
    expect(page.get_by_text(re.compile(r"new rate steps for the dispensed doses"))).to_be_visible()
    _sign_out(page, "prescriber")

    # --- the nurse: given on day 1; day 2 shows what carries (item 6) ---
    sign_in("nurse")
    page.goto(f"/orders/{day1.pk}/runsheet/")
    previous = page.locator("#previous")
    expect(previous).to_contain_text("paracetamol 1 g oral")
    previous.get_by_role("button", name="Given").click()
    expect(page.locator("#previous")).to_contain_text("Given: paracetamol 1 g at")
    page.goto(f"/orders/{day2.pk}/runsheet/")
    expect(page.locator("#last-reaction")).to_contain_text("at 51 mL/h; tolerated 25.5 mL/h")
    expect(page.locator("#last-reaction")).to_contain_text("premedicate before day 2")
    expect(page.locator("#rate-cap")).to_contain_text("Rate capped at 25.5 mL/h")
    expect(page.locator("#live [data-step='2']")).to_have_count(0)  # 25.5 mL/h to the end
    shots.take("day-2-run-sheet")
    violations += check_accessibility()
    assert Order.objects.get(pk=day1.pk).premedications_given.count() == 1
    assert not violations, "axe found:\n" + "\n".join(violations)
