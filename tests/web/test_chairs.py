"""Today's chairs: every role sees the day's infusions; a running one shows its step, the
minute since the start and the vitals due; htmx polls a partial."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ivig.records.models import Order
from ivig.records.services import courses, infusions, orders

EXPIRY = timezone.localdate() + dt.timedelta(days=730)  # the suite's date (tests/conftest.py)
WELL = infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True)


def _prescribe(users: dict[str, Any], patient: Any, start: dt.date) -> list[Order]:
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=start, days=2),
    )  # fmt: skip
    return list(course.orders.order_by("sequence"))


@pytest.fixture
def today_order(users: dict[str, Any], patient: Any) -> Order:
    """Day 1 of a 2-day induction, dated today, verified and dispensed (day 2 stays planned)."""
    order = _prescribe(users, patient, timezone.localdate())[0]
    order = orders.verify(users["pharmacist"], order.pk, order.version)
    lots = [orders.LotInput("P1", EXPIRY, 40, 2), orders.LotInput("P2", EXPIRY, 5, 1)]
    return orders.dispense(users["pharmacist"], order.pk, order.version, lots)


@pytest.mark.parametrize("role", ["admin", "prescriber", "pharmacist", "nurse"])
def test_every_role_sees_the_chairs(
    client_for: Callable[[str | None], Client], users: dict[str, Any], role: str
) -> None:
    page = client_for(role).get("/chairs/")
    assert page.status_code == 200
    assert b"No infusion today" in page.content


def test_anonymous_is_sent_to_sign_in(client_for: Callable[[str | None], Client]) -> None:
    page = client_for(None).get("/chairs/")
    assert page.status_code == 302
    assert "/signin/" in page["Location"]


def test_todays_dispensed_order_is_listed(
    client_for: Callable[[str | None], Client], today_order: Order
) -> None:
    html = client_for("nurse").get("/chairs/").content.decode()
    assert "Lambert, Edward" in html
    assert "85 g" in html
    assert "dispensed" in html
    assert "pre-infusion check to do" in html
    try:  # the run sheet is its own page module; link to it once it is there
        runsheet = reverse("web:runsheet", args=[today_order.pk])
    except NoReverseMatch:
        pass
    else:
        assert f'href="{runsheet}"' in html
    assert 'hx-trigger="every 60s"' in html
    assert 'style="' not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script


def test_other_days_and_cancelled_orders_are_not_listed(
    client_for: Callable[[str | None], Client], users: dict[str, Any], patient: Any
) -> None:
    order = _prescribe(users, patient, timezone.localdate() + dt.timedelta(days=7))[0]
    html = client_for("nurse").get("/chairs/").content.decode()
    assert "Lambert" not in html
    assert Order.objects.get(pk=order.pk).status == "planned"


@pytest.fixture
def yesterday_order(users: dict[str, Any], patient: Any) -> Order:
    """Day 1 of an induction that began yesterday, dispensed: an infusion started minutes ago
    is within the order's day whatever the time the test runs; still on the board while it
    runs."""
    first = timezone.localdate() - dt.timedelta(days=1)
    order = _prescribe(users, patient, first)[0]
    # prepared at the start of the order's day: a start is never before it (issue 14 item 7)
    midnight = dt.datetime.combine(first, dt.time(0), tzinfo=timezone.get_current_timezone())
    order = orders.verify(users["pharmacist"], order.pk, order.version, now=midnight)
    lots = [orders.LotInput("P1", EXPIRY, 40, 2), orders.LotInput("P2", EXPIRY, 5, 1)]
    return orders.dispense(users["pharmacist"], order.pk, order.version, lots, now=midnight)


def _start(users: dict[str, Any], order: Order, at: dt.datetime, now: dt.datetime) -> None:
    """The check at ``at`` (a start is never before it) and the start, recorded at ``now``."""
    nurse = users["nurse"]
    infusions.pre_check(nurse, order.pk, WELL, now=at)
    _vitals(users, order, at, now)  # the baseline before the start (issue 16 item 7)
    version = Order.objects.get(pk=order.pk).version
    infusions.start_infusion(nurse, order.pk, version, at, visual_inspection_ok=True, now=now)


def _vitals(users: dict[str, Any], order: Order, at: dt.datetime, now: dt.datetime) -> None:
    values = infusions.VitalsInput(temperature_c=36.8, pulse_per_min=76)
    infusions.record_vitals(users["nurse"], order.pk, at, values, now=now)


def _version(order: Order) -> int:
    return Order.objects.get(pk=order.pk).session.version


def test_a_running_infusion_shows_its_step_and_the_vitals_due(
    client_for: Callable[[str | None], Client], users: dict[str, Any], yesterday_order: Order
) -> None:
    nurse = users["nurse"]
    order = yesterday_order
    now = timezone.now()
    start = now - dt.timedelta(minutes=40)
    _start(users, order, start, now)
    client = client_for("nurse")
    html = client.get("/chairs/").content.decode()
    assert "infusion running" in html  # the state badge
    assert "Step 1 of 5" in html  # the latest rate is the first step's 25.5 mL/h
    assert "25.5 mL/h" in html
    assert "Minute 40 of" in html
    assert "The plan has step 2 (51 mL/h) now" in html
    assert "behind the plan" in html
    assert "overdue" in html  # baseline and 15-minute checks not recorded
    _vitals(users, order, start + dt.timedelta(minutes=29), now)
    at = start + dt.timedelta(minutes=30)
    infusions.record_rate(nurse, order.pk, _version(order), at, 51, now=now)
    html = client.get("/chairs/").content.decode()
    assert "Step 2 of 5" in html
    assert "behind the plan" not in html
    partial = client.get("/chairs/", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert b"<html" not in partial.content  # htmx gets the board partial only
    assert b"Step 2 of 5" in partial.content
    assert b'id="board"' in partial.content  # the polling element swaps itself


def test_a_paused_or_stopped_infusion_shows_its_state(
    client_for: Callable[[str | None], Client], users: dict[str, Any], yesterday_order: Order
) -> None:
    """Requirement 62 on the board: paused with the restart limit; stopped, no restart today
    without a new prescriber order; the prescriber's task counted."""
    nurse = users["nurse"]
    order = yesterday_order
    now = timezone.now()
    start = now - dt.timedelta(minutes=50)
    _start(users, order, start, now)
    _vitals(users, order, start + dt.timedelta(minutes=29), now)
    infusions.record_rate(
        nurse, order.pk, _version(order), start + dt.timedelta(minutes=30), 51, now=now
    )
    infusions.record_reaction(
        nurse, order.pk, _version(order), start + dt.timedelta(minutes=35), ["headache"],
        "paused", now=now,
    )  # fmt: skip
    client = client_for("pharmacist")
    html = client.get("/chairs/").content.decode()
    assert "infusion paused" in html
    assert "restart at no more than <strong>25.5 mL/h</strong>" in html
    assert "Step" not in html.split("infusion paused")[1].split("</tr>")[0]
    infusions.record_reaction(
        nurse, order.pk, _version(order), start + dt.timedelta(minutes=36), ["headache"],
        "stopped", medicines_given="paracetamol 1 g oral", now=now,
    )  # fmt: skip
    html = client.get("/chairs/").content.decode()
    assert "infusion stopped" in html
    assert "no restart today without a new prescriber order" in html
    assert "1 task for the prescriber" in html


def test_a_deferred_order_shows_its_reason(
    client_for: Callable[[str | None], Client], users: dict[str, Any], today_order: Order
) -> None:
    orders.defer(users["nurse"], today_order.pk, today_order.version, "fever this morning")
    html = client_for("pharmacist").get("/chairs/").content.decode()
    assert "deferred" in html
    assert "fever this morning" in html
