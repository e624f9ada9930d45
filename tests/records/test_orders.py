"""Courses and orders: the status flow by role, stale versions, and the cap."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ivig.core.library import packaged_library
from ivig.errors import CapExceeded, Conflict, Forbidden, HardLimit, InvalidInput, StaleVersion
from ivig.records import audit
from ivig.records.models import AuditEvent, Course, LimitEvent, Lot, Order
from ivig.records.services import courses, orders

PACKAGED = packaged_library().version  # the drug library the package ships
TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
START = TODAY + dt.timedelta(days=5)
EXPIRY = START + dt.timedelta(days=210)  # lots good for seven months after the course
INDUCTION = courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                                place="hospital", start=START, days=2)  # fmt: skip
LOTS = [
    orders.LotInput("P123", EXPIRY, 40, 2),
    orders.LotInput("P124", EXPIRY, 5, 1),
]


def test_the_dosing_weight_is_stored_once_in_the_plan(users: dict[str, Any], patient: Any) -> None:
    """Issue 15: the course's dosing weight and its basis are the plan's (what every dose and
    rate was computed on), read there; no column repeats them, so none can disagree."""
    course = courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    weight = course.plan["dosing_weight"]
    assert (course.dosing_weight_kg, course.weight_basis) == (weight["kg"], weight["basis"])
    assert course.dosing_weight_kg == 85.0
    assert not {"dosing_weight_kg", "weight_basis"} & set(audit.snapshot(course))
    Course.objects.filter(pk=course.pk).update(plan={**course.plan, "dosing_weight": {
        **weight, "kg": 84.9, "basis": "actual"}})  # fmt: skip
    course.refresh_from_db()
    assert (course.dosing_weight_kg, course.weight_basis) == (84.9, "actual")


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
        ([orders.LotInput("P1", EXPIRY, 40, 2)], "ordered vials"),
        ([orders.LotInput("P1", EXPIRY, 2.5, 2)], "no 2.5 g vial"),
        ([orders.LotInput(" ", EXPIRY, 40, 2)], "lot number"),
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


def _verified(users: dict[str, Any], patient: Any) -> Order:
    order = courses.prescribe(users["prescriber"], patient.pk, INDUCTION).orders.first()
    assert order is not None
    return orders.verify(users["pharmacist"], order.pk, order.version)


def test_an_expired_lot_is_a_hard_limit_and_is_counted(users: dict[str, Any], patient: Any) -> None:
    """Requirements 64, 48: a lot expiring before the infusion day is refused for everyone,
    named by its row, and the attempt is counted (LimitEvent and a hard-stop audit row)."""
    order = _verified(users, patient)
    lots = [LOTS[0], orders.LotInput("P-OLD", START - dt.timedelta(days=1), 5, 1)]
    with pytest.raises(HardLimit) as caught:
        orders.dispense(users["pharmacist"], order.pk, order.version, lots)
    assert caught.value.rule == "expired-lot"
    assert caught.value.http_status == 422
    assert (caught.value.details["row"], caught.value.details["column"]) == (2, "expiry")
    assert "P-OLD" in caught.value.message
    assert (
        f"expires {START - dt.timedelta(days=1)}, before the infusion on {START}"
        in caught.value.message
    )
    assert Order.objects.get(pk=order.pk).status == "verified"
    assert not Lot.objects.exists()
    event = LimitEvent.objects.get()
    assert (event.kind, event.rule, event.entity) == ("hard", "expired-lot", "lot")
    assert (event.order_id, event.patient_id) == (order.pk, patient.pk)
    assert (event.limit_value, event.attempted_value) == (0, -1)  # one day past its expiry
    assert event.catalogue_version == PACKAGED
    assert event.user == users["pharmacist"]
    assert AuditEvent.objects.filter(action="hard-stop").count() == 1


@pytest.mark.parametrize(
    ("product", "rule"),
    [("gamunex-c", "wrong-product-lot"), ("octagam-5", "concentration-mismatch")],
)
def test_a_lot_of_another_product_is_a_hard_limit(
    users: dict[str, Any], patient: Any, product: str, rule: str
) -> None:
    """Requirements 64, 48: a lot of another product is refused; a 5 % product for a 10 %
    order is named a concentration mismatch."""
    order = _verified(users, patient)
    lots = [orders.LotInput("G1", EXPIRY, 40, 2, product_id=product), LOTS[1]]
    with pytest.raises(HardLimit) as caught:
        orders.dispense(users["pharmacist"], order.pk, order.version, lots)
    assert caught.value.rule == rule
    assert (caught.value.details["row"], caught.value.details["column"]) == (1, "product_id")
    assert Order.objects.get(pk=order.pk).status == "verified"
    assert not Lot.objects.exists()
    assert LimitEvent.objects.get().rule == rule
    if rule == "concentration-mismatch":
        assert "at 5 %" in caught.value.message
        assert "at 10 %" in caught.value.message
        assert (caught.value.limit, caught.value.value, caught.value.unit) == (100, 50, "mg/mL")


def test_a_lot_naming_the_orders_product_is_dispensed(users: dict[str, Any], patient: Any) -> None:
    """Requirement 64: the lot's product is recorded (the order's, when not named)."""
    order = _verified(users, patient)
    lots = [orders.LotInput("P1", EXPIRY, 40, 2, product_id="privigen-us"), LOTS[1]]
    done = orders.dispense(users["pharmacist"], order.pk, order.version, lots)
    assert done.status == "dispensed"
    assert set(done.lots.values_list("product_id", flat=True)) == {"privigen-us"}
    assert not LimitEvent.objects.exists()


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
    assert caught.value.earliest_allowed == START + dt.timedelta(days=28)  # day 1 leaves the window


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
        today=TODAY,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        courses.prescribe(users["prescriber"], bare.pk, INDUCTION)
    assert caught.value.field == "weight_kg"


def test_find_lots_matches_the_whole_number_ignoring_case_and_spaces(dispensed: Order) -> None:
    """The lot look-up of the pharmacy page and the API: what the pharmacist types from a vial
    or a recall notice finds the lot whatever its case, and only that lot."""
    for typed in ("P1", "p1", "  p1 "):
        found = list(orders.find_lots(typed))
        assert [(lot.lot_number, lot.order_id) for lot in found] == [("P1", dispensed.pk)]
        assert found[0].order.patient == dispensed.patient
    for other in ("P", "P12", "P_", "%", " ", ""):  # a part, a LIKE wildcard, nothing
        assert not orders.find_lots(other).exists()
