"""The unit's board pages (issue 18): every staff role reads the day and the week; blocks
drawn as SVG (no inline style, for the strict CSP), labelled with initials, MRN, product and
dose, linked to the booking; today's board refreshes its partial every minute (a poll is not
audited again); the patients shown are read-audited; previous/next/today and the unit picker."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import AuditEvent, Booking, Unit
from ivig.records.services import bookings, courses, units


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def unit(users: dict[str, Any], today: dt.date) -> Unit:
    """A day ward open 08:00-18:00, closed the day after tomorrow; chairs 1 and 2."""
    admin = users["admin"]
    made = units.create_unit(admin, "Day ward", "day-ward", 15)
    for weekday in range(7):
        units.set_hours(admin, made.pk, weekday, dt.time(8), dt.time(18))
    units.close_day(admin, made.pk, (today + dt.timedelta(days=2)).weekday())
    units.add_chair(admin, made.pk, "Chair 1")
    units.add_chair(admin, made.pk, "Chair 2")
    return made


@pytest.fixture
def booked(users: dict[str, Any], unit: Unit, patient: Any, today: dt.date) -> Booking:
    """Lambert (Edward, MRN0001) day 1 on chair 1 at 08:00."""
    course = courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today, days=2,
        ),
    )  # fmt: skip
    order = course.orders.get(date=today)
    chair = unit.chairs.get(name="Chair 1")
    return bookings.book(users["nurse"], order.pk, chair.pk, at(today, 8))


@pytest.mark.parametrize("role", ["admin", "prescriber", "pharmacist", "nurse"])
def test_every_staff_role_reads_the_day_and_the_week(
    client_for: Callable[[str | None], Client], booked: Booking, role: str, today: dt.date
) -> None:
    client = client_for(role)
    for url in ("/bookings/board/", "/bookings/board/week/"):
        page = client.get(url)
        assert page.status_code == 200
        html = page.content.decode()
        assert "Day ward" in html
        assert "EL MRN0001" in html
        book = f'href="/orders/{booked.order_id}/book/"'
        runsheet = f'href="/orders/{booked.order_id}/runsheet/"'
        assert (runsheet if role == "pharmacist" else book) in html


def test_the_day_is_svg_with_no_inline_style(
    client_for: Callable[[str | None], Client], booked: Booking, today: dt.date
) -> None:
    html = client_for("nurse").get(f"/bookings/board/?date={today.isoformat()}").content.decode()
    assert "style=" not in html
    assert "<script>" not in html
    assert '<svg class="board-svg"' in html
    assert "Privigen 85 g" in html
    assert (
        f"set-up {booked.setup_minutes}, pump {booked.pump_minutes}, "
        f"observation {booked.observation_minutes}" in html
    )
    # the hours across from the opening (08:00) to the closing (18:00)
    assert ">08:00</text>" in html
    assert ">18:00</text>" in html
    assert ">07:00</text>" not in html
    assert 'class="board-block board-booked"' in html
    # the block's width: its length in the hours' scale (10 hours over 822 units)
    width = re.search(
        r'class="board-block board-booked" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', html
    )
    assert width is not None
    assert float(width.group(1)) == 150.0  # 08:00: the first hour
    assert abs(float(width.group(2)) - booked.length_minutes * 822 / 600) < 0.2


def test_today_refreshes_its_partial_and_a_poll_is_not_audited_again(
    client_for: Callable[[str | None], Client], booked: Booking, today: dt.date
) -> None:
    client = client_for("nurse")
    url = f"/bookings/board/?unit={booked.chair.unit_id}&date={today.isoformat()}"
    reads = AuditEvent.objects.filter(action="read", patient_id=booked.order.patient_id)
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 60s"' in page
    assert '"X-Ivig-Poll": "board"' in page
    assert reads.count() == 1
    partial = client.get(url, headers={"HX-Request": "true", "X-Ivig-Poll": "board"})
    assert partial.status_code == 200
    body = partial.content.decode()
    assert body.lstrip().startswith('<div id="board"')
    assert "EL MRN0001" in body
    assert "<html" not in body
    assert reads.count() == 1
    later = (today + dt.timedelta(days=7)).isoformat()
    assert "every 60s" not in client.get(f"/bookings/board/?date={later}").content.decode()


def test_statuses_cancelled_behind_a_toggle_and_unfit(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    booked: Booking,
    today: dt.date,
) -> None:
    Booking.objects.filter(pk=booked.pk).update(no_longer_fits=True)
    client = client_for("nurse")
    day = f"/bookings/board/?date={today.isoformat()}"
    html = client.get(day).content.decode()
    assert 'class="board-block board-no-longer-fits"' in html
    assert "1 no longer fits" in html
    bookings.cancel(users["nurse"], booked.pk, None, "the patient is unwell")
    hidden = client.get(day).content.decode()
    assert "EL MRN0001" not in hidden
    assert "Show cancelled" in hidden
    shown = client.get(day + "&cancelled=on").content.decode()
    assert 'class="board-block board-cancelled"' in shown
    assert "board-struck" in shown
    assert "Hide cancelled" in shown


def test_the_week_runs_monday_to_sunday_with_a_closed_day_and_day_links(
    client_for: Callable[[str | None], Client], unit: Unit, booked: Booking, today: dt.date
) -> None:
    html = (
        client_for("admin").get(f"/bookings/board/week/?date={today.isoformat()}").content.decode()
    )
    monday = today - dt.timedelta(days=today.weekday())
    for n in range(7):
        day = monday + dt.timedelta(days=n)
        assert f"/bookings/board/?unit={unit.pk}&amp;date={day.isoformat()}" in html
    assert html.count('class="board-lane"') == 14  # 7 days x 2 chairs
    assert ">closed</text>" in html
    assert "style=" not in html
    previous = (monday - dt.timedelta(days=7)).isoformat()
    assert f"date={previous}" in html


def test_navigation_unit_picker_and_links(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    booked: Booking,
    today: dt.date,
) -> None:
    other = units.create_unit(users["admin"], "Home team", "home-team", 10)
    units.add_chair(users["admin"], other.pk, "Nurse Ada", "nurse")
    client = client_for("prescriber")
    first = client.get("/bookings/board/").content.decode()  # the first unit by name: Day ward
    assert "Day ward: " in first
    assert f'<option value="{other.pk}">Home team</option>' in first
    home = client.get(f"/bookings/board/?unit={other.pk}").content.decode()
    assert "Home team: " in home
    assert "EL MRN0001" not in home
    assert "Nurse Ada" in home
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert f"date={tomorrow}" in first
    assert 'href="/bookings/board/"' in first  # the nav
    listed = client.get("/bookings/").content.decode()
    assert "/bookings/board/?date=" in listed
    bad = client.get("/bookings/board/?unit=999999&date=nonsense")
    assert bad.status_code == 200  # the defaults: the first unit, today


def test_no_unit_yet(client_for: Callable[[str | None], Client], users: dict[str, Any]) -> None:
    page = client_for("admin").get("/bookings/board/").content.decode()
    assert "No unit yet" in page
    assert "/staff/units/" in page


@pytest.mark.parametrize("day", ["0001-01-01", "0001-01-02", "9999-12-31", "9999-12-27"])
def test_the_calendar_edges_are_no_server_error(
    client_for: Callable[[str | None], Client], unit: Unit, day: str
) -> None:
    client = client_for("nurse")
    for url in ("/bookings/board/", "/bookings/board/week/"):
        page = client.get(f"{url}?date={day}")
        assert page.status_code == 200, (url, page.status_code)
        assert b"Give a day from 0001-01-15 to 9999-12-15." in page.content


def test_a_closed_day_is_shaded_and_an_open_one_is_not(
    client_for: Callable[[str | None], Client], unit: Unit, today: dt.date
) -> None:
    client = client_for("nurse")
    shut = (today + dt.timedelta(days=2)).isoformat()
    closed = client.get(f"/bookings/board/?date={shut}").content.decode()
    assert closed.count('class="board-closed"') == 2  # each chair's whole row
    assert ">08:00</text>" in closed  # the span drawn when every day shown is closed
    assert 'class="board-closed"' not in client.get("/bookings/board/").content.decode()
