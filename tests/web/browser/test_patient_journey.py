"""One patient's side of the service, in Chromium (issue 7): the nurse invites the patient from
the patient page; the patient sets up their sign-in through the one-time link and sees their
own plan; day 1 of the course is given; the day before day 2, the patient answers that they
have a fever, which flags day 2 "review before starting" on the nurse's run sheet (nothing is
cancelled); the patient's diary after day 1 reports chest pain, which tells them to get help
at once and raises an alert on the patient page. axe-core runs on every patient page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

PASSWORD = "infusion-chair-42-Xq"
PATIENT_PASSWORD = "quiet-harbour-lantern-71"


@pytest.fixture
def midday() -> Iterator[str]:
    """The service's clock near midday (as in test_whole_day.py): day 1 starts 10 hours ago,
    within the order's day whatever the hour the test runs at."""
    from django.test import override_settings

    offset = 12 - dt.datetime.now(dt.UTC).hour
    zone = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    with override_settings(TIME_ZONE=zone):
        yield zone


def assert_fits_a_phone(page: Page) -> None:
    """No sideways scrolling at 360 px, and every button, link and choice of the page's main
    part at least 44 px high (large touch targets)."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 360, f"{page.url}: {width} px wide on a 360 px phone"
    targets = page.locator("main button, main .me-option, .me-nav a, .me-nav button")
    assert targets.count() > 0
    for target in targets.all():
        box = target.bounding_box()
        if box is not None:  # hidden ones have none
            assert box["height"] >= 44, (page.url, target.inner_text(), box)


def _patient_with_day_one_given(users: dict[str, User]) -> tuple[Any, Any, Any]:
    """A LEMS patient with a 2-day induction from today: day 1 given (started 3 hours ago, the
    observation closed; 10 hours ago), day 2 tomorrow, verified and dispensed."""
    from django.utils import timezone

    from ivig.records.models import Order
    from ivig.records.services import courses, infusions, orders, patients

    today = timezone.localdate()
    now = timezone.now()
    person = patients.create_patient(
        users["prescriber"],
        patients.PatientInput("JOURNEY-1", "Hartley", "Margaret", dt.date(1958, 3, 14),
                              "female", 165),
        today=today,
    )  # fmt: skip
    patients.add_weight(users["prescriber"], person.pk, today, 70, today=today)
    course = courses.prescribe(
        users["prescriber"],
        person.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today, days=2),
    )  # fmt: skip
    day1, day2 = course.orders.order_by("sequence")
    start = now - dt.timedelta(hours=10)  # 02:00-02:59 local (midday fixture): all of it past
    for order in (day1, day2):
        # prepared before the start (a start is never before them: issue 14 item 7)
        prepared = start - dt.timedelta(hours=1)
        order = orders.verify(users["pharmacist"], order.pk, order.version, now=prepared)
        lots = [
            orders.LotInput(f"J{order.sequence}{i}", dt.date(2099, 1, 1), float(v["size_g"]),
                            int(v["count"]))
            for i, v in enumerate(order.vials, start=1)
        ]  # fmt: skip
        orders.dispense(users["pharmacist"], order.pk, order.version, lots, now=prepared)
    answers = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False,
                                     hydrated=True)  # fmt: skip
    infusions.pre_check(users["nurse"], day1.pk, answers, now=start - dt.timedelta(minutes=5))
    baseline = infusions.VitalsInput(temperature_c=36.7, pulse_per_min=70)  # issue 16 item 7
    infusions.record_vitals(users["nurse"], day1.pk, start, baseline, now=now)
    version = Order.objects.get(pk=day1.pk).version
    infusions.start_infusion(users["nurse"], day1.pk, version, start, visual_inspection_ok=True,
                             now=now)  # fmt: skip
    end = start + dt.timedelta(minutes=float(day1.steps[-1]["end_min"]))
    infusions.end_infusion(users["nurse"], day1.pk, end, volume_given_ml=day1.volume_ml,
                           now=now)  # fmt: skip  # the whole dose, read on the pump
    signs = infusions.VitalsInput(temperature_c=36.8, pulse_per_min=72)
    infusions.record_vitals(users["nurse"], day1.pk, end + dt.timedelta(minutes=5), signs, now=now)
    version = Order.objects.get(pk=day1.pk).version
    infusions.finish_observation(users["nurse"], day1.pk, version,
                                 end + dt.timedelta(minutes=61), "well", now=now)  # fmt: skip
    return person, Order.objects.get(pk=day1.pk), Order.objects.get(pk=day2.pk)


def test_a_patient_from_invitation_to_a_diary_alert(
    page: Page,
    shots: Any,
    console: Any,
    live_users: dict[str, User],
    sign_in: Callable[[str], Page],
    check_accessibility: Callable[[], list[str]],
    midday: str,
) -> None:
    from playwright.sync_api import expect

    from ivig.records.models import DayBeforeCheck, DiaryEntry, OrderStatus

    person, day1, day2 = _patient_with_day_one_given(live_users)
    assert day1.status == OrderStatus.completed
    violations: list[str] = []

    # The nurse invites the patient from the patient page; the link is shown once.
    sign_in("nurse")
    page.goto(f"/patients/{person.pk}/")
    page.get_by_role("button", name="Invite the patient").click()
    link = page.get_by_label("The patient's link").input_value()
    assert "/invite/" in link
    page.get_by_role("button", name="Sign out").click()

    # The patient opens the link on a phone, sets up a sign-in, and lands on their own plan.
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(link)
    expect(page.get_by_role("heading", level=1, name="Set up your sign-in")).to_be_visible()
    violations += check_accessibility()
    page.get_by_label("Choose a user name").fill("margaret.h")
    page.get_by_label("Choose a password").fill(PATIENT_PASSWORD)
    page.get_by_label("Type the password again").fill(PATIENT_PASSWORD)
    page.get_by_role("button", name="Save and sign in").click()
    page.wait_for_url("**/me/")
    expect(page.locator("main")).to_contain_text(f"{day2.date:%B}")
    shots.take("my-plan")
    violations += check_accessibility()
    assert_fits_a_phone(page)
    # the link works once (the page of a link that no longer works is a 404)
    console.allow(r"status of 404 .*/invite/")
    page.goto(link)
    expect(page.get_by_role("heading", level=1, name="This link does not work")).to_be_visible()

    # The day before day 2: a fever flags the infusion; nothing is cancelled.
    page.goto("/me/check/")
    violations += check_accessibility()
    for fieldset in page.locator("fieldset.me-question").all():
        answer = "Yes" if "fever" in (fieldset.locator("legend").inner_text()).lower() else "No"
        fieldset.get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("alert")).to_contain_text("Please call the infusion service today")
    expect(page.get_by_role("alert")).to_contain_text("not cancelled")
    shots.take("day-before-flagged")
    violations += check_accessibility()
    assert_fits_a_phone(page)
    check = DayBeforeCheck.objects.get(order=day2)
    assert check.needs_review
    day2.refresh_from_db()
    assert day2.status == OrderStatus.dispensed

    # The diary after day 1: chest pain, mild, is serious: get help at once.
    page.goto("/me/diary/")
    violations += check_accessibility()
    chest = page.locator("fieldset.me-question").filter(has_text="Chest pain")
    chest.get_by_label("Mild", exact=True).check()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_contain_text("Get help now")
    shots.take("diary-serious")
    violations += check_accessibility()
    assert_fits_a_phone(page)
    assert DiaryEntry.objects.get(patient=person).serious
    page.get_by_role("button", name="Sign out").click()
    page.set_viewport_size({"width": 1280, "height": 900})

    # The nurse sees both: day 2's run sheet says review before starting; the patient page
    # shows the diary alert.
    sign_in("nurse")
    page.goto(f"/orders/{day2.pk}/runsheet/")
    expect(page.get_by_role("heading", name="Review before starting")).to_be_visible()
    expect(page.locator("main")).to_contain_text("fever")
    shots.take("runsheet-review")
    page.goto(f"/patients/{person.pk}/")
    expect(
        page.get_by_role("heading", name="Diary alert: serious symptoms reported")
    ).to_be_visible()
    expect(page.locator("main")).to_contain_text("chest pain")
    shots.take("patient-diary-alert")
    violations += check_accessibility()
    assert violations == [], "\n".join(violations)
