"""``ivig demo`` runs a unit (issue 18): a day infusion unit of 8 chairs and a home-infusion team
of 2 visiting nurses open Monday to Friday 08:00-18:00, a main pharmacy and a day-ward fridge
with lots (one expiring within 30 days, one quarantined: a recall of a lot a patient received,
one product short of the week's orders), the planned and verified orders of today and the next
7 days booked (each day's longest first), all through the audited services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from ivig.records.models import (
    AuditEvent,
    Booking,
    BookingStatus,
    Chair,
    OpeningHours,
    Order,
    OrderStatus,
    StockLot,
    Store,
    Unit,
)
from ivig.records.services import stock

Run = Callable[[list[str]], tuple[int, str, str]]


def _booked_week(today: dt.date) -> None:
    """Every planned or verified order of today and the next 7 days is booked on a chair of
    the day unit, on a weekday, within the hours; each day's longest starts first."""
    due = Order.objects.filter(
        status__in=(OrderStatus.planned, OrderStatus.verified),
        date__gte=today,
        date__lte=today + dt.timedelta(days=7),
    )
    assert due.exists()
    by_day: dict[dt.date, list[Booking]] = {}
    for order in due:
        booking = Booking.objects.get(order=order, status=BookingStatus.booked)
        assert booking.chair.unit.name == "Day infusion unit"
        start = timezone.localtime(booking.start)
        end = start + dt.timedelta(minutes=booking.length_minutes)
        assert start.date() == order.date
        assert start.weekday() < 5
        assert dt.time(8) <= start.time() < end.time() <= dt.time(18)
        by_day.setdefault(order.date, []).append(booking)
    for bookings in by_day.values():
        bookings.sort(key=lambda b: b.start)
        lengths = [b.length_minutes for b in bookings]
        assert lengths == sorted(lengths, reverse=True)
        assert len({b.chair_id for b in bookings}) == len(bookings)
    # Maintenance doses never fall on the units' closed weekend.
    assert all(o.date.weekday() < 5 for o in Order.objects.filter(course__phase="maintenance"))


def test_the_demo_runs_a_unit_with_its_stock_and_bookings(
    demo: dict[str, Any], today: dt.date
) -> None:
    unit = Unit.objects.get(name="Day infusion unit")
    home = Unit.objects.get(name="Home-infusion team")
    assert (unit.kind, home.kind) == ("infusion-centre", "home-team")
    chairs = Chair.objects.filter(unit=unit)
    assert (chairs.count(), set(chairs.values_list("kind", flat=True))) == (8, {"chair"})
    nurses = Chair.objects.filter(unit=home)
    assert (nurses.count(), set(nurses.values_list("kind", flat=True))) == (2, {"nurse"})
    for u in (unit, home):
        hours = OpeningHours.objects.filter(unit=u, closed=False)
        assert sorted(hours.values_list("weekday", flat=True)) == [0, 1, 2, 3, 4]
        assert set(hours.values_list("opens", "closes")) == {(dt.time(8), dt.time(18))}

    assert set(Store.objects.values_list("name", flat=True)) == {
        "Main pharmacy",
        "Day-ward fridge",
    }
    recalled = StockLot.objects.get(quarantined=True)
    assert "recall" in recalled.quarantine_reason
    assert stock.recipients(recalled.lot_number).exists()  # a patient received it
    soon = stock.expiring(30, today=today)
    assert [lot.store.name for lot in soon] == ["Day-ward fridge"]
    short = [line for line in stock.stock_against_orders(today=today) if line.shortfall]
    assert len(short) == 1
    assert short[0].short_of
    _booked_week(today)

    written = set(
        AuditEvent.objects.filter(
            entity__in=("unit", "chair", "store", "stock-lot", "booking")
        ).values_list("entity", "actor")
    )
    assert written >= {
        ("unit", "demo-admin"),
        ("chair", "demo-admin"),
        ("store", "demo-admin"),
        ("stock-lot", "demo-pharmacist"),
        ("booking", "demo-nurse"),
    }


@pytest.mark.parametrize("weekday", [3, 4])  # Thursday, Friday: a maintenance day at the weekend
def test_the_demo_books_its_week_whatever_the_day(
    db: None, run: Run, today: dt.date, weekday: int
) -> None:
    import time_machine

    day = today + dt.timedelta(days=(weekday - today.weekday()) % 7)
    moment = dt.datetime.combine(day, dt.time(7, 30), tzinfo=timezone.get_current_timezone())
    with time_machine.travel(moment, tick=True):
        code, out, err = run(["demo"])
        assert code == 0, err
        assert "short of the next 7 days' orders" in out
        _booked_week(timezone.localdate())
