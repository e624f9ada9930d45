"""Issue 16, items 8, 9 and 17 in Chromium: the patient, on a phone, answers the day-before
check with a fever and reports chest pain in the diary, each time told the service's number
and the emergency number as links to tap; the nurse sees "2 alerts to act on" on the home page
and in the menu, closes the diary alert on the worklist (a "no action needed" without a reason
is refused) and the fever on the run sheet, each with the action taken; then invites another
patient: copies the link, sees its QR code and e-mails it. No console error; axe-core on every
page the test opens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PATIENT_PASSWORD = "quiet-harbour-lantern-71"


def _reporting_patient(users: dict[str, User]) -> tuple[Any, Any, Any]:
    """A LEMS patient with their own account and a 2-day induction from today: day 1 given
    (marked completed), day 2 tomorrow still planned."""
    from django.utils import timezone

    from ivig.records.models import Order, OrderStatus
    from ivig.records.services import courses, patients, portal

    today, now = timezone.localdate(), timezone.now()
    person = patients.create_patient(
        users["prescriber"],
        patients.PatientInput("ALERT-1", "Okafor", "Grace", dt.date(1961, 9, 2), "female", 168),
        today=today,
    )
    patients.add_weight(users["prescriber"], person.pk, today, 72, today=today)
    course = courses.prescribe(
        users["prescriber"],
        person.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today, days=2),
    )  # fmt: skip
    day1, day2 = course.orders.order_by("sequence")
    Order.objects.filter(pk=day1.pk).update(status=OrderStatus.completed)
    _, raw = portal.invite(users["nurse"], person.pk, now=now)
    portal.accept(raw, "grace.o", PATIENT_PASSWORD, now=now)
    return person, day1, day2


def test_alerts_reach_the_nurse_and_are_closed_with_the_action_taken(
    page: Page,
    shots: Any,
    console: Any,
    settings: Any,
    live_users: dict[str, User],
    live_patient: Any,
    sign_in: Callable[[str], Page],
    check_accessibility: Callable[[], list[str]],
) -> None:
    from django.core import mail
    from playwright.sync_api import expect

    from ivig.records.models import AuditEvent, DayBeforeCheck, DiaryEntry

    settings.IVIG_SERVICE_PHONE = "+61 2 9999 0000"
    settings.IVIG_EMERGENCY_NUMBER = "000"
    person, _, day2 = _reporting_patient(live_users)
    violations: list[str] = []

    # --- item 8: the patient, on a phone, is given both numbers to tap -----------------------
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/signin/")
    page.get_by_label("Username").fill("grace.o")
    page.get_by_label("Password").fill(PATIENT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/me/")
    footer = page.locator(".service-phone")
    expect(footer.get_by_role("link", name="+61 2 9999 0000")).to_have_attribute(
        "href", "tel:+61299990000"
    )
    expect(footer.get_by_role("link", name="000", exact=True)).to_have_attribute("href", "tel:000")
    violations += check_accessibility()

    page.goto("/me/check/")
    for fieldset in page.locator("fieldset.me-question").all():
        answer = "Yes" if "fever" in fieldset.locator("legend").inner_text().lower() else "No"
        fieldset.get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="Send my answers").click()
    advice = page.get_by_role("alert")
    expect(advice).to_contain_text("Please call the infusion service on +61 2 9999 0000")
    expect(advice.get_by_role("link", name="+61 2 9999 0000")).to_have_attribute(
        "href", "tel:+61299990000"
    )
    shots.take("day-before-call-the-service")
    violations += check_accessibility()

    page.goto("/me/diary/")
    chest = page.locator("fieldset.me-question").filter(has_text="Chest pain")
    chest.get_by_label("Mild", exact=True).check()
    page.get_by_role("button", name="Send").click()
    urgent = page.get_by_role("alert")
    expect(urgent).to_contain_text("Call emergency services now on 000")
    expect(urgent.get_by_role("link", name="000", exact=True)).to_have_attribute("href", "tel:000")
    shots.take("diary-call-emergency")
    violations += check_accessibility()
    entry = DiaryEntry.objects.get(patient=person)
    check = DayBeforeCheck.objects.get(order=day2)
    page.get_by_role("button", name="Sign out").click()
    page.set_viewport_size({"width": 1280, "height": 900})

    # --- item 9: the nurse's home page and menu say 2 alerts; the worklist closes them ------
    sign_in("nurse")
    expect(page.get_by_role("link", name="2 alerts to act on")).to_be_visible()
    expect(page.get_by_role("link", name="Alerts 2 open")).to_be_visible()
    violations += check_accessibility()
    page.get_by_role("link", name="2 alerts to act on").click()
    expect(page.get_by_role("heading", level=1, name="Alerts to act on")).to_be_visible()
    diary = page.locator(f"#alert-diary-{entry.pk}")
    expect(diary).to_contain_text("chest pain (mild)")
    violations += check_accessibility()
    shots.take("worklist")

    # "no action needed" must say why
    diary.get_by_label("No action needed").check()
    diary.get_by_role("button", name="Close the alert").click()
    diary = page.locator(f"#alert-diary-{entry.pk}")
    expect(diary).to_contain_text("Say why no action is needed.")
    assert DiaryEntry.objects.get(pk=entry.pk).acknowledged_at is None
    diary.get_by_label("Advised emergency care").check()
    diary.get_by_label("Note").fill("Called back: went to ED, chest pain settled")
    diary.get_by_role("button", name="Close the alert").click()
    expect(page.get_by_role("status").first).to_contain_text("Alert closed for Okafor, Grace")
    expect(page.get_by_role("link", name="Alerts 1 open")).to_be_visible()
    expect(page.locator(f"#alert-diary-{entry.pk}")).to_contain_text("Closed by nurse")

    # the fever, from day 2's run sheet: closing it is the review before starting
    page.goto(f"/orders/{day2.pk}/runsheet/")
    banner = page.locator("#day-before-review")
    expect(banner.get_by_role("heading", name="Review before starting")).to_be_visible()
    banner.get_by_label("Called the patient").check()
    banner.get_by_label("Note").fill("No fever today, 36.9; may start")
    banner.get_by_role("button", name="Close the alert").click()
    expect(page.locator("#day-before-review")).to_contain_text("Closed by nurse")
    expect(page.locator("#day-before-review")).to_contain_text("called the patient")
    shots.take("runsheet-closed")
    expect(page.get_by_role("link", name="Alerts", exact=True)).to_be_visible()  # no count
    closes = AuditEvent.objects.filter(action="close").order_by("seq")
    assert [(e.entity, e.after["action"]) for e in closes] == [
        ("diary entry", "emergency"),
        ("day-before check", "called"),
    ]
    assert DayBeforeCheck.objects.get(pk=check.pk).reviewed_at is not None

    # --- item 17: invite another patient: copy the link, its QR code, e-mail it ------------
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/patients/{live_patient.pk}/")
    page.get_by_role("button", name="Invite the patient").click()
    link = page.get_by_label("The patient's link").input_value()
    page.get_by_role("button", name="Copy the link").click()
    expect(page.locator("#invite-copied")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == link
    qr = page.get_by_role("img", name="QR code of the invitation")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None
    assert box["width"] >= 150  # big enough to scan from a screen
    violations += check_accessibility()
    shots.take("invite-link")
    page.get_by_label("The patient's e-mail address").fill("edward.lambert@example.org")
    page.get_by_role("button", name="E-mail the link").click()
    expect(page.locator(".invite-sent")).to_contain_text(
        "The link was e-mailed to edward.lambert@example.org"
    )
    [sent] = mail.outbox
    assert link in sent.body
    assert sent.to == ["edward.lambert@example.org"]
    violations += check_accessibility()
    assert violations == [], "\n".join(violations)
