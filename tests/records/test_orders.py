"""Courses and orders: the status flow by role, stale versions, and the cap."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ivig.errors import CapExceeded, Conflict, Forbidden, InvalidInput, StaleVersion
from ivig.records.models import AuditEvent, Order
from ivig.records.services import courses, orders

START = dt.date(2026, 12, 1)
INDUCTION = courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                                place="hospital", start=START, days=2)  # fmt: skip
LOTS = [
    orders.LotInput("P123", dt.date(2027, 6, 30), 40, 2),
    orders.LotInput("P124", dt.date(2027, 6, 30), 5, 1),
]


def test_prescribe_makes_dated_orders_from_the_core_plan(
    users: dict[str, Any], patient: Any
) -> None:
    course = courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    made = list(course.orders.order_by("sequence"))
    assert [o.date for o in made] == [START, START + dt.timedelta(days=1)]
    assert [o.dose_g for o in made] == [85, 85]
    assert made[0].vials == [{"size_g": 40.0, "count": 2}, {"size_g": 5.0, "count": 1}]
    assert course.plan["dosing_weight"]["kg"] == 85.0
    assert course.catalogue_version


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("prescriber", True), ("pharmacist", False), ("nurse", False), ("admin", False)],
)
def test_only_a_prescriber_prescribes(
    users: dict[str, Any], patient: Any, role: str, allowed: bool
) -> None:
    if allowed:
        courses.prescribe(users[role], patient.pk, INDUCTION)
    else:
        with pytest.raises(Forbidden):
            courses.prescribe(users[role], patient.pk, INDUCTION)


def test_the_flow_and_its_roles(users: dict[str, Any], patient: Any) -> None:
    order = courses.prescribe(users["prescriber"], patient.pk, INDUCTION).orders.first()
    assert order is not None
    with pytest.raises(Forbidden):
        orders.verify(users["nurse"], order.pk, order.version)
    with pytest.raises(Conflict):  # not verified yet
        orders.dispense(users["pharmacist"], order.pk, order.version, LOTS)
    order = orders.verify(users["pharmacist"], order.pk, order.version)
    assert order.status == "verified"
    assert order.verified_by == users["pharmacist"]
    order = orders.dispense(users["pharmacist"], order.pk, order.version, LOTS)
    assert order.status == "dispensed"
    assert sorted(lot.lot_number for lot in order.lots.all()) == ["P123", "P124"]
    with pytest.raises(Conflict):  # a dispensed order cannot be verified again
        orders.verify(users["pharmacist"], order.pk, order.version)


def test_stale_version_is_refused_and_nothing_changes(users: dict[str, Any], patient: Any) -> None:
    order = courses.prescribe(users["prescriber"], patient.pk, INDUCTION).orders.first()
    assert order is not None
    orders.verify(users["pharmacist"], order.pk, order.version)
    audit_rows = AuditEvent.objects.count()
    with pytest.raises(StaleVersion) as caught:
        orders.defer(users["nurse"], order.pk, order.version, "patient unwell")
    assert caught.value.http_status == 409
    assert Order.objects.get(pk=order.pk).status == "verified"
    assert AuditEvent.objects.count() == audit_rows


@pytest.mark.parametrize(
    ("lots", "complaint"),
    [
        ([orders.LotInput("P1", dt.date(2027, 1, 1), 40, 2)], "ordered vials"),
        ([orders.LotInput("P1", dt.date(2027, 1, 1), 2.5, 2)], "no 2.5 g vial"),
        ([orders.LotInput(" ", dt.date(2027, 1, 1), 40, 2)], "lot number"),
    ],
)  # fmt: skip
def test_dispensing_checks_the_lots(
    users: dict[str, Any], patient: Any, lots: list[orders.LotInput], complaint: str
) -> None:
    order = courses.prescribe(users["prescriber"], patient.pk, INDUCTION).orders.first()
    assert order is not None
    order = orders.verify(users["pharmacist"], order.pk, order.version)
    with pytest.raises(InvalidInput, match=complaint):
        orders.dispense(users["pharmacist"], order.pk, order.version, lots)
    assert Order.objects.get(pk=order.pk).status == "verified"


def test_reason_is_required_to_defer_or_cancel(users: dict[str, Any], patient: Any) -> None:
    order = courses.prescribe(users["prescriber"], patient.pk, INDUCTION).orders.first()
    assert order is not None
    with pytest.raises(InvalidInput):
        orders.cancel(users["prescriber"], order.pk, order.version, "  ")
    order = orders.defer(users["nurse"], order.pk, order.version, "fever today")
    assert (order.status, order.status_reason) == ("deferred", "fever today")
    with pytest.raises(Forbidden):
        orders.cancel(users["nurse"], order.pk, order.version, "no")


def test_cap_counts_every_course_of_the_patient(users: dict[str, Any], patient: Any) -> None:
    courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    # a second induction in the same 28 days would reach 4 g/kg
    with pytest.raises(CapExceeded) as caught:
        courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    assert caught.value.field == "start"
    assert caught.value.earliest_allowed == dt.date(2026, 12, 29)  # 1 Dec leaves the window


def test_cancelled_course_frees_the_cap(users: dict[str, Any], patient: Any) -> None:
    first = courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    courses.cancel_course(users["prescriber"], first.pk, first.version, "wrong product")
    assert set(first.orders.values_list("status", flat=True)) == {"cancelled"}
    second = courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    assert second.orders.count() == 2


def test_no_weight_no_plan(users: dict[str, Any]) -> None:
    from ivig.records.services.patients import PatientInput, create_patient

    bare = create_patient(
        users["prescriber"],
        PatientInput(mrn="X1", family_name="A", given_name="B", date_of_birth=dt.date(1970, 1, 1),
                     sex="female", height_cm=160),
        today=dt.date(2026, 11, 25),
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        courses.prescribe(users["prescriber"], bare.pk, INDUCTION)
    assert caught.value.field == "weight_kg"
