"""The unit pages (administrator) and the bookings pages (issue 18): a unit set up in the
pages, an order booked from the patient's page, the day's list with the length's parts, a move
refused by an overlap, a cancellation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.records.models import AuditEvent, Booking, Chair, Unit
from ivig.records.services import courses


@pytest.fixture
def unit(client_for: Callable[[str | None], Client], today: dt.date) -> Unit:
    admin = client_for("admin")
    page = admin.post(
        "/staff/units/", {"name": "Day ward", "kind": "day-ward", "setup_minutes": "15"}
    )
    made = Unit.objects.get()
    assert page["Location"] == f"/staff/units/{made.pk}/"
    for name in ("Chair 1", "Chair 2"):
        added = admin.post(f"/staff/units/{made.pk}/chairs/", {"name": name, "kind": "chair"})
        assert added.status_code == 302
    hours = {"weekday": today.weekday(), "opens": "08:00", "closes": "18:00"}
    assert admin.post(f"/staff/units/{made.pk}/hours/", hours).status_code == 302
    shown = admin.get(f"/staff/units/{made.pk}/").content.decode()
    assert "08:00\u201318:00" in shown  # an en dash
    assert "Chair 2" in shown
    listed = admin.get("/staff/units/").content.decode()
    assert "Day ward" in listed
    return made


@pytest.fixture
def orders(users: dict[str, Any], patient: Any, make_patient: Any, today: dt.date) -> list[Any]:
    """Day 1 of an induction for the patient and for a second patient, both today."""
    out = []
    for who in (patient, make_patient(170, 70, mrn="MRN0002", family_name="Other")):
        course = courses.prescribe(
            users["prescriber"],
            who.pk,
            courses.CourseInput(
                indication="lems", phase="induction", product="privigen-us", place="hospital",
                start=today, days=2,
            ),
        )  # fmt: skip
        out.append(course.orders.get(date=today))
    return out


def test_unit_form_errors_stay_on_the_page(
    client_for: Callable[[str | None], Client], unit: Unit
) -> None:
    admin = client_for("admin")
    same = admin.post(
        "/staff/units/", {"name": "day ward", "kind": "day-ward", "setup_minutes": "5"}
    )
    assert same.status_code == 200
    assert b"already named" in same.content
    hours = admin.post(
        f"/staff/units/{unit.pk}/hours/", {"weekday": "1", "opens": "18:00", "closes": "08:00"}
    )
    assert b"must close after it opens" in hours.content
    blank = admin.post(f"/staff/units/{unit.pk}/hours/", {"weekday": "1"})
    assert b"Give the time, or tick closed." in blank.content
    closed = admin.post(f"/staff/units/{unit.pk}/hours/", {"weekday": "1", "closed": "on"})
    assert closed.status_code == 302
    twin = admin.post(f"/staff/units/{unit.pk}/chairs/", {"name": "Chair 1", "kind": "chair"})
    assert b"already has a chair named Chair 1" in twin.content


def test_book_from_the_patient_page_and_see_the_day(
    client_for: Callable[[str | None], Client], unit: Unit, orders: list[Any], today: dt.date
) -> None:
    nurse = client_for("nurse")
    first, second = orders
    patient_page = nurse.get(f"/patients/{first.patient_id}/").content.decode()
    assert f'href="/orders/{first.pk}/book/"' in patient_page
    form = nurse.get(f"/orders/{first.pk}/book/").content.decode()
    assert "15 min set-up" in form
    assert "60 min observation (first infusion)" in form
    chair1, chair2 = Chair.objects.order_by("name")
    booked = nurse.post(f"/orders/{first.pk}/book/", {"chair": chair1.pk, "time": "08:00"})
    assert booked["Location"] == f"/bookings/?date={today.isoformat()}"
    made = Booking.objects.get()
    assert timezone.localtime(made.start).time() == dt.time(8)

    clash = nurse.post(f"/orders/{second.pk}/book/", {"chair": chair1.pk, "time": "09:00"})
    assert clash.status_code == 200
    assert b"overlaps it" in clash.content
    late = nurse.post(f"/orders/{second.pk}/book/", {"chair": chair2.pk, "time": "17:00"})
    assert b"open 08:00-18:00" in late.content
    assert (
        nurse.post(f"/orders/{second.pk}/book/", {"chair": chair2.pk, "time": "08:30"}).status_code
        == 302
    )

    day = client_for("pharmacist").get(f"/bookings/?date={today.isoformat()}").content.decode()
    assert day.index("Chair 1") < day.index("Lambert") < day.index("Chair 2") < day.index("Other")
    assert f"{made.pump_minutes} min" in day
    assert f"{made.length_minutes} min" in day
    assert "first infusion" in day
    assert "Move or cancel" not in day  # a pharmacist reads only

    moved = nurse.post(f"/orders/{first.pk}/book/", {"chair": chair1.pk, "time": "08:15"})
    assert moved.status_code == 302
    made.refresh_from_db()
    assert timezone.localtime(made.start).time() == dt.time(8, 15)
    page = nurse.get(f"/orders/{first.pk}/book/").content.decode()
    assert "Move it" in page
    cancelled = nurse.post(f"/bookings/{made.pk}/cancel/", {"reason": "patient unwell"})
    assert cancelled["Location"] == f"/orders/{first.pk}/book/"
    made.refresh_from_db()
    assert made.status == "cancelled"
    actions = list(
        AuditEvent.objects.filter(entity="booking", entity_id=str(made.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["book", "move", "cancel"]
    empty = nurse.get(f"/bookings/?date={(today + dt.timedelta(days=1)).isoformat()}")
    assert b"Nothing booked." in empty.content


def test_a_booking_that_no_longer_fits_is_marked(
    client_for: Callable[[str | None], Client], unit: Unit, orders: list[Any], today: dt.date
) -> None:
    first, _ = orders
    nurse = client_for("nurse")
    chair = Chair.objects.order_by("name").first()
    assert chair is not None
    nurse.post(f"/orders/{first.pk}/book/", {"chair": chair.pk, "time": "08:00"})
    Booking.objects.update(no_longer_fits=True)
    day = nurse.get(f"/bookings/?date={today.isoformat()}").content.decode()
    assert "no longer fits" in day
    assert "booking-unfit" in day
    assert b"it no longer fits here" in nurse.get(f"/orders/{first.pk}/book/").content
