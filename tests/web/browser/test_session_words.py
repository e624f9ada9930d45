"""The patient's pages on a phone and the app's 404 page, in the browser (issue 16 item 21):
the patient menu fits in two rows at 375 px without a sideways scroll, and a page not found
is the app's page in the patient's layout."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

if os.environ.get("CI", "").strip().lower() in ("", "0", "false", "no"):
    pytest.importorskip("playwright", reason="the browser tests need the dev extras")

from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.real_clock]

PASSWORD = "infusion-chair-42-Xq"
PHONE = {"width": 375, "height": 740}
ROW_PX = 60  # one row of the menu: a 44 px target and its padding


@pytest.fixture
def patient_user(live_patient: Any) -> str:
    """The live patient's own account (user name edward)."""
    from django.contrib.auth.models import User

    from ivig.records.models import PatientAccount

    user = User.objects.create_user("edward", password=PASSWORD)
    PatientAccount.objects.create(user=user, patient=live_patient)
    return "edward"


def test_the_patient_menu_on_a_phone(
    page: Page, patient_user: str, check_accessibility: Any, console: Any
) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/signin/")
    page.get_by_label("Username").fill(patient_user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="My plan")).to_be_visible()
    menu = page.get_by_role("navigation", name="My pages")
    box = menu.bounding_box()
    assert box is not None
    assert box["height"] <= 2 * ROW_PX, box  # two rows, not six
    for name in ("My plan", "Handout", "Day before", "How I feel", "What I can do"):
        link = menu.get_by_role("link", name=name)
        expect(link).to_be_visible()
        target = link.bounding_box()
        assert target is not None
        assert target["height"] >= 44, (name, target)  # still a finger's target
    expect(menu.get_by_role("button", name="Sign out")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert check_accessibility() == []
    # a staff page is not there for a patient: the app's 404 page, in the patient's layout
    console.allow(r"404 \(Not Found\)")
    page.goto("/patients/")
    expect(page.get_by_role("heading", level=1, name="Page not found")).to_be_visible()
    expect(page.get_by_role("navigation", name="My pages")).to_be_visible()
    page.get_by_role("link", name="your plan").click()
    expect(page).to_have_url(re.compile(r"/me/$"))
    assert check_accessibility() == []
