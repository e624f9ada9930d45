"""At the chair on a 768 x 1024 tablet (issue 16 items 4, 5, 7, 13): the sticky "now" bar with
its buttons in view wherever the sheet is scrolled; the baseline vital signs before the start;
a reaction, the restart after vital signs with the symptoms resolved, the remaining volume at
the tolerated rate and the expected end by the pump log, on the sheet and the chairs board;
the end with the volume given, well short of the dose confirmed with a reason. No console
error; axe finds nothing on the sheet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("playwright", reason="the browser tests need the dev extras")
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

TABLET = {"width": 768, "height": 1024}


@pytest.fixture
def midday() -> Iterator[str]:
    """The service's clock near midday (as test_whole_day.py): the infusion starts 45 minutes
    ago, within the order's day whatever the hour the test runs at."""
    from django.test import override_settings

    offset = 12 - dt.datetime.now(dt.UTC).hour
    zone = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    with override_settings(TIME_ZONE=zone):
        yield zone


def local(moment: dt.datetime) -> str:
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def hhmm(moment: dt.datetime) -> str:
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%H:%M")


def _checked_order(users: dict[str, Any], patient: Any, checked: dt.datetime) -> Any:
    """Day 1 of a 2-day induction, verified, dispensed and checked (through the services)."""
    from django.utils import timezone

    from ivig.records.services import courses, infusions, orders

    today = timezone.localdate()
    course = courses.prescribe(
        users["prescriber"], patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today, days=2),
    )  # fmt: skip
    order = course.orders.order_by("sequence")[0]
    prepared = checked - dt.timedelta(minutes=30)
    order = orders.verify(users["pharmacist"], order.pk, order.version, now=prepared)
    expiry = today + dt.timedelta(days=730)
    lots = [orders.LotInput("P1", expiry, 40, 2), orders.LotInput("P2", expiry, 5, 1)]
    order = orders.dispense(users["pharmacist"], order.pk, order.version, lots, now=prepared)
    answers = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False,
                                     hydrated=True)  # fmt: skip
    infusions.pre_check(users["nurse"], order.pk, answers, now=checked)
    return order


def in_view(page: Page, locator: Locator) -> None:
    """Entirely within the window, as it is scrolled now."""
    box = locator.bounding_box()
    assert box is not None
    assert box["y"] >= 0
    assert box["y"] + box["height"] <= TABLET["height"]


def jump(page: Page, name: str, form: str) -> Locator:
    """A button of the now bar: its form comes into view below the bar, its first field
    focused."""
    bar = page.locator("#now-bar")
    in_view(page, bar.get_by_role("link", name=name, exact=True))
    bar.get_by_role("link", name=name, exact=True).click()
    target = page.locator(form)
    heading = target.get_by_role("heading").first
    expect(heading).to_be_in_viewport()
    bar_box, heading_box = bar.bounding_box(), heading.bounding_box()
    assert bar_box is not None
    assert heading_box is not None
    assert heading_box["y"] >= bar_box["y"] + bar_box["height"] - 1  # not under the bar
    return target


def fill_vitals(page: Page, at: dt.datetime) -> None:
    form = jump(page, "Vitals", "#vitals-form")
    expect(form.get_by_label("Temperature (°C)")).to_be_focused()
    for label, value in (("Temperature (°C)", "36.8"), ("Pulse (/min)", "76"),
                         ("Systolic blood pressure (mm Hg)", "128"),
                         ("Diastolic blood pressure (mm Hg)", "78")):  # fmt: skip
        form.get_by_label(label).fill(value)
    form.get_by_label("Time").fill(local(at))
    form.get_by_role("button", name="Save vital signs").click()
    expect(page.locator("#runsheet-messages")).to_contain_text(f"Vital signs at {hhmm(at)} saved.")


def test_a_day_at_the_chair_on_a_tablet(
    page: Page,
    shots: Any,
    sign_in: Callable[[str], Page],
    live_users: dict[str, Any],
    live_patient: Any,
    check_accessibility: Callable[[], list[str]],
    midday: str,
) -> None:
    from django.utils import timezone

    from ivig.records.models import Order
    from ivig.records.services import infusions

    now = timezone.now()
    start = (now - dt.timedelta(minutes=45)).replace(second=0, microsecond=0)
    order = _checked_order(live_users, live_patient, start - dt.timedelta(minutes=5))
    page.set_viewport_size(TABLET)
    sign_in("nurse")
    page.goto(f"/orders/{order.pk}/runsheet/")
    bar = page.locator("#now-bar")
    expect(bar).to_be_in_viewport()
    expect(bar).to_contain_text("Record the baseline vital signs, then start")
    assert check_accessibility() == []

    # item 7: the start waits for the baseline vital signs
    start_form = jump(page, "Start", "#start-form")
    start_form.get_by_label("Vials inspected: clear, no particles, within expiry").check()
    start_form.get_by_label("Start time").fill(local(start))
    start_form.get_by_role("button", name="Start").click()
    expect(page.locator("#id_start_baseline_vitals_missing_reason_error")).to_contain_text(
        "record the baseline vital signs before starting"
    )
    fill_vitals(page, start - dt.timedelta(minutes=1))
    start_form = jump(page, "Start", "#start-form")
    expect(start_form).to_contain_text("Baseline vital signs recorded at")
    start_form.get_by_label("Vials inspected: clear, no particles, within expiry").check()
    start_form.get_by_label("Start time").fill(local(start))
    start_form.get_by_role("button", name="Start").click()
    expect(page.locator("#runsheet-messages")).to_contain_text(
        f"Infusion started at {hhmm(start)}, at 25.5 mL/h."
    )

    # item 13: the bar stays in view at the bottom of the sheet, its buttons reachable
    expect(bar).to_contain_text("25.5 mL/h")
    expect(bar).to_contain_text("planned step 2 of")
    expect(bar).to_contain_text("Increase to 102 mL/h at")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    for name in ("Rate", "Vitals", "Reaction", "End"):
        in_view(page, bar.get_by_role("link", name=name, exact=True))
    shots.take("now-bar-bottom")
    rate = jump(page, "Rate", "#rate-form")
    expect(rate.get_by_label("New rate (mL/h)")).to_be_focused()

    # item 5: 51 mL/h from minute 30, a mild reaction at 35 (through the services), then the
    # restart at the tolerated rate after vital signs, the symptoms resolved (item 7)
    nurse = live_users["nurse"]
    at30, at35 = start + dt.timedelta(minutes=30), start + dt.timedelta(minutes=35)
    calm = infusions.VitalsInput(pulse_per_min=78)
    infusions.record_vitals(nurse, order.pk, at30, calm, now=now)

    def version() -> int:
        return int(Order.objects.get(pk=order.pk).session.version)

    infusions.record_rate(nurse, order.pk, version(), at30, 51, now=now)
    infusions.record_reaction(nurse, order.pk, version(), at35, ["headache"], "pump paused",
                              now=now)  # fmt: skip
    page.reload()
    expect(bar).to_contain_text(f"On hold since {hhmm(at35)}")
    expect(bar).to_contain_text(f"Mild reaction at {hhmm(at35)}")
    at40 = start + dt.timedelta(minutes=40)
    resume = jump(page, "Restart", "#resume-form")
    resume.get_by_label("Restart rate (mL/h)").fill("25.5")
    resume.get_by_label("Time").fill(local(at40))
    resume.get_by_label("The symptoms have resolved").check()
    resume.get_by_role("button", name="Restart the pump").click()
    expect(page.locator("#resume-form")).to_contain_text(
        "record the vital signs taken after the reaction"
    )
    fill_vitals(page, at40)
    resume = jump(page, "Restart", "#resume-form")
    resume.get_by_label("Restart rate (mL/h)").fill("25.5")
    resume.get_by_label("Time").fill(local(at40))
    resume.get_by_label("The symptoms have resolved").check()
    resume.get_by_role("button", name="Restart the pump").click()
    expect(page.locator("#runsheet-messages")).to_contain_text("Infusion restarted at 25.5 mL/h")
    expect(bar).to_contain_text("Give the remaining")
    expect(bar).to_contain_text("the planned increases are off")
    expect(page.locator("#live")).to_contain_text("by the pump log")
    shots.take("now-bar-after-the-reaction")
    assert check_accessibility() == []

    page.goto("/chairs/")
    row = page.get_by_role("row").filter(has_text="Lambert, Edward")
    expect(row).to_contain_text(f"Mild reaction at {hhmm(at35)}")
    expect(row).to_contain_text("restarted at 25.5 mL/h")
    expect(row).not_to_contain_text("behind the plan")
    row.get_by_role("link", name="Run sheet").click()

    # item 4: the end asks for the volume given, offered from the pump log
    end = jump(page, "End", "#end-form")
    expect(end).to_contain_text("By the pump log")
    expect(end.get_by_label("Volume given (mL)")).not_to_have_value("")
    end.get_by_label("Volume given (mL)").fill("30")
    end.get_by_role("button", name="End the infusion").click()
    expect(page.locator("#end-form")).to_contain_text("30 of 850 mL given (4 %), well short")
    end = page.locator("#end-form")
    end.get_by_label("Stopped well short of the dose: I confirm the early stop").check()
    end.get_by_label("Why it stopped short").fill("the patient asked to stop")
    end.get_by_role("button", name="End the infusion").click()
    expect(page.locator("#runsheet-messages")).to_contain_text("30 of 850 mL given (3 of 85 g)")
    expect(page.locator("#live")).to_contain_text("given 3 of 85 g")
    expect(bar).to_contain_text("Observe until")
    assert check_accessibility() == []
