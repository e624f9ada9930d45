"""The calendar of a patient's planned infusions, parsed back with icalendar: one event per
order still to come, with its date, duration (rate steps plus observation) and place."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from icalendar import Calendar

from ivig.core.library import packaged_library
from ivig.interop.handout import Infusion, PatientPlan
from ivig.interop.ics import calendar_bytes, uid

ZONE = zoneinfo.ZoneInfo("Australia/Sydney")
NOW = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)


def events(body: bytes) -> list[Calendar]:
    cal = Calendar.from_ical(body)
    return list(cal.walk("VEVENT"))


def test_events_from_plain_data() -> None:
    started = dt.datetime(2026, 11, 26, 23, 40, tzinfo=dt.UTC)  # 10:40 in Sydney
    days = (
        Infusion(7, dt.date(2026, 11, 27), "hospital", 222.0, 60, 5, 30, 1, 2, True, started),
        Infusion(8, dt.date(2026, 11, 28), "hospital", 222.5, 20, 5, 30, 2, 2, True),
    )
    body = calendar_bytes(PatientPlan("A", "B", days, None, NOW.date()), zone=ZONE, now=NOW)
    assert b"BEGIN:VTIMEZONE" in body
    assert b"TZID:Australia/Sydney" in body
    first, second = events(body)
    assert first["UID"] == uid(7) == "ivig-order-7@ivig"
    assert first.decoded("DTSTART") == started  # the actual start, once begun
    assert first.decoded("DTSTART").tzinfo is not None
    assert first.decoded("DURATION") == dt.timedelta(minutes=282)
    assert second.decoded("DTSTART") == dt.datetime(2026, 11, 28, 9, 0, tzinfo=ZONE)
    assert second.decoded("DURATION") == dt.timedelta(minutes=242)  # 242.5 to the minute
    assert str(first["SUMMARY"]) == "IVIG infusion (day 1 of 2)"
    assert str(second["LOCATION"]) == "Hospital"
    assert "placeholder" not in str(first["DESCRIPTION"])
    assert "The start time shown is a placeholder" in str(second["DESCRIPTION"])


def test_no_infusions_no_events() -> None:
    body = calendar_bytes(PatientPlan("A", "B", (), None, NOW.date()), zone=ZONE, now=NOW)
    assert events(body) == []
    assert Calendar.from_ical(body)["PRODID"] == "-//ivig//IVIG infusion plan//EN"


def test_demo_calendars_match_the_orders(demo: dict[str, Any]) -> None:
    """Each demo patient's .ics: an event per order from today on that is not cancelled,
    deferred or given, at the order's date, lasting the order's rate steps plus the
    observation, at the course's place; nothing clinical beyond that (no dose, product)."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from ivig.core.monitoring import observation_minutes
    from ivig.records.models import Order, OrderStatus, Patient
    from ivig.records.services import orders as order_service
    from ivig.records.services.bookings import booked_slot
    from ivig.records.services.documents import patient_plan

    today = timezone.localdate()
    zone = timezone.get_current_timezone()
    places = {"hospital": "Hospital", "infusion-centre": "Infusion centre"}
    # A deferred dose leaves the calendar.
    first = Patient.objects.get(mrn="DEMO-0001")
    last = Order.objects.filter(patient=first, course__phase="maintenance").order_by("date").last()
    assert last is not None
    prescriber = User.objects.get(username="demo-prescriber")
    deferred = order_service.defer(prescriber, last.pk, last.version, "patient away")
    assert deferred.status == OrderStatus.deferred

    for patient in Patient.objects.order_by("mrn"):
        body = calendar_bytes(patient_plan(patient, today=today), zone=zone, now=timezone.now())
        found = {str(e["UID"]): e for e in events(body)}
        expected = list(
            Order.objects.filter(
                patient=patient,
                date__gte=today,
                status__in=("planned", "verified", "dispensed", "in-progress"),
            ).order_by("date")
        )
        assert len(expected) == (2 if patient == first else 3)
        assert sorted(found) == sorted(uid(o.pk) for o in expected)
        for n, order in enumerate(expected):
            event = found[uid(order.pk)]
            start = event.decoded("DTSTART")
            assert start.astimezone(zone).date() == order.date
            booked = booked_slot(order)  # a booked one at its booked time and place (issue 18)
            if booked is not None:
                assert start == booked.start
                assert event.decoded("DTEND") == booked.end
                assert str(event["LOCATION"]) == booked.location
            else:
                assert (start.astimezone(zone).hour, start.minute) == (9, 0)
            # each maintenance dose follows the one before within 8 weeks, same product
            gap = 28 if n else (order.date - today).days + 30
            observe = observation_minutes(
                first_infusion=False,
                product_switch=False,
                gap_days=gap,
                protocol=packaged_library().monitoring,
            )
            assert observe.minutes == 20
            pump = float(order.steps[-1]["end_min"])
            if booked is None:
                minutes = round(pump + observe.minutes)
                assert event.decoded("DURATION") == dt.timedelta(minutes=minutes)
                assert str(event["LOCATION"]) == places[order.course.place]
            assert str(event["SUMMARY"]) == f"IVIG infusion ({n + 1} of {len(expected)})"
            text = str(event["DESCRIPTION"])
            assert "infection" in text
            assert "list of all your medicines" in text
            assert f"{order.dose_g:g}" not in text
            assert order.course.product_id not in text
            assert patient.mrn not in body.decode()
