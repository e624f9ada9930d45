"""The pages in a real browser: signing in, the keyboard, the new-patient form, the patient
page's chart and cap meter, accessibility (axe-core) and the CSP as the browser applies it.

Every test also fails on any console error or uncaught script error (conftest.py)."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

# Without the dev extras: skip, except on CI, where the import error fails the run.
if os.environ.get("CI", "").strip().lower() in ("", "0", "false", "no"):
    pytest.importorskip("playwright", reason="the browser tests need the dev extras")
    pytest.importorskip("axe_playwright_python", reason="the browser tests need the dev extras")

from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PASSWORD = "infusion-chair-42-Xq"


def focused(page: Page) -> str:
    """The focused element: ``#id``, else ``tag: text``."""
    return str(
        page.evaluate(
            """() => {
                const e = document.activeElement;
                if (!e || e === document.body) return "";
                return e.id ? "#" + e.id : e.tagName.toLowerCase() + ": " + e.textContent.trim();
            }"""
        )
    )


def tab_until(page: Page, target: str, limit: int = 15) -> list[str]:
    """Press Tab until ``target`` (as ``focused`` says it) has the focus; every stop on the way."""
    stops: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stops.append(focused(page))
        if stops[-1] == target:
            return stops
    raise AssertionError(f"Tab never reached {target}; stops: {stops}")


def test_wrong_password_gives_the_message_and_the_right_one_signs_in(
    page: Page, live_users: dict[str, Any]
) -> None:
    page.goto("/patients/")
    expect(page).to_have_url(re.compile(r"/signin/\?next=/patients/$"))
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Please enter a correct username and password"
    )
    expect(page.get_by_label("Username")).to_have_value("nurse")  # kept
    expect(page.get_by_label("Password")).to_have_value("")  # never sent back

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/patients/$"))
    expect(page.get_by_role("heading", level=1, name="Patients")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out nurse")).to_be_visible()


def test_keyboard_sign_in_with_enter_then_tab_to_the_search_and_the_first_patient(
    page: Page, live_patient: Any, shots: Any
) -> None:
    page.goto("/signin/")
    expect(page.get_by_label("Username")).to_be_focused()  # Django's form says autofocus
    page.keyboard.type("nurse")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Patients")).to_be_visible()

    stops = tab_until(page, "#q")
    assert stops[0] == "a: Skip to the content"  # the first stop skips the menu
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus can be seen
    onward = tab_until(page, "a: Lambert, Edward")  # the first patient's link, after Search

    # Back to the search: typing asks htmx for the results (no page load; the address follows).
    for _ in onward:
        page.keyboard.press("Shift+Tab")
    assert focused(page) == "#q"
    loads = shots.started
    page.keyboard.type("zzz")
    expect(page.locator("#results")).to_contain_text("No patient found for “zzz”")
    expect(page).to_have_url(re.compile(r"/patients/\?q=zzz$"))
    assert shots.started == loads
    page.keyboard.press("Enter")  # the plain form still works: a page load
    expect(page.locator("#results")).to_contain_text("No patient found")


def test_new_patient_keeps_what_was_typed_shows_the_error_next_to_the_field_then_saves(
    page: Page, sign_in: Callable[[str], Page]
) -> None:
    sign_in("prescriber")
    page.get_by_role("link", name="New patient").click()
    expect(page.get_by_role("heading", level=1, name="New patient")).to_be_visible()
    page.get_by_label("MRN").fill("MRN0100")
    page.get_by_label("Family name").fill("Eaton")
    page.get_by_label("Given name").fill("Lee")
    page.get_by_label("Date of birth").fill("1970-02-03")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Height (cm)").fill("20")
    page.get_by_role("button", name="Save").click()

    height = page.get_by_label("Height (cm)")
    field = page.locator(".field", has=height)
    expect(field.locator(".error")).to_contain_text("outside the accepted range")
    expect(field).to_have_class(re.compile(r"\bhas-error\b"))
    expect(height).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".error")).to_have_count(1)  # only there
    for label, value in [("MRN", "MRN0100"), ("Family name", "Eaton"), ("Given name", "Lee"),
                         ("Date of birth", "1970-02-03"), ("Sex", "female"),
                         ("Height (cm)", "20")]:  # fmt: skip
        expect(page.get_by_label(label)).to_have_value(value)

    height.fill("165")
    page.get_by_label("Weight today (kg)").fill("70")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/patients/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Eaton, Lee")
    expect(page.get_by_role("status")).to_contain_text("created")
    expect(page.get_by_text("70 kg on")).to_be_visible()


def _course_and_outcomes(users: dict[str, Any], patient: Any) -> None:
    """A 2-day induction from today (85 g today on 85 kg: 1 g/kg of the 2 g/kg cap) and two
    3TUG values, by the services."""
    from django.utils import timezone

    from ivig.records.services.courses import CourseInput, prescribe
    from ivig.records.services.outcomes import record_outcome

    today = timezone.localdate()
    prescribe(
        users["prescriber"],
        patient.pk,
        CourseInput("lems", "induction", "privigen-us", "hospital", start=today, days=2),
    )
    for days_ago, seconds in ((14, 12.0), (0, 10.0)):
        when = today - dt.timedelta(days=days_ago)
        record_outcome(users["nurse"], patient.pk, "3tug", seconds, when, today=today)


def test_patient_page_draws_the_outcome_chart_and_the_cap_meter(
    page: Page, sign_in: Callable[[str], Page], live_users: dict[str, Any], live_patient: Any
) -> None:
    _course_and_outcomes(live_users, live_patient)
    sign_in("nurse")
    page.get_by_role("link", name="Lambert, Edward").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lambert, Edward")

    chart = page.get_by_role("img", name="Outcome measures over time")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 80
    expect(chart.locator("polyline")).to_have_count(1)  # one measure
    expect(chart.locator("circle")).to_have_count(2)  # its two values

    meter = page.locator("meter#cap-meter")
    expect(meter).to_be_visible()
    assert float(meter.get_attribute("value") or "nan") == pytest.approx(1.0)
    assert float(meter.get_attribute("max") or "nan") == pytest.approx(2.0)
    expect(page.get_by_text("1.00 of 2 g/kg")).to_be_visible()


def test_pages_pass_axe(
    page: Page,
    sign_in: Callable[[str], Page],
    live_users: dict[str, Any],
    live_patient: Any,
    check_accessibility: Callable[[], list[str]],
) -> None:
    _course_and_outcomes(live_users, live_patient)
    page.goto("/signin/")
    violations = check_accessibility()
    sign_in("prescriber")
    violations += check_accessibility()
    page.goto("/patients/new/")
    violations += check_accessibility()
    page.get_by_role("button", name="Save").click()  # every required field in error
    expect(page.locator(".field.has-error").first).to_be_visible()
    violations += check_accessibility()
    page.goto(f"/patients/{live_patient.pk}/")
    expect(page.locator("meter#cap-meter")).to_be_visible()
    violations += check_accessibility()
    assert violations == [], "\n".join(violations)


def test_the_csp_holds_in_the_browser_and_htmx_comes_from_the_app(
    page: Page, sign_in: Callable[[str], Page], live_patient: Any, console: Any
) -> None:
    response = page.goto("/signin/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    sign_in("nurse")
    page.goto(f"/patients/{live_patient.pk}/")
    page.goto("/patients/?q=lamb")

    htmx = page.locator("script[src*='/static/django_htmx/']")
    expect(htmx).to_have_count(1)
    assert page.evaluate("typeof htmx === 'object' && htmx.version").startswith("2.")
    expect(page.locator("script:not([src])")).to_have_count(0)
    assert not [e for e in console.errors if "Content Security Policy" in e]

    # The check can see a refusal: the same page with an inline script added on its way in.
    console.allow("Content Security Policy")

    def add_inline_script(route: Any) -> None:
        response = route.fetch()
        body = response.text().replace("</body>", "<script>window.ran = true;</script></body>")
        route.fulfill(response=response, body=body)

    page.route("**/patients/?q=lamb", add_inline_script)
    page.reload()
    deadline = time.monotonic() + 5
    while not console.seen_allowed and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert page.evaluate("window.ran") is None  # refused
    assert any("inline script" in e for e in console.seen_allowed), console.seen_allowed
