"""An order's place in its course (issue 16 item 21): ``records.services.doses``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ivig.records.models import InfusionSession, Order, OrderStatus
from ivig.records.services import courses, orders
from ivig.records.services.doses import NOT_ENDED, dose_of, order_name


def _course(users: dict[str, Any], patient: Any, start: dt.date) -> Any:
    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(
            indication="lems", phase="maintenance", product="privigen-us", place="hospital",
            start=start, dose_g_per_kg=1, every_weeks=4, count=3,
        ),
    )  # fmt: skip


def test_each_dose_of_a_course_in_words(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    course = _course(users, patient, today)
    names = [order_name(o) for o in course.orders.order_by("sequence")]
    assert names == [
        "maintenance, dose 1 of 3",
        "maintenance, dose 2 of 3",
        "maintenance, dose 3 of 3",
    ]


def test_a_cancelled_dose_is_not_counted_but_keeps_its_place(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    course = _course(users, patient, today)
    second = course.orders.get(sequence=2)
    orders.cancel(users["prescriber"], second.pk, second.version, "no longer needed")
    third = course.orders.get(sequence=3)
    assert dose_of(third) == (2, 2)  # the doses the patient will have
    assert dose_of(Order.objects.get(pk=second.pk)) == (2, 3)  # among all the course's orders


def test_an_order_whose_infusion_ended_is_not_still_to_come(dispensed: Order) -> None:
    assert Order.objects.filter(NOT_ENDED, pk=dispensed.pk).exists()  # no session yet
    InfusionSession.objects.create(order=dispensed, state="running")
    assert Order.objects.filter(NOT_ENDED, pk=dispensed.pk).exists()
    InfusionSession.objects.filter(order=dispensed).update(
        state="ended", ended_at=dispensed.dispensed_at
    )
    assert not Order.objects.filter(NOT_ENDED, pk=dispensed.pk).exists()
    assert Order.objects.filter(NOT_ENDED, status=OrderStatus.planned).count() == 1  # day 2
