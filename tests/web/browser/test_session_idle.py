"""The idle sign-out in the browser (issue 16 item 2): the countdown and "Stay signed in", and
the nurse's vital signs typed on the run sheet kept across the sign-in, whether the countdown
ran out or the entry was sent after the server had signed the nurse out (a 401 to htmx).

The idle limit is made short (seconds) with the settings, which the live server's thread
shares; the clock is set near midday (as test_whole_day.py does) so that the infusion, started
30 minutes ago, falls within its order's day.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest

if os.environ.get("CI", "").strip().lower() in ("", "0", "false", "no"):
    pytest.importorskip("playwright", reason="the browser tests need the dev extras")

from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.real_clock]

PASSWORD = "infusion-chair-42-Xq"
RESTORED = "Your unsaved entry was restored \u2014 check it and save."


@pytest.fixture
def midday() -> Iterator[str]:
    """The service's clock near midday (see test_whole_day.py)."""
    from django.test import override_settings

    offset = 12 - dt.datetime.now(dt.UTC).hour
    zone = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    with override_settings(TIME_ZONE=zone):
        yield zone


@pytest.fixture
def running(live_users: dict[str, Any], live_patient: Any, midday: str) -> Any:
    """Day 1 of a 2-day induction for the live patient, dispensed, checked and started 30
    minutes ago, through the services."""
    from django.utils import timezone

    from ivig.records.services import courses, infusions, orders

    now = timezone.now()
    course = courses.prescribe(
        live_users["prescriber"],
        live_patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=timezone.localdate(), days=2,
        ),
    )  # fmt: skip
    order = course.orders.order_by("sequence").first()
    early = now - dt.timedelta(hours=2)
    order = orders.verify(live_users["pharmacist"], order.pk, order.version, now=early)
    expiry = timezone.localdate() + dt.timedelta(days=730)
    lots = [orders.LotInput("P1", expiry, 40, 2), orders.LotInput("P2", expiry, 5, 1)]
    order = orders.dispense(live_users["pharmacist"], order.pk, order.version, lots, now=early)
    begin = (now - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    answers = infusions.CheckAnswers(
        infection=False, fever=False, feeling_unwell=False, hydrated=True
    )
    infusions.pre_check(live_users["nurse"], order.pk, answers, now=begin - dt.timedelta(minutes=1))
    baseline = infusions.VitalsInput(pulse_per_min=72, systolic_mm_hg=122)  # issue 16 item 7
    infusions.record_vitals(live_users["nurse"], order.pk, begin, baseline, now=begin)
    order.refresh_from_db()
    infusions.start_infusion(
        live_users["nurse"], order.pk, order.version, begin, visual_inspection_ok=True,
        administered_by=live_users["nurse"].pk, now=begin,
    )  # fmt: skip
    return order


def _kept(page: Page) -> list[str]:
    """The entries idle.js keeps in this tab's sessionStorage."""
    keys: list[str] = page.evaluate("Object.keys(sessionStorage)")
    return [k for k in keys if k.startswith("ivig-unsaved:")]


def _sign_in_again(page: Page) -> None:
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_the_countdown_and_stay_signed_in(
    page: Page, sign_in: Any, settings: Any, shots: Any
) -> None:
    settings.IDLE_MINUTES = 0.2  # 12 seconds; the countdown shows in the last 6
    sign_in("nurse")
    warning = page.get_by_role("alert").filter(has_text="You will be signed out in")
    expect(warning).to_be_visible(timeout=15_000)
    expect(warning).to_contain_text(re.compile(r"signed out in 0:0[0-6]"))
    shots.take("countdown")
    page.get_by_role("button", name="Stay signed in").click()
    expect(warning).to_be_hidden()
    # the server agrees: the idle clock started again
    page.get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", level=1, name="Patients")).to_be_visible()


def test_the_entry_typed_before_the_countdown_ran_out_is_restored(
    page: Page, sign_in: Any, running: Any, settings: Any, check_accessibility: Any
) -> None:
    sign_in("nurse")
    settings.IDLE_MINUTES = 0.15  # 9 seconds: the countdown shows in the last 4
    page.goto(f"/orders/{running.pk}/runsheet/")
    form = page.locator("#vitals-form")
    form.get_by_label("Pulse (/min)").fill("92")
    form.get_by_label("Temperature (°C)").fill("37.4")
    expect(page.get_by_text("You will be signed out in")).to_be_visible(timeout=15_000)
    assert check_accessibility() == []
    # the countdown ran out: the sign-in page, saying why and that the entry is kept
    expect(page.get_by_role("heading", name="Sign in to ivig")).to_be_visible(timeout=15_000)
    expect(page.get_by_role("status")).to_have_text(
        "You were signed out after 0.15 minutes without activity; your unsaved entry will be "
        "restored."
    )
    assert f"/signin/?next=/orders/{running.pk}/runsheet/" in page.url
    assert "idle=1" in page.url
    settings.IDLE_MINUTES = 20
    _sign_in_again(page)
    # back on the run sheet, the values put back, and said so
    expect(page).to_have_url(re.compile(rf"/orders/{running.pk}/runsheet/$"))
    form = page.locator("#vitals-form")
    expect(form.get_by_role("status")).to_have_text(RESTORED)
    expect(form.get_by_label("Pulse (/min)")).to_have_value("92")
    expect(form.get_by_label("Temperature (°C)")).to_have_value("37.4")
    assert _kept(page) == []  # removed once restored
    assert check_accessibility() == []


def test_an_entry_sent_after_the_sign_out_is_restored(
    page: Page, sign_in: Any, running: Any, settings: Any, console: Any
) -> None:
    from django.contrib.sessions.models import Session

    from ivig.records.models import Vitals

    console.allow(r"401 \(Unauthorized\)")  # the answer to the late entry, as expected
    sign_in("nurse")
    page.goto(f"/orders/{running.pk}/runsheet/")
    form = page.locator("#vitals-form")
    form.get_by_label("Pulse (/min)").fill("88")
    # 20 idle minutes pass (the server's clock of this session is put back)
    for session in Session.objects.all():
        data = session.get_decoded()
        if "ivig_last_seen" in data:
            data["ivig_last_seen"] -= 21 * 60
            Session.objects.filter(pk=session.pk).update(session_data=Session.objects.encode(data))
    form.get_by_role("button", name="Save vital signs").click()
    expect(page.get_by_role("heading", name="Sign in to ivig")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(
        "You were signed out after 20 minutes without activity; your unsaved entry will be restored"
    )
    assert not Vitals.objects.filter(session__order=running, pulse_per_min=88).exists()
    _sign_in_again(page)
    expect(page).to_have_url(re.compile(rf"/orders/{running.pk}/runsheet/$"))
    form = page.locator("#vitals-form")
    expect(form.get_by_role("status")).to_have_text(RESTORED)
    expect(form.get_by_label("Pulse (/min)")).to_have_value("88")
    form.get_by_role("button", name="Save vital signs").click()
    recorded = page.get_by_role("table", name="Vital signs recorded")
    expect(recorded).to_contain_text("88")
    expect(page.get_by_text(RESTORED)).to_have_count(0)
    assert _kept(page) == []


def test_signing_out_forgets_a_kept_entry(page: Page, sign_in: Any) -> None:
    sign_in("nurse")
    page.evaluate(
        "sessionStorage.setItem('ivig-unsaved:/x/', JSON.stringify({values: [], restore: true}))"
    )
    page.get_by_role("button", name=re.compile("Sign out")).click()
    expect(page.get_by_role("heading", name="Sign in to ivig")).to_be_visible()
    assert _kept(page) == []
