"""A whole day of a LEMS patient in the browser, as the users would go through it.

The admin makes the staff in the Django admin; the prescriber creates the patient and prescribes
a 2-day induction of Privigen (US) with the live preview; the pharmacist verifies day 1 (the
rounding check), dispenses it with lot numbers and finds the patient by lot; the nurse runs day 1
on the run sheet (check, start about 3 hours ago, vital signs, a rate step, a mild reaction with
the protocol's advice at once, the slow-down, the end, the observation, the print view); the
prescriber records two 3TUG outcomes and sees the chart and "improved".

Every page load is screenshotted and any console error fails the test (conftest.py); axe-core
runs on the prescribe page, the pharmacy's verify and dispense pages, today's chairs and the run
sheet. With ``IVIG_README_SCREENSHOTS=1`` the test also writes the README's screenshots
(docs/screenshots/runsheet.png and patient.png, 1280 px wide).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Without the dev extras: skip, except on CI, where the import error fails the run.
if os.environ.get("CI", "").strip().lower() in ("", "0", "false", "no"):
    pytest.importorskip("playwright", reason="the browser tests need the dev extras")
    pytest.importorskip("axe_playwright_python", reason="the browser tests need the dev extras")

from playwright.sync_api import FloatRect, Locator, Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "infusion-chair-42-Xq"
ROLES = ("admin", "prescriber", "pharmacist", "nurse")
STAFF = {"prescriber": "dr.okafor", "pharmacist": "ph.lindqvist", "nurse": "rn.moreau"}
LOTS = {"40": "PRV40-27A", "5": "PRV05-27B"}  # vial size (g) -> lot number
EXPIRY = "2027-06-30"
TIMES = "\u00d7"  # as the pages write 2 x 40 g
README_WIDTH = 1280
README_MAX_HEIGHT = 2600  # px: keeps each PNG readable and under 400 KB


def local(moment: dt.datetime) -> str:
    """A time as a datetime-local input takes it, in the service's time zone."""
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def hhmm(moment: dt.datetime) -> str:
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%H:%M")


def go(shots: Any, target: Locator) -> None:
    """Click a link or button that loads a page, once the screenshot of the page it is on is
    taken (a load in the middle of a screenshot would lose it)."""
    target.page.wait_for_load_state("load")
    shots.settle()
    target.click()


def sign_in(page: Page, shots: Any, username: str) -> None:
    """Through the sign-in form (where signing out left the browser); ends on the patients
    page."""
    if not page.url.endswith("/signin/"):
        page.goto("/signin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    go(shots, page.get_by_role("button", name="Sign in"))
    expect(page.get_by_role("heading", level=1, name="Patients")).to_be_visible()
    shots.settle()


def sign_out(page: Page, shots: Any, username: str) -> None:
    go(shots, page.get_by_role("button", name=f"Sign out {username}"))
    expect(page).to_have_url(re.compile(r"/signin/$"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    shots.settle()  # the screenshot of the sign-in page, before the next user types


def message(page: Page) -> Locator:
    """The page's status message (after a redirect) or the run sheet's (after htmx)."""
    return page.get_by_role("status").filter(has_text=re.compile(r"\S")).first


def readme_shot(page: Page, root: Path, name: str, until: Locator | None = None) -> None:
    """With IVIG_README_SCREENSHOTS=1, docs/screenshots/<name>.png: the full page 1280 px wide,
    down to the bottom of ``until`` (else the whole page), at most README_MAX_HEIGHT px."""
    if os.environ.get("IVIG_README_SCREENSHOTS", "") != "1":
        return
    folder = root / "docs" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": README_WIDTH, "height": 900})
    height = float(page.evaluate("document.documentElement.scrollHeight"))
    if until is not None:
        box = until.bounding_box()
        assert box is not None
        scrolled = float(page.evaluate("window.scrollY"))
        height = min(height, box["y"] + scrolled + box["height"] + 24)
    height = min(height, README_MAX_HEIGHT)
    clip: FloatRect = {"x": 0, "y": 0, "width": README_WIDTH, "height": height}
    page.screenshot(path=folder / f"{name}.png", full_page=True, clip=clip)


# --- 1. the admin makes the staff ---------------------------------------------------------------


def admin_adds_a_user(page: Page, shots: Any, username: str, role: str) -> None:
    go(shots, page.get_by_role("link", name="Add user"))
    expect(page.get_by_role("heading", level=1, name="Add user")).to_be_visible()
    page.get_by_label("Username:").fill(username)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation:").fill(PASSWORD)
    go(shots, page.get_by_role("button", name="Save", exact=True))
    expect(page.locator(".messagelist")).to_contain_text(f"The user “{username}” was added")
    # the change page: the role is a group
    page.locator("#id_groups_from").select_option(label=role)
    page.get_by_role("button", name="Choose selected groups").click()
    expect(page.locator("#id_groups_to option")).to_have_text([role])
    go(shots, page.get_by_role("button", name="Save", exact=True))
    expect(page.locator(".messagelist")).to_contain_text(f"The user “{username}” was changed")


def step_1_admin(page: Page, shots: Any) -> None:
    sign_in(page, shots, "admin")
    go(shots, page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Users, roles")
    go(shots, page.get_by_role("link", name="Users", exact=True))
    expect(page.get_by_role("heading", level=1, name="Select user to change")).to_be_visible()
    for role, username in STAFF.items():
        admin_adds_a_user(page, shots, username, role)
        users = page.locator("#result_list")  # back on the list of users
        expect(users.get_by_role("link", name=username, exact=True)).to_be_visible()

    from django.contrib.auth.models import User

    roles = {u.username: [g.name for g in u.groups.all()] for u in User.objects.all()}
    assert roles == {"admin": ["admin"], **{user: [role] for role, user in STAFF.items()}}
    go(shots, page.get_by_role("link", name="View site"))
    sign_out(page, shots, "admin")


# --- 2. the prescriber: the patient and the course ----------------------------------------------


def step_2_prescriber(
    page: Page, shots: Any, today: dt.date, violations: list[str], axe: Callable[[], list[str]]
) -> None:
    sign_in(page, shots, STAFF["prescriber"])
    go(shots, page.get_by_role("link", name="New patient"))
    expect(page.get_by_role("heading", level=1, name="New patient")).to_be_visible()
    page.get_by_label("MRN").fill("MRN0001")
    page.get_by_label("Family name").fill("Lambert")
    page.get_by_label("Given name").fill("Edward")
    page.get_by_label("Date of birth").fill(f"{today.year - 60}-01-01")  # 60 all this year
    page.get_by_label("Sex").select_option("male")
    page.get_by_label("Height (cm)").fill("180")
    page.get_by_label("Weight today (kg)").fill("100")
    go(shots, page.get_by_role("button", name="Save"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lambert, Edward")
    expect(message(page)).to_contain_text("created")
    expect(page.get_by_text(f"100 kg on {today.isoformat()}")).to_be_visible()

    go(shots, page.get_by_role("link", name="Prescribe a course"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Prescribe a course")
    preview = page.locator("#plan-preview")
    expect(preview).to_contain_text("fill in")  # no product yet: no plan
    page.get_by_label("Product").select_option("privigen-us")
    page.get_by_label("Phase").select_option("induction")
    page.get_by_label("Induction: consecutive days").fill("2")
    page.get_by_label("First dose").fill(today.isoformat())
    page.get_by_label("First dose").press("Tab")  # the change event: the preview follows
    expect(preview).to_contain_text("85.0 kg")
    expect(preview).to_contain_text("25.5 mL/h")
    expect(preview.get_by_role("row").filter(has_text=today.isoformat())).to_contain_text("85 g")
    page.wait_for_load_state("networkidle")
    violations += axe()
    go(shots, page.get_by_role("button", name="Prescribe", exact=True))

    expect(page.get_by_role("heading", level=1)).to_contain_text("Lambert, Edward")
    expect(message(page)).to_contain_text("Course prescribed: LEMS induction, privigen-us, 2 doses")
    course = page.locator("#timeline ~ table").first
    expect(page.get_by_role("heading", level=3)).to_contain_text(
        f"{today.isoformat()}: LEMS induction, privigen-us"
    )
    expect(course.locator("tbody tr")).to_have_count(2)
    expect(course.locator("tbody tr").first).to_contain_text("planned")
    sign_out(page, shots, STAFF["prescriber"])


# --- 3. the pharmacist: verify, dispense, find by lot --------------------------------------------


def queue_row(page: Page, section: str, today: dt.date) -> Locator:
    """The row of today's order in the queue's ``section`` ("To verify", "To dispense")."""
    part = page.locator("section.card").filter(
        has=page.get_by_role("heading", level=2, name=re.compile(f"^{section}"))
    )
    return part.get_by_role("row").filter(has_text=today.isoformat())


def step_3_pharmacist(
    page: Page, shots: Any, today: dt.date, violations: list[str], axe: Callable[[], list[str]]
) -> None:
    sign_in(page, shots, STAFF["pharmacist"])
    go(shots, page.get_by_role("link", name="Pharmacy"))
    expect(page.get_by_role("heading", level=1, name="Pharmacy")).to_be_visible()
    expect(page.get_by_role("heading", level=2, name="To verify")).to_contain_text("2")

    # the check, in the queue (htmx panel)
    row = queue_row(page, "To verify", today)
    link = row.get_by_role("link", name="Check and verify")
    verify_url = link.get_attribute("href")
    link.click()
    panel = page.locator("#panel")
    expect(panel).to_contain_text(f"85 g = 2 {TIMES} 40 g + 1 {TIMES} 5 g")
    expect(panel).to_contain_text("✓ equals the dose")
    shots.take("pharmacy-verify-panel")
    violations += axe()

    # the verify page itself (the link's address), and verify there
    assert verify_url is not None
    page.goto(verify_url)
    expect(page.get_by_role("heading", level=2)).to_contain_text("Verify: Lambert, Edward")
    expect(page.locator(".summary")).to_have_text(f"85 g = 2 {TIMES} 40 g + 1 {TIMES} 5 g")
    expect(page.get_by_text("85 g at 100 mg/mL")).to_be_visible()
    violations += axe()
    go(shots, page.get_by_role("button", name="Verify", exact=True))
    expect(page.get_by_role("heading", level=1, name="Pharmacy")).to_be_visible()
    expect(message(page)).to_contain_text(
        f"Verified: Lambert, Edward (MRN0001), {today.isoformat()}, 85 g."
    )

    # dispense with lots
    go(shots, queue_row(page, "To dispense", today).get_by_role("link", name="Dispense"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dispense: Lambert, Edward")
    violations += axe()
    for number in (1, 2):
        lot = page.get_by_role("group", name=f"Lot {number}", exact=True)
        size = lot.get_by_label("Vial size").input_value()
        lot.get_by_label("Lot number").fill(LOTS[size])
        lot.get_by_label("Expiry date").fill(EXPIRY)
    go(shots, page.get_by_role("button", name="Dispense", exact=True))
    expect(page.get_by_role("heading", level=1, name="Pharmacy")).to_be_visible()
    expect(message(page)).to_contain_text(
        f"Dispensed: Lambert, Edward (MRN0001), {today.isoformat()}, "
        f"lots {', '.join(sorted(LOTS.values()))}."
    )

    # who received this lot
    page.get_by_label("Lot number").fill(LOTS["40"])
    go(shots, page.get_by_role("button", name="Find who received this lot"))
    expect(page.get_by_role("heading", level=1, name="Lot look-up")).to_be_visible()
    results = page.locator("#results")
    expect(results.get_by_role("heading", level=2)).to_have_text(
        f"Lot {LOTS['40']}: 1 patient, 1 order"
    )
    expect(results.get_by_role("row").nth(1)).to_contain_text(f"2 {TIMES} 40 g ({LOTS['40']})")
    expect(results.get_by_role("row").nth(1)).to_contain_text(EXPIRY)
    go(shots, results.get_by_role("link", name="Lambert, Edward"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lambert, Edward")
    sign_out(page, shots, STAFF["pharmacist"])


# --- 4. the nurse: the run sheet of day 1 --------------------------------------------------------


def step_4_nurse(
    page: Page,
    shots: Any,
    root: Path,
    today: dt.date,
    violations: list[str],
    axe: Callable[[], list[str]],
) -> None:
    from django.utils import timezone

    now = timezone.now()
    start = now - dt.timedelta(hours=3)
    sign_in(page, shots, STAFF["nurse"])
    go(shots, page.get_by_role("link", name="Today's chairs"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Today's chairs")
    row = page.get_by_role("row").filter(has_text="Lambert, Edward")
    expect(row).to_contain_text("Ready; pre-infusion check to do")
    expect(page.locator(".board-summary")).to_contain_text("1 ready")
    violations += axe()
    go(shots, row.get_by_role("link", name="Run sheet"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Run sheet: Lambert, Edward")
    expect(page.locator(".runsheet-head")).to_contain_text(f"{LOTS['40']}")
    violations += axe()

    # the pre-infusion check: all well
    check = page.locator("#check-form")
    for question, answer in (
        ("Signs of an infection today?", "No"),
        ("Fever today (38 °C or more)?", "No"),
        ("Does the patient feel unwell?", "No"),
        ("Is the patient well hydrated?", "Yes"),
    ):
        check.get_by_role("group", name=question).get_by_label(answer, exact=True).check()
    check.get_by_role("button", name="Save the check").click()
    expect(page.locator("#runsheet-messages")).to_contain_text("Check saved.")
    expect(page.locator("#check")).to_contain_text("first-infusion")
    shots.take("runsheet-checked")

    # the start, 3 hours ago (the start time is editable, to the minute)
    form = page.locator("#start-form")
    form.get_by_label("Start time").fill(local(start))
    form.get_by_role("button", name="Start").click()
    expect(page.locator("#runsheet-messages")).to_contain_text(
        f"Infusion started at {hhmm(start)}, at 25.5 mL/h."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("in-progress")
    shots.take("runsheet-started")

    # vital signs, 10 minutes in
    form = page.locator("#vitals-form")
    for label, value in (
        ("Temperature (°C)", "36.8"),
        ("Pulse (/min)", "76"),
        ("Systolic blood pressure (mm Hg)", "128"),
        ("Diastolic blood pressure (mm Hg)", "78"),
        ("Respiratory rate (/min)", "16"),
        ("SpO₂ (%)", "98"),
    ):
        form.get_by_label(label).fill(value)
    at = start + dt.timedelta(minutes=10)
    form.get_by_label("Time").fill(local(at))
    form.get_by_role("button", name="Save vital signs").click()
    expect(page.locator("#runsheet-messages")).to_contain_text(f"Vital signs at {hhmm(at)} saved.")
    expect(page.locator("#vitals")).to_contain_text("36.8 °C")

    # the 2nd step, at 30 minutes
    form = page.locator("#rate-form")
    form.get_by_label("New rate (mL/h)").fill("51")
    at = start + dt.timedelta(minutes=30)
    form.get_by_label("Time").fill(local(at))
    form.get_by_role("button", name="Record the rate").click()
    expect(page.locator("#runsheet-messages")).to_contain_text(f"Rate 51 mL/h from {hhmm(at)}.")
    expect(page.locator("#live")).to_contain_text("Pump rate now: 51 mL/h")

    # a mild reaction: the recommended action shows as soon as the symptom is ticked
    form = page.locator("#reaction-form")
    form.get_by_label("Headache (mild)").check()
    advice = page.locator("#reaction-advice")
    expect(advice).to_contain_text(
        "Mild reaction: slow the infusion to 25.5 mL/h (the last tolerated rate)"
    )
    expect(advice).to_contain_text("Basis: protocol")
    shots.take("runsheet-reaction-advice")
    form.get_by_label("Action taken").fill(
        "Slowed to 25.5 mL/h (last tolerated rate) as the protocol says; prescriber told."
    )
    at = start + dt.timedelta(minutes=40)
    form.get_by_label("Time").fill(local(at))
    form.get_by_role("button", name="Save the reaction").click()
    expect(page.locator("#runsheet-messages")).to_contain_text("Reaction saved (mild).")
    reactions = page.locator("#reactions")
    expect(reactions).to_contain_text("Headache")
    expect(reactions).to_contain_text("Action taken: Slowed to 25.5 mL/h")
    expect(page.locator("#live")).to_contain_text(
        "The planned increases are on hold: no more than 25.5 mL/h"
    )

    # the slow-down on the pump: the rate form offers the protocol's limit
    form = page.locator("#rate-form")
    expect(form.get_by_label("New rate (mL/h)")).to_have_value("25.5")
    at = start + dt.timedelta(minutes=41)
    form.get_by_label("Time").fill(local(at))
    form.get_by_role("button", name="Record the rate").click()
    expect(page.locator("#runsheet-messages")).to_contain_text(f"Rate 25.5 mL/h from {hhmm(at)}.")
    expect(page.locator("#live")).to_contain_text("Pump rate now: 25.5 mL/h")
    shots.take("runsheet-slowed")
    violations += axe()
    readme_shot(page, root, "runsheet", until=page.locator("#live table.steps"))

    # the end, 75 minutes ago: 60 minutes of observation after a first infusion
    end = now - dt.timedelta(minutes=75)
    form = page.locator("#end-form")
    form.get_by_label("End time (pump stopped)").fill(local(end))
    form.get_by_role("button", name="End the infusion").click()
    until = end + dt.timedelta(minutes=60)
    expect(page.locator("#runsheet-messages")).to_contain_text(
        f"Infusion ended at {hhmm(end)}. Observe for 60 minutes, until {hhmm(until)}."
    )

    # the observation closes 65 minutes after the end
    form = page.locator("#observation-form")
    form.get_by_label("Observation ended at").fill(local(end + dt.timedelta(minutes=65)))
    form.get_by_label("Observation notes").fill("Well; the headache has resolved.")
    form.get_by_role("button", name="Close the observation").click()
    expect(page.locator("#runsheet-messages")).to_contain_text(
        "Observation closed: the infusion is completed."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("completed")
    expect(page.locator("#end")).to_contain_text(f"Started {hhmm(start)}, ended {hhmm(end)}")
    expect(page.locator("#vitals-form")).to_have_count(0)  # the day is closed
    shots.take("runsheet-completed")

    # the print view
    go(shots, page.get_by_role("link", name="Print view"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        f"IVIG run sheet: Lambert, Edward · MRN MRN0001 · {today.isoformat()}"
    )
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    go(shots, page.get_by_role("link", name="Back to the run sheet"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Run sheet: Lambert, Edward")
    go(shots, page.get_by_role("link", name="Today's chairs"))
    expect(page.get_by_role("row").filter(has_text="Lambert, Edward")).to_contain_text("completed")
    sign_out(page, shots, STAFF["nurse"])


# --- 5. the prescriber: outcomes ----------------------------------------------------------------


def record_outcome(page: Page, shots: Any, value: str, day: dt.date) -> None:
    form = page.locator("form").filter(has=page.get_by_role("button", name="Record", exact=True))
    form.get_by_role("combobox", name="Measure").select_option("3tug")
    form.get_by_label("Value (seconds or points)").fill(value)
    form.get_by_label("Measured on").fill(day.isoformat())
    go(shots, form.get_by_role("button", name="Record", exact=True))
    expect(message(page)).to_contain_text("Outcome recorded.")


def step_5_outcomes(page: Page, shots: Any, root: Path, today: dt.date) -> None:
    sign_in(page, shots, STAFF["prescriber"])
    go(shots, page.get_by_role("link", name="Lambert, Edward"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lambert, Edward")
    course = page.locator("#timeline ~ table").first
    expect(course.locator("tbody tr").first).to_contain_text("completed")
    expect(course.locator("tbody tr").nth(1)).to_contain_text("planned")
    expect(page.locator("#reactions ~ p").first).to_contain_text("headache (mild)")

    record_outcome(page, shots, "30", today - dt.timedelta(days=14))
    record_outcome(page, shots, "23", today)
    chart = page.get_by_role("img", name=re.compile("^Outcome measures over time"))
    expect(chart).to_be_visible()
    expect(chart.locator("polyline")).to_have_count(1)
    expect(chart.locator("circle")).to_have_count(2)
    table = page.locator("section").filter(has=page.locator("#outcomes")).get_by_role("table")
    expect(table.get_by_role("row").filter(has_text=today.isoformat())).to_contain_text("improved")
    readme_shot(page, root, "patient")
    sign_out(page, shots, STAFF["prescriber"])


# --- the day --------------------------------------------------------------------------------------


def test_a_whole_day_of_a_lems_patient(
    page: Page,
    shots: Any,
    console: Any,
    check_accessibility: Callable[[], list[str]],
    pytestconfig: pytest.Config,
) -> None:
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from ivig.records.services.accounts import create_user

    # The role groups come from a data migration; an earlier committing test's flush empties
    # them (the admin group alone comes back, with post_migrate): as the migration, again.
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    create_user(None, "admin", PASSWORD, ["admin"], system=True)
    today = timezone.localdate()
    root = pytestconfig.rootpath
    violations: list[str] = []

    step_1_admin(page, shots)
    step_2_prescriber(page, shots, today, violations, check_accessibility)
    step_3_pharmacist(page, shots, today, violations, check_accessibility)
    step_4_nurse(page, shots, root, today, violations, check_accessibility)
    step_5_outcomes(page, shots, root, today)

    assert not violations, "axe found:\n" + "\n".join(violations)
