"""The booked time and place where the staff and the patient look (issue 18): the patient page,
the patient's own plan (/me/), the handout, the calendar file and the run sheet (its
provisional clock times from the booked start of the drip); a move changes them all; an order
not booked says so, with the link to book it for the staff."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from ivig.interop.ics import uid
from ivig.records.models import Booking, Order
from ivig.records.services import bookings, courses, units

DASH = "\u2013"


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def booked(users: dict[str, Any], patient: Any, today: dt.date) -> tuple[Order, Order, Booking]:
    """A 2-day induction from tomorrow; day 1 booked at 08:30 on chair 4 of the Day Infusion
    Unit (15 minutes set-up), day 2 not booked."""
    admin = users["admin"]
    unit = units.create_unit(admin, "Day Infusion Unit", "day-ward", 15)
    for weekday in range(7):
        units.set_hours(admin, unit.pk, weekday, dt.time(8), dt.time(18))
    units.add_chair(admin, unit.pk, "4")
    units.add_chair(admin, unit.pk, "Chair 7")
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today + dt.timedelta(days=1), days=2,
        ),
    )  # fmt: skip
    first, second = course.orders.order_by("sequence")
    chair = unit.chairs.get(name="4")
    booking = bookings.book(users["nurse"], first.pk, chair.pk, at(first.date, 8, 30))
    return first, second, booking


def _move(users: dict[str, Any], booking: Booking, hour: int) -> Booking:
    seven = booking.chair.unit.chairs.get(name="Chair 7")
    return bookings.move(
        users["nurse"], booking.pk, booking.version, seven.pk, at(booking.start.date(), hour)
    )


def _end(booking: Booking) -> str:
    end = booking.start + dt.timedelta(minutes=booking.length_minutes)
    return f"{timezone.localtime(end):%H:%M}"


def test_the_patient_page_shows_the_booking(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    patient: Any,
    booked: tuple[Order, Order, Booking],
) -> None:
    first, second, booking = booked
    nurse = client_for("nurse")
    page = nurse.get(f"/patients/{patient.pk}/").content.decode()
    assert f"08:30{DASH}{_end(booking)}</strong> at Day Infusion Unit, chair 4" in page
    assert "15 min set-up" in page
    assert f'href="/orders/{first.pk}/book/">Move' in page
    assert "not booked" in page  # day 2
    assert f'href="/orders/{second.pk}/book/">Book' in page
    pharmacist = client_for("pharmacist").get(f"/patients/{patient.pk}/").content.decode()
    assert "Day Infusion Unit, chair 4" in pharmacist
    assert f"/orders/{second.pk}/book/" not in pharmacist  # the pharmacy does not book
    moved = _move(users, booking, 11)
    page = nurse.get(f"/patients/{patient.pk}/").content.decode()
    assert f"11:00{DASH}{_end(moved)}</strong> at Day Infusion Unit, Chair 7" in page
    assert "Day Infusion Unit, chair 4" not in page


def test_the_patient_s_own_plan_and_handout(
    users: dict[str, Any], me: Any, booked: tuple[Order, Order, Booking]
) -> None:
    first, _, booking = booked
    client = Client()
    client.force_login(me)
    day = f"{first.date:%A} {first.date.day} {first.date:%B} {first.date.year}"
    plan = client.get("/me/").content.decode()
    assert f"{day}, 08:30" in plan
    assert "You will have it at the Day Infusion Unit, chair 4." in plan
    assert "Please come at 08:30." in plan
    assert "The time is not booked yet." in plan  # day 2, in the list after
    handout = client.get("/me/handout/").content.decode()
    assert f"{day}, 08:30 at the Day Infusion Unit, chair 4; plan to stay about" in handout
    _move(users, booking, 13)
    plan = client.get("/me/").content.decode()
    assert f"{day}, 13:00" in plan
    assert "You will have it at the Day Infusion Unit, Chair 7." in plan
    assert "13:00 at the Day Infusion Unit, Chair 7" in client.get("/me/handout/").content.decode()


def test_the_staff_handout_and_the_calendar_follow_a_move(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    patient: Any,
    booked: tuple[Order, Order, Booking],
) -> None:
    first, second, booking = booked
    nurse = client_for("nurse")
    handout = nurse.get(f"/patients/{patient.pk}/handout/").content.decode()
    assert "08:30 at the Day Infusion Unit, chair 4; plan to stay about" in handout

    def events() -> dict[str, Any]:
        body = nurse.get(f"/patients/{patient.pk}/calendar.ics").content
        return {str(e["UID"]): e for e in Calendar.from_ical(body).walk("VEVENT")}

    before = events()
    event = before[uid(first.pk)]
    assert event.decoded("DTSTART") == at(first.date, 8, 30)
    assert str(event["LOCATION"]) == "Day Infusion Unit, chair 4"
    assert "not booked yet" in str(before[uid(second.pk)]["DESCRIPTION"])
    moved = _move(users, booking, 13)
    after = events()[uid(first.pk)]
    assert after.decoded("DTSTART") == at(first.date, 13)
    assert after.decoded("DTEND") == moved.start + dt.timedelta(minutes=moved.length_minutes)
    assert str(after["LOCATION"]) == "Day Infusion Unit, Chair 7"
    assert after.decoded("SEQUENCE") > event.decoded("SEQUENCE")
    handout = nurse.get(f"/patients/{patient.pk}/handout/").content.decode()
    assert "13:00 at the Day Infusion Unit, Chair 7" in handout


def test_the_run_sheet_plans_from_the_booked_start(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    booked: tuple[Order, Order, Booking],
) -> None:
    first, second, booking = booked
    nurse = client_for("nurse")

    def first_step(page: str) -> str:
        rows = re.findall(r'<tr class="[^"]*provisional"[^>]*>.*?</tr>', page, flags=re.S)
        found = re.search(r"(\d\d:\d\d)" + DASH + r"\d\d:\d\d", rows[0])
        assert found is not None
        return found.group(1)

    sheet = nurse.get(f"/orders/{first.pk}/runsheet/").content.decode()
    assert "clock times from the booked start of the drip at <strong>08:45</strong>" in sheet
    assert "booked 08:30 plus 15 min set-up" in sheet
    assert first_step(sheet) == "08:45"
    assert "at Day Infusion Unit, chair 4" in sheet
    printed = nurse.get(f"/orders/{first.pk}/runsheet/print/").content.decode()
    assert first_step(printed) == "08:45"
    assert "at Day Infusion Unit, chair 4" in printed
    assert f"/orders/{first.pk}/book/" not in printed  # no link on paper
    _move(users, booking, 11)
    sheet = nurse.get(f"/orders/{first.pk}/runsheet/").content.decode()
    assert first_step(sheet) == "11:15"
    assert "at Day Infusion Unit, Chair 7" in sheet
    # not booked: from now, as before, and "not booked" with the link to book it
    other = nurse.get(f"/orders/{second.pk}/runsheet/").content.decode()
    assert "clock times from now (" in other
    assert "not booked" in other
    assert f'href="/orders/{second.pk}/book/"' in other


def test_a_booked_start_already_past_plans_from_now(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    patient: Any,
    today: dt.date,
    now: dt.datetime,
) -> None:
    """Booked today an hour ago and not begun: the clock times run from now."""
    local = timezone.localtime(now).replace(second=0, microsecond=0)
    start = local - dt.timedelta(hours=1)
    if start.date() != today or local.hour >= 20:
        pytest.skip("the suite's clock leaves no room for a booking an hour ago today")
    admin = users["admin"]
    unit = units.create_unit(admin, "Ward", "day-ward", 15)
    units.set_hours(admin, unit.pk, today.weekday(), dt.time(0), dt.time(23, 59))
    chair = units.add_chair(admin, unit.pk, "1")
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today, days=2,
        ),
    )  # fmt: skip
    order = course.orders.get(date=today)
    bookings.book(users["nurse"], order.pk, chair.pk, start)
    sheet = client_for("nurse").get(f"/orders/{order.pk}/runsheet/").content.decode()
    assert f"clock times from now ({local:%H:%M})" in sheet
    assert "at Ward, chair 1" in sheet
