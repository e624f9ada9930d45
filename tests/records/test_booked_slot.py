"""The booked time and place of an order (issue 18): ``bookings.booked_slot`` (a move shows at
once, a cancelled booking is none), a deferred or cancelled order (or course) cancels its
booking in the same transaction with the order's reason, the unit's kind against the course's
place, and one query for a list."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ivig.errors import InvalidInput, StaleVersion
from ivig.records.models import AuditEvent, Booking, BookingStatus, Order
from ivig.records.services import bookings, courses, orders, units
from ivig.records.services.documents import patient_plan


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())


def _unit(users: dict[str, Any], name: str, kind: str, setup: int = 15) -> Any:
    """A unit open 08:00-18:00 every day with seats A and B (visiting nurses for a team)."""
    admin = users["admin"]
    made = units.create_unit(admin, name, kind, setup)
    for weekday in range(7):
        units.set_hours(admin, made.pk, weekday, dt.time(8), dt.time(18))
    seat = "nurse" if kind == "home-team" else "chair"
    units.add_chair(admin, made.pk, "A" if seat == "chair" else "Nurse Jones", seat)
    units.add_chair(admin, made.pk, "B" if seat == "chair" else "Nurse Khan", seat)
    return made


@pytest.fixture
def ward(users: dict[str, Any]) -> Any:
    return _unit(users, "Day Infusion Unit", "day-ward")


def _course(users: dict[str, Any], patient: Any, today: dt.date, place: str = "hospital") -> Any:
    """A 2-day Privigen (US) induction from tomorrow (day 1 a first infusion)."""
    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="induction", product="privigen-us", place=place,
            start=today + dt.timedelta(days=1), days=2,
        ),
    )  # fmt: skip


@pytest.fixture
def course(users: dict[str, Any], patient: Any, today: dt.date) -> Any:
    return _course(users, patient, today)


def _first(course: Any) -> Order:
    return course.orders.order_by("sequence").first()


def _seat(unit: Any, name: str) -> int:
    return int(unit.chairs.get(name=name).pk)


def test_the_slot_of_a_booked_order(
    users: dict[str, Any], ward: Any, course: Any, today: dt.date
) -> None:
    order = _first(course)
    assert bookings.booked_slot(order) is None  # not booked
    made = bookings.book(users["nurse"], order.pk, _seat(ward, "A"), at(order.date, 9, 30))
    slot = bookings.booked_slot(order)
    assert slot is not None
    assert (slot.unit, slot.unit_kind, slot.chair, slot.chair_kind) == (
        "Day Infusion Unit", "day-ward", "A", "chair",
    )  # fmt: skip
    assert slot.start == at(order.date, 9, 30)
    assert slot.start.tzinfo is not None
    assert slot.start.utcoffset() == timezone.localtime(made.start).utcoffset()
    assert slot.length_minutes == made.length_minutes == 15 + made.pump_minutes + 60
    assert (slot.setup_minutes, slot.observation_minutes) == (15, 60)
    assert slot.observation_reason == "first infusion"
    assert slot.end == slot.start + dt.timedelta(minutes=made.length_minutes)
    assert slot.pump_start == at(order.date, 9, 45)  # after the set-up
    assert (slot.seat, slot.location) == ("chair A", "Day Infusion Unit, chair A")
    bookings.cancel(users["nurse"], made.pk, made.version, "the patient asked")
    assert bookings.booked_slot(order) is None  # a cancelled booking is none


def test_a_move_is_what_every_reader_sees(
    users: dict[str, Any], ward: Any, course: Any, patient: Any, today: dt.date
) -> None:
    order = _first(course)
    made = bookings.book(users["nurse"], order.pk, _seat(ward, "A"), at(order.date, 9))
    before = patient_plan(patient, today=today).infusions[0]
    assert before.booked is not None
    assert before.booked.start == at(order.date, 9)
    bookings.move(users["nurse"], made.pk, made.version, _seat(ward, "B"), at(order.date, 11))
    slot = bookings.booked_slot(order)
    assert slot is not None
    assert (slot.chair, slot.start) == ("B", at(order.date, 11))
    after = patient_plan(patient, today=today).infusions[0]
    assert after.booked == slot
    assert after.revision > before.revision  # the calendar's SEQUENCE rises
    assert AuditEvent.objects.filter(entity="booking", action="move").count() == 1


def test_deferring_the_order_cancels_its_booking(
    users: dict[str, Any], ward: Any, course: Any, patient: Any, today: dt.date
) -> None:
    order = _first(course)
    made = bookings.book(users["nurse"], order.pk, _seat(ward, "A"), at(order.date, 9))
    with pytest.raises(StaleVersion):  # the defer fails: the booking stays
        orders.defer(users["nurse"], order.pk, order.version + 5, "fever")
    assert Booking.objects.get(pk=made.pk).status == BookingStatus.booked
    orders.defer(users["nurse"], order.pk, order.version, "fever since last night")
    booking = Booking.objects.get(pk=made.pk)
    assert (booking.status, booking.version) == (BookingStatus.cancelled, made.version + 1)
    event = AuditEvent.objects.get(entity="booking", action="cancel")
    assert event.reason == f"order {order.pk} deferred: fever since last night"
    assert event.actor == users["nurse"].username
    assert event.patient_id == patient.pk
    assert bookings.booked_slot(order) is None


def test_cancelling_the_order_or_the_course_cancels_bookings(
    users: dict[str, Any], ward: Any, course: Any, today: dt.date
) -> None:
    first, second = course.orders.order_by("sequence")
    one = bookings.book(users["nurse"], first.pk, _seat(ward, "A"), at(first.date, 9))
    two = bookings.book(users["nurse"], second.pk, _seat(ward, "A"), at(second.date, 9))
    orders.cancel(users["prescriber"], first.pk, first.version, "not needed")
    assert Booking.objects.get(pk=one.pk).status == BookingStatus.cancelled
    assert Booking.objects.get(pk=two.pk).status == BookingStatus.booked
    course.refresh_from_db()
    courses.cancel_course(users["prescriber"], course.pk, course.version, "plan changed")
    assert Booking.objects.get(pk=two.pk).status == BookingStatus.cancelled
    reasons = sorted(
        AuditEvent.objects.filter(entity="booking", action="cancel").values_list(
            "reason", flat=True
        )
    )
    assert reasons == [
        f"order {first.pk} cancelled: not needed",
        f"order {second.pk} cancelled: plan changed",
    ]


def test_an_order_without_a_booking_ends_as_before(
    users: dict[str, Any], course: Any, today: dt.date
) -> None:
    order = _first(course)
    orders.defer(users["prescriber"], order.pk, order.version, "unwell")
    assert not AuditEvent.objects.filter(entity="booking").exists()


def test_the_unit_must_give_the_course_s_place(
    users: dict[str, Any], ward: Any, patient: Any, make_patient: Any, today: dt.date
) -> None:
    centre = _unit(users, "Oak Infusion Centre", "infusion-centre")
    team = _unit(users, "Home team", "home-team", 0)
    hospital = _first(_course(users, patient, today))
    # a hospital course: a day ward or an infusion centre, never a home team
    bookings.book(users["nurse"], hospital.pk, _seat(centre, "A"), at(hospital.date, 9))
    other = make_patient(170, 70, mrn="MRN0002", family_name="Other")
    centre_course = _course(users, other, today, place="infusion-centre")
    order = _first(centre_course)
    with pytest.raises(InvalidInput) as refused:  # an infusion-centre course on a day ward
        bookings.book(users["nurse"], order.pk, _seat(ward, "A"), at(order.date, 9))
    assert refused.value.field == "chair_id"
    assert "Day Infusion Unit is a day ward" in refused.value.message
    assert "book it with an infusion centre" in refused.value.message
    bookings.book(users["nurse"], order.pk, _seat(centre, "B"), at(order.date, 9))
    # a home course: the home team only, and not for a first infusion
    third = make_patient(165, 60, mrn="MRN0003", family_name="Home")
    first, second = _course(users, third, today, place="home-with-nurse").orders.order_by(
        "sequence"
    )
    with pytest.raises(InvalidInput, match="book it with a home-infusion team"):
        bookings.book(users["nurse"], second.pk, _seat(ward, "B"), at(second.date, 9))
    with pytest.raises(InvalidInput) as risky:
        bookings.book(users["nurse"], first.pk, _seat(team, "Nurse Jones"), at(first.date, 9))
    assert "first infusion" in risky.value.message
    assert "give it in a medical setting" in risky.value.message  # core.screening's advice
    home = bookings.book(
        users["nurse"], second.pk, _seat(team, "Nurse Jones"), at(second.date, 9)
    )  # day 2: day 1 counts as given, no reaction risk
    assert home.observation_minutes == 20
    slot = bookings.booked_slot(second)
    assert slot is not None
    assert (slot.home_visit, slot.location) == (
        True,
        "Home team, Nurse Jones",
    )
    with pytest.raises(InvalidInput):  # a move is checked the same way
        bookings.move(users["nurse"], home.pk, home.version, _seat(ward, "A"), at(second.date, 9))


def test_one_query_for_a_list(
    users: dict[str, Any], ward: Any, course: Any, patient: Any, today: dt.date
) -> None:
    first, second = course.orders.order_by("sequence")
    ids = [first.pk, second.pk]
    with CaptureQueriesContext(connection) as none_booked:
        assert bookings.booked_slots(ids) == {}
    bookings.book(users["nurse"], first.pk, _seat(ward, "A"), at(first.date, 9))
    bookings.book(users["nurse"], second.pk, _seat(ward, "B"), at(second.date, 9))
    with CaptureQueriesContext(connection) as two_booked:
        slots = bookings.booked_slots(ids)
    assert sorted(slots) == ids
    assert len(none_booked) == len(two_booked) == 1  # the unit and chair come with it
    assert bookings.booked_slots([]) == {}
    # the patient's plan reads them once for all its infusions
    with CaptureQueriesContext(connection) as plan_queries:
        plan = patient_plan(patient, today=today)
    assert [i.booked.chair if i.booked else None for i in plan.infusions] == ["A", "B"]
    booking_reads = [q for q in plan_queries if "records_booking" in q["sql"]]
    assert len(booking_reads) == 2  # the live slots, and the versions for the calendar
