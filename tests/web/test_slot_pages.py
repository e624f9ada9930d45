"""Suggested slots on the Book page (issue 18): the levelled slots of a unit's day as links
that fill the form, first-fit's slot marked beside them, a unit chosen, the free choice kept,
and a closed day said in words."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import Booking, Unit
from ivig.records.services import bookings, courses, units


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=timezone.get_current_timezone())


@pytest.fixture
def ward(users: dict[str, Any], today: dt.date) -> Any:
    """Chairs 1 and 2 open 08:00-18:00 every day; a second unit, closed today."""
    admin = users["admin"]
    unit = units.create_unit(admin, "Day ward", "day-ward", 15)
    for weekday in range(7):
        units.set_hours(admin, unit.pk, weekday, dt.time(8), dt.time(18))
    units.add_chair(admin, unit.pk, "Chair 1")
    units.add_chair(admin, unit.pk, "Chair 2")
    units.create_unit(admin, "Zed centre", "infusion-centre", 15)
    return unit


def _today(users: dict[str, Any], patient_id: int, today: dt.date) -> Any:
    course = courses.prescribe(
        users["prescriber"],
        patient_id,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place="hospital",
            start=today, days=2,
        ),
    )  # fmt: skip
    return course.orders.get(date=today)


def test_suggestions_fill_the_form_and_book(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    ward: Any,
    patient: Any,
    make_patient: Any,
    today: dt.date,
) -> None:
    chair1 = ward.chairs.get(name="Chair 1")
    other = make_patient(170, 70, mrn="MRN0002", family_name="Other")
    bookings.book(users["nurse"], _today(users, other.pk, today).pk, chair1.pk, at(today, 8))
    order = _today(users, patient.pk, today)
    nurse = client_for("nurse")
    page = nurse.get(f"/orders/{order.pk}/book/").content.decode()
    assert "Suggested slots" in page
    assert "Unit object" not in page  # the unit picker names its units
    assert "at the busiest, 1 of 2 chairs are in use" in page
    found = bookings.suggest(users["nurse"], order.pk, None, ward.pk)
    best, early = found.slots[0], found.first_fit
    assert early is not None
    link = (
        f"/orders/{order.pk}/book/?unit={ward.pk}&amp;chair={best.chair.pk}"
        f"&amp;time={timezone.localtime(best.start):%H:%M}"
    )
    assert link in page
    assert "keeps the peak at 1 of 2 chairs" in page
    # first-fit is shown, marked, with the peak it would make
    assert 'class="badge">first-fit</span>' in page
    assert "raises the peak to 2 of 2 chairs" in page
    assert f"Chair 2, {timezone.localtime(early.start):%H:%M}" in page
    # following the link fills the form; the form books it
    filled = nurse.get(link.replace("&amp;", "&")).content.decode()
    chair_select = filled[filled.index('name="chair"') :]
    selected = re.search(r'<option value="(\d+)" selected', chair_select)
    assert selected is not None
    assert selected.group(1) == str(best.chair.pk)
    # the time to the minute: a value with seconds makes the browser show a seconds field
    assert f'value="{timezone.localtime(best.start):%H:%M}"' in filled
    posted = nurse.post(
        f"/orders/{order.pk}/book/",
        {"chair": best.chair.pk, "time": f"{timezone.localtime(best.start):%H:%M}"},
    )
    assert posted.status_code == 302
    booked = Booking.objects.get(order=order)
    assert (booked.chair_id, booked.start) == (best.chair.pk, best.start)
    # junk in the links is ignored, the free choice stays
    junk = nurse.get(f"/orders/{order.pk}/book/?unit=abc&chair=x1&time=25:99")
    assert junk.status_code == 200
    assert b'name="time"' in junk.content


def test_another_unit_closed_that_day(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    ward: Any,
    patient: Any,
    today: dt.date,
) -> None:
    order = _today(users, patient.pk, today)
    closed = Unit.objects.get(name="Zed centre")  # no hours: closed every day
    page = client_for("prescriber").get(f"/orders/{order.pk}/book/?unit={closed.pk}")
    assert page.status_code == 200
    assert b"Zed centre is closed on" in page.content
    assert b'name="chair"' in page.content  # the free choice stays
