"""Issue 16, items 19 and 20, in the browser as the administrator and the staff use them: users
and roles in the app's own pages (a new nurse by set-password link, the override granted, a
token shown once and revoked, deactivation; the patients' own accounts apart), the audit trail
newest first with its filters, and the outcome chart with every measure, its unit, its
direction and a key. No console error (a CSP refusal is one) and axe-core on every page."""

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

from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

NEW_PASSWORD = "saline-flush-77-Kp-chair"


def test_an_administrator_manages_users_roles_and_tokens(
    page: Page,
    sign_in: Callable[[str], Page],
    live_users: dict[str, Any],
    live_patient: Any,
    check_accessibility: Callable[[], list[str]],
) -> None:
    sign_in("admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users and roles").click()
    expect(page.get_by_role("heading", level=1, name="Users and roles")).to_be_visible()
    staff = page.get_by_role("table")
    prescriber = re.compile(r"^prescriber prescriber Prescriber yes, as prescriber")
    expect(staff.get_by_role("row", name=prescriber)).to_be_visible()
    violations = check_accessibility()

    # A new nurse, who sets her own password through the link.
    page.get_by_role("link", name="New user").click()
    page.get_by_label("User name (to sign in)").fill("rn.byrne")
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Byrne")
    page.get_by_label("Nurse").check()
    page.get_by_label("A set-password link").check()
    violations += check_accessibility()
    page.get_by_role("button", name="Create the user").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ada Byrne")
    link = page.get_by_label("The link").input_value()
    assert re.search(r"/welcome/\d+/[\w-]+/$", link), link
    violations += check_accessibility()

    # The override, granted to her.
    page.get_by_role("button", name="Grant rn.byrne the override").click()
    expect(page.get_by_text("rn.byrne may now override a soft limit.")).to_be_visible()
    expect(page.get_by_text("yes, granted to them")).to_be_visible()

    # A token, shown once, then revoked.
    page.get_by_label("What machine client uses it").fill("pump gateway")
    page.get_by_role("button", name="Create a token").click()
    raw = page.get_by_label("The token").input_value()
    assert raw.startswith("ivig_")
    row = page.get_by_role("row", name=re.compile("pump gateway"))
    expect(row).to_contain_text("in use")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(page.get_by_role("row", name=re.compile("pump gateway"))).to_contain_text("revoked")
    expect(page.get_by_label("The token")).to_have_count(0)  # shown once

    # Deactivate her (a confirmation first), then reactivate.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Deactivate rn.byrne").click()
    expect(page.get_by_text("rn.byrne is deactivated.")).to_be_visible()
    page.get_by_role("button", name="Reactivate rn.byrne").click()
    expect(page.get_by_text("rn.byrne is active again.")).to_be_visible()
    violations += check_accessibility()

    # The patients' own accounts, apart.
    page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Patients' own accounts"
    ).click()
    expect(page.get_by_text("No patient has their own account.")).to_be_visible()
    violations += check_accessibility()

    # She opens the link (signed out), sets her password and signs in.
    page.get_by_role("button", name=re.compile("Sign out")).click()
    page.goto(link)
    expect(page.get_by_role("heading", level=1, name="Set your password")).to_be_visible()
    page.get_by_label("Your new password").fill(NEW_PASSWORD)
    page.get_by_label("The same password again").fill(NEW_PASSWORD)
    violations += check_accessibility()
    page.get_by_role("button", name="Save my password").click()
    page.get_by_label("Username").fill("rn.byrne")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name="Patients")).to_be_visible()
    assert violations == []


def test_the_audit_trail_newest_first_with_filters(
    page: Page,
    sign_in: Callable[[str], Page],
    live_users: dict[str, Any],
    live_patient: Any,
    check_accessibility: Callable[[], list[str]],
) -> None:
    sign_in("admin")
    page.get_by_role("link", name="Audit trail").first.click()
    expect(page.get_by_role("heading", level=1, name="Audit trail")).to_be_visible()
    numbers = [int(n) for n in page.locator("table.audit tbody td.num").all_inner_texts()]
    assert numbers == sorted(numbers, reverse=True)
    assert len(numbers) > 3
    violations = check_accessibility()

    page.get_by_label("Patient (MRN or family name)").fill("MRN0001")
    page.get_by_label("Action").select_option("create")
    page.get_by_role("button", name="Show").click()
    rows = page.locator("table.audit tbody tr")
    expect(rows).to_have_count(2)  # the patient, then the weight: newest first
    expect(rows.nth(0)).to_contain_text("weight")
    expect(rows.nth(1)).to_contain_text("patient")
    expect(rows.nth(1)).to_contain_text("Lambert, Edward (MRN0001)")
    expect(rows.nth(1)).to_contain_text("prescriber")
    rows.nth(1).get_by_text("Before and after").click()
    expect(rows.nth(1).locator("pre").last).to_contain_text("MRN0001")
    violations += check_accessibility()

    page.get_by_role("link", name="Clear the filters").click()
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Action").select_option("read")
    page.get_by_role("button", name="Show").click()
    first = page.locator("table.audit tbody tr").first
    expect(first).to_contain_text("audit trail")  # reading the patient's audit was audited
    expect(first).to_contain_text("Lambert, Edward")
    assert violations == []


def test_the_outcome_chart_draws_every_measure_with_units_direction_and_key(
    page: Page,
    sign_in: Callable[[str], Page],
    live_users: dict[str, Any],
    live_patient: Any,
    check_accessibility: Callable[[], list[str]],
) -> None:
    from django.utils import timezone

    from ivig.records.services.outcomes import record_outcome

    today = timezone.localdate()
    for measure, values in (("3tug", (30, 24)), ("qmg", (12, 9)), ("mrc-sum", (48, 52))):
        for days_ago, value in zip((28, 0), values, strict=True):
            record_outcome(live_users["nurse"], live_patient.pk, measure, value,
                           today - dt.timedelta(days=days_ago), today=today)  # fmt: skip
    sign_in("nurse")
    page.goto(f"/patients/{live_patient.pk}/")
    chart = page.get_by_role("img", name="Outcome measures over time")
    expect(chart).to_be_visible()
    expect(chart.locator("polyline")).to_have_count(3)
    expect(chart.locator("circle")).to_have_count(6)
    for words in (
        "Triple timed up-and-go (3TUG), in seconds",
        "Quantitative Myasthenia Gravis score (QMG), in points",
        "MRC sum score, in points",
    ):
        expect(chart.locator("text", has_text=words).first).to_be_visible()
    expect(chart.locator("text", has_text="↓ lower is better")).to_have_count(4)
    expect(chart.locator("text", has_text="↑ higher is better")).to_have_count(2)
    box = chart.bounding_box()
    assert box is not None
    assert box["height"] > 400  # three panels, not one
    page.get_by_text("The chart as a table").click()
    table = page.locator("details.chart-table table")
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(2)
    assert check_accessibility() == []
