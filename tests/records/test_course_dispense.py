"""A course's doses verified and dispensed together (issue 16 item 15), and every lot problem
named at once (item 12)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ivig.errors import Conflict, HardLimit, InvalidInput
from ivig.records.models import AuditEvent, Course, LimitEvent, Lot, Order
from ivig.records.services import courses, orders


def _course(users: dict[str, Any], patient: Any, today: dt.date, days: int = 5) -> Course:
    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today + dt.timedelta(days=3), days=days),
    )  # fmt: skip


def _shown(course: Course) -> list[orders.Shown]:
    return [
        orders.Shown(o.pk, o.version, o.dose_g, o.volume_ml) for o in course.orders.order_by("date")
    ]


def _lots(today: dt.date) -> list[orders.CourseLot]:
    expiry = today + dt.timedelta(days=400)
    return [orders.CourseLot(f"P{size}", expiry, size) for size in (20, 10, 5)]


def _actions(action: str) -> int:
    return AuditEvent.objects.filter(action=action, entity="order").count()


def test_five_doses_verified_and_dispensed_together(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    course = _course(users, patient, today)
    done = orders.verify_course(users["pharmacist"], course.pk, _shown(course))
    assert [o.status for o in done] == ["verified"] * 5
    assert _actions("verified") == 5  # each order audited on its own
    dispensed = orders.dispense_course(users["pharmacist"], course.pk, _shown(course), _lots(today))
    assert [o.status for o in dispensed] == ["dispensed"] * 5
    assert _actions("dispensed") == 5
    # 2 g/kg x 85 kg = 170 g in whole vials: day 1 30 g (20 + 10), days 2-5 35 g (20 + 10 + 5)
    assert [o.dose_g for o in dispensed] == [30, 35, 35, 35, 35]
    day1 = Lot.objects.filter(order=dispensed[0]).values_list("lot_number", "count")
    assert sorted(day1) == [("P10", 1), ("P20", 1)]
    assert Lot.objects.filter(order__course=course).count() == 14
    assert AuditEvent.objects.filter(entity="lot", action="create").count() == 14


def test_one_refusal_refuses_the_whole_course(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    course = _course(users, patient, today)
    shown = _shown(course)
    last = shown[-1]
    shown[-1] = orders.Shown(last.order_id, last.version, last.dose_g + 5, last.volume_ml)
    with pytest.raises(Conflict, match="your screen showed 40 g") as caught:
        orders.verify_course(users["pharmacist"], course.pk, shown)
    day5 = course.orders.order_by("date").last()
    assert day5 is not None
    assert caught.value.message.startswith(day5.date.isoformat())
    assert not Order.objects.filter(course=course, status="verified").exists()


def test_a_dose_the_screen_did_not_show_is_a_conflict(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    course = _course(users, patient, today)
    with pytest.raises(Conflict, match="reload the page"):
        orders.verify_course(users["pharmacist"], course.pk, _shown(course)[:4])
    assert not Order.objects.filter(course=course, status="verified").exists()


def test_dispensing_a_course_checks_each_orders_vials_and_names_every_problem(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    course = _course(users, patient, today, days=2)
    orders.verify_course(users["pharmacist"], course.pk, _shown(course))
    expired = today + dt.timedelta(days=3)  # day 1 of the course: before day 2
    lots = [orders.CourseLot("P40", expired, 40), orders.CourseLot(" ", expired, 5),
            orders.CourseLot("P5", expired, 5), orders.CourseLot("P1", expired, 1)]  # fmt: skip
    with pytest.raises(HardLimit) as caught:
        orders.dispense_course(users["pharmacist"], course.pk, _shown(course), lots)
    listed = caught.value.details["errors"]
    day2 = course.orders.order_by("date").last()
    assert day2 is not None
    messages = [e["message"] for e in listed]
    assert "lot 2: say how many 5 g vials it gives the course" in messages[0]
    assert "lot 4: no order of this course holds 1 g vials" in messages[1]
    assert any(
        m.startswith(f"{day2.date} (order {day2.pk}): lot 1 (P40) expires") for m in messages
    )
    assert any("the lot number is required" in m for m in messages)
    assert caught.value.rule == "expired-lot"
    assert LimitEvent.objects.filter(rule="expired-lot").count() == 1
    assert not Order.objects.filter(course=course, status="dispensed").exists()


def test_one_order_lists_every_row_problem(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    course = _course(users, patient, today, days=2)
    order = orders.verify_course(users["pharmacist"], course.pk, _shown(course))[0]
    expiry = today + dt.timedelta(days=400)
    lots = [orders.LotInput("", expiry, 40, 2), orders.LotInput("P2", expiry, 2.5, 1)]
    with pytest.raises(InvalidInput) as caught:
        orders.dispense(users["pharmacist"], order.pk, order.version, lots)
    listed = caught.value.details["errors"]
    assert [(e["row"], e["column"]) for e in listed] == [
        (1, "lot_number"),
        (2, "vial_size_g"),
        (None, None),
    ]
    assert "lot 1: the lot number is required" in caught.value.message
    assert "no 2.5 g vial" in caught.value.message
