"""Issue 18 in the browser ("Done when"): a week of a unit booked from the suggested slots
(first infusions and a maintenance infusion), the day and week boards, a booking moved (the
patient page and the patient's own plan follow it), stock received through a shortfall and a
quarantine and an order dispensed from it, the reminders sent to the file e-mail backend (the
moved time in the message; the nurses see "reminder sent") and the usage report read. No
console error (conftest.py); axe-core on the new pages."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
from collections.abc import Callable, Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

if os.environ.get("CI", "").strip().lower() in ("", "0", "false", "no"):
    pytest.importorskip("playwright", reason="the browser tests need the dev extras")
    pytest.importorskip("axe_playwright_python", reason="the browser tests need the dev extras")

from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PRODUCT = "privigen-us"
PATIENT_PASSWORD = "lambert-chair-42-Xq"


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Path]:
    """The file e-mail backend into a temporary folder (nothing leaves the machine)."""
    from django.test import override_settings

    folder = tmp_path / "outbox"
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(folder),
        IVIG_BASE_URL="https://ivig.example.org",
    ):
        yield folder


def _unit(admin: Any) -> Any:
    """An infusion centre of 6 chairs, open 08:00-18:00 every day (the week's days whatever
    the weekday the test runs on)."""
    from ivig.records.services import units

    unit = units.create_unit(admin, "Day Infusion Unit", "infusion-centre", 15)
    for weekday in range(7):
        units.set_hours(admin, unit.pk, weekday, dt.time(8), dt.time(18))
    for n in range(1, 7):
        units.add_chair(admin, unit.pk, f"Chair {n}")
    return unit


def _patient(users: dict[str, Any], mrn: str, family: str, given: str, weighed: dt.date) -> Any:
    from ivig.records.services.patients import PatientInput, add_weight, create_patient

    record = create_patient(
        users["prescriber"],
        PatientInput(mrn=mrn, family_name=family, given_name=given,
                     date_of_birth=dt.date(1961, 3, 2), sex="female", height_cm=165),
        today=weighed,
    )  # fmt: skip
    add_weight(users["prescriber"], record.pk, weighed, 70, today=weighed)
    return record


def _induction(users: dict[str, Any], patient: Any, start: dt.date) -> Any:
    from ivig.records.services import courses

    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product=PRODUCT,
                            place="hospital", start=start, total_g_per_kg=2.0, days=2),
    )  # fmt: skip


def _given_induction_then_maintenance(users: dict[str, Any], today: dt.date) -> Any:
    """Patient MRN0003: an induction given 5 weeks ago (through every step, as `ivig demo`
    gives one) and a maintenance infusion in 3 days at the infusion centre: not a first
    infusion, so 20 minutes' observation."""
    from django.utils import timezone

    from ivig.commands.demo import _give
    from ivig.records.services import courses

    first_day = today - dt.timedelta(days=35)
    patient = _patient(users, "MRN0003", "Moreau", "Claire", first_day - dt.timedelta(days=1))
    induction = _induction(users, patient, first_day)
    zone, rng = timezone.get_current_timezone(), random.Random(18)
    for i, order in enumerate(induction.orders.order_by("sequence")):
        start = dt.datetime.combine(order.date, dt.time(9), tzinfo=zone)
        _give(order.pk, users, start, rng, first=i == 0, reaction=False, now=timezone.now())
    maintenance = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(indication="lems", phase="maintenance", product=PRODUCT,
                            place="infusion-centre", start=today + dt.timedelta(days=3),
                            dose_g_per_kg=1.0, every_weeks=4, count=1),
    )  # fmt: skip
    return maintenance.orders.get()


def _book_from_the_best_slot(page: Page, order: Any) -> str:
    """The nurse opens the order's Book page, takes the first suggested slot and books it;
    returns the slot's words ("Chair 2, 08:00-11:15")."""
    page.goto(f"/orders/{order.pk}/book/")
    expect(page.get_by_role("heading", level=2, name="Suggested slots")).to_be_visible()
    expect(page.locator("select[name=unit] option:checked")).to_have_text("Day Infusion Unit")
    best = page.locator("ol.slot-list a").first
    words = best.inner_text()
    best.click()
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.get_by_text(re.compile(r"^Booked Chair \d"))).to_be_visible()
    return words


def _sign_in_as(page: Page, username: str, password: str, heading: str) -> None:
    page.goto("/signin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()


def _sign_out(page: Page, username: str = "") -> None:
    """Staff pages name the user on the button; the patient's pages say "Sign out"."""
    page.get_by_role("button", name=f"Sign out {username}".strip(), exact=True).click()
    expect(page).to_have_url(re.compile(r"/signin/$"))


def test_a_week_of_a_unit(
    page: Page,
    sign_in: Callable[[str], Page],
    live_users: dict[str, Any],
    live_patient: Any,
    shots: Any,
    outbox: Path,
    check_accessibility: Callable[[], list[str]],
) -> None:
    from django.utils import timezone

    from ivig.cli import main
    from ivig.core.infused import grams_counted
    from ivig.records.models import AuditEvent, Booking, InfusionSession, Order, StockLot
    from ivig.records.services import orders, portal, stock

    today = timezone.localdate()
    tomorrow = today + dt.timedelta(days=1)
    violations: list[str] = []
    # The history comes first: it is dispensed from typed lots, before the service keeps stock.
    maintenance = _given_induction_then_maintenance(live_users, today)
    unit = _unit(live_users["admin"])
    lambert = _induction(live_users, live_patient, tomorrow)  # first infusion tomorrow
    other = _patient(live_users, "MRN0002", "Okafor", "Grace", today)
    okafor = _induction(live_users, other, today + dt.timedelta(days=2))
    week = [
        *lambert.orders.order_by("sequence"),
        *okafor.orders.order_by("sequence"),
        maintenance,
    ]
    lambert1 = week[0]

    # --- the nurse books the week from the suggested slots ---
    sign_in("nurse")
    for order in week:
        _book_from_the_best_slot(page, order)
    violations += check_accessibility()
    booked = {b.order_id: b for b in Booking.objects.filter(status="booked")}
    assert set(booked) == {o.pk for o in week}
    assert booked[lambert1.pk].observation_minutes == 60  # a first infusion
    assert booked[maintenance.pk].observation_minutes == 20  # induction given 5 weeks ago

    # the day board and the week board show them
    page.goto(f"/bookings/board/?unit={unit.pk}&date={tomorrow.isoformat()}")
    expect(page.locator("a.board-link[aria-label^='EL MRN0001']")).to_have_count(1)
    violations += check_accessibility()
    page.get_by_role("link", name="Week board").click()
    band = page.locator(f"a.board-link[aria-label^='{tomorrow:%A} {tomorrow.day} {tomorrow:%B}']")
    expect(band).to_contain_text("1 booked")

    # --- a booking moved: an hour later on another chair ---
    before = timezone.localtime(booked[lambert1.pk].start)
    later = before + dt.timedelta(hours=1)
    chair = "Chair 6" if booked[lambert1.pk].chair.name != "Chair 6" else "Chair 5"
    page.goto(f"/orders/{lambert1.pk}/book/")
    page.get_by_label("Chair or visiting nurse").select_option(label=f"Day Infusion Unit: {chair}")
    page.get_by_label("Start").fill(f"{later:%H:%M}")
    page.get_by_role("button", name="Move", exact=True).click()
    expect(
        page.get_by_text(f"Booked {chair}, {tomorrow.isoformat()} {later:%H:%M}.")
    ).to_be_visible()
    moved = Booking.objects.get(order=lambert1)
    assert (moved.chair.name, timezone.localtime(moved.start)) == (chair, later)
    assert AuditEvent.objects.filter(entity="booking", action="move").count() == 1
    page.goto(f"/patients/{live_patient.pk}/")
    expect(page.get_by_text(f"{later:%H:%M}").first).to_be_visible()
    _sign_out(page, "nurse")

    # --- the pharmacy: a shortfall, a quarantine, then the order dispensed from stock ---
    store = stock.create_store(live_users["admin"], "Main pharmacy")
    orders.verify(live_users["pharmacist"], lambert1.pk, Order.objects.get(pk=lambert1.pk).version)
    sizes = sorted({float(v["size_g"]) for v in lambert1.vials}, reverse=True)
    big = sizes[0]
    good = today + dt.timedelta(days=300)
    sign_in("pharmacist")
    page.goto("/pharmacy/stock/receive/")
    page.get_by_label("Store").select_option(label="Main pharmacy")
    page.get_by_label("Product").select_option(value=PRODUCT)
    page.get_by_label("Vial size (g)").fill(f"{big:g}")
    page.get_by_label("Lot number").fill("PRV-A")
    page.get_by_label("Expiry date").fill(good.isoformat())
    page.get_by_label("Vials").fill("1")
    page.get_by_role("button", name="Receive").click()
    page.goto("/pharmacy/stock/")
    expect(page.locator(".badge.stock-short")).to_be_visible()
    expect(page.locator("tr.stock-short").first).to_contain_text(
        f"MRN0001 on {tomorrow.isoformat()}"
    )
    violations += check_accessibility()
    needed = {(x.product_id, x.vial_size_g): x.needed for x in stock.stock_against_orders(days=7)}
    for (product, size), count in needed.items():  # enough of every size in lot B
        stock.receive(
            live_users["pharmacist"],
            store.pk,
            stock.Received(product, size, f"PRV-B{size:g}", good, count + 2),
        )
    page.reload()
    expect(page.locator(".badge.stock-short")).to_have_count(0)
    # a recall: lot B of the large vials quarantined; the shortfall is back
    page.goto("/pharmacy/stock/quarantine/")
    page.get_by_label("Lot number").fill(f"PRV-B{big:g}")
    page.get_by_label("Reason").fill("manufacturer's recall notice")
    page.get_by_label("Action").select_option("quarantine")
    page.get_by_role("button", name="Save").click()
    page.goto("/pharmacy/stock/")
    expect(page.locator(".badge.stock-short")).to_be_visible()
    expect(page.get_by_role("heading", name="Quarantined lots")).to_be_visible()
    stock.receive(
        live_users["pharmacist"],
        store.pk,
        stock.Received(PRODUCT, big, "PRV-C", good, needed[(PRODUCT, big)] + 2),
    )
    page.goto(f"/pharmacy/orders/{lambert1.pk}/dispense/")
    expect(page.get_by_text(f"PRV-B{big:g}")).to_have_count(0)  # the quarantined lot is not offered
    rows = page.locator("fieldset.lot-row")
    for i, size in enumerate(sorted({float(v["size_g"]) for v in lambert1.vials}, reverse=True)):
        number = "PRV-C" if size == big else f"PRV-B{size:g}"
        label = rows.nth(i).get_by_label("Stock lot")
        options = label.locator("option").all_inner_texts()
        label.select_option(label=next(o for o in options if f"lot {number} ·" in o))
    violations += check_accessibility()
    page.get_by_role("button", name="Dispense").click()
    expect(page.get_by_text(re.compile(r"Dispensed:"))).to_be_visible()
    assert Order.objects.get(pk=lambert1.pk).status == "dispensed"
    counts = {v["size_g"]: v["count"] for v in lambert1.vials}
    c = StockLot.objects.get(lot_number="PRV-C")
    assert c.on_hand == needed[(PRODUCT, big)] + 2 - counts[big]

    # --- the usage report: the grams given, as counted directly ---
    page.goto("/reports/usage/")
    sessions = list(InfusionSession.objects.select_related("order"))
    given = round(sum(grams_counted(s.given_g, s.order.dose_g) for s in sessions), 1)
    shown = f"{given:.0f}" if given == int(given) else f"{given:.1f}"  # floatformat:"-1"
    expect(page.locator("#usage-summary")).to_contain_text(f": {len(sessions)}, {shown} g")
    violations += check_accessibility()
    _sign_out(page, "pharmacist")

    # --- the patient sets an address; the reminders go to the file backend ---
    _, raw = portal.invite(live_users["prescriber"], live_patient.pk, now=timezone.now())
    portal.accept(raw, "edward", PATIENT_PASSWORD, now=timezone.now())
    _sign_in_as(page, "edward", PATIENT_PASSWORD, "My plan")
    page.get_by_role("link", name="E-mail reminders").click()
    page.get_by_label("Your e-mail address").fill("edward.lambert@example.org")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("edward.lambert@example.org")).to_be_visible()
    violations += check_accessibility()
    page.goto("/me/")
    when = f"{tomorrow:%A} {tomorrow.day} {tomorrow:%B %Y}, {later:%H:%M}"
    expect(page.locator(".me-big")).to_have_text(when)
    expect(page.get_by_text(f"You will have it at the Day Infusion Unit, {chair}.")).to_be_visible()
    _sign_out(page)
    assert main(["remind", "--date", tomorrow.isoformat()]) == 0
    (mail,) = [message_from_bytes(f.read_bytes()) for f in outbox.iterdir()]
    assert mail["To"] == "edward.lambert@example.org"
    body = mail.get_payload(decode=True).decode()
    assert f"at {later:%H:%M}, at the Day Infusion Unit, {chair}." in body
    assert "https://ivig.example.org/me/check/" in body
    assert main(["remind", "--date", tomorrow.isoformat()]) == 0  # sent once
    assert len(list(outbox.iterdir())) == 1
    sign_in("nurse")
    page.goto(f"/bookings/?date={tomorrow.isoformat()}")
    expect(page.get_by_text(re.compile(r"check not done; reminder sent"))).to_be_visible()
    violations += check_accessibility()
    assert violations == []
