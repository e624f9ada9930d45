"""The versioned drug library (requirement 46), the server's recomputation at verification
(requirement 56) and segregation of duties at verification (requirement 16), on the services;
the library in service read again when any of its files changes (issue 15)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from ivig.core.library import packaged_library
from ivig.errors import CatalogueError, Conflict, Forbidden, InvalidInput, StaleVersion
from ivig.records.library import current_library
from ivig.records.models import AuditEvent, Order
from ivig.records.services import courses, orders
from ivig.records.services.accounts import create_user
from ivig.records.services.patients import add_weight, confirm_weight

TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
START = TODAY + dt.timedelta(days=5)
EXPIRY = START + dt.timedelta(days=210)  # lots good for seven months after the course
INDUCTION = courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                                place="hospital", start=START, days=2)  # fmt: skip
LOTS = [
    orders.LotInput("P123", EXPIRY, 40, 2),
    orders.LotInput("P124", EXPIRY, 5, 1),
]
# Privigen (US), CIDP schedule: pharmacy lowers the maximum from 8 to 6 mg/kg/min.
SLOWER = {"initial = 0.5\nmaximum = 8\n": "initial = 0.5\nmaximum = 6\n"}
PACKAGED = packaged_library().version  # the catalogue_version shipped


# --- the library in service (issue 15) ------------------------------------------------------------


def test_the_library_in_service_is_read_again_when_limits_toml_changes(
    library: Callable[..., str], settings: Any
) -> None:
    """Every file of the site's folder is watched, not only products.toml: a changed limit is in
    service at the next call; an unchanged folder is not read again."""
    library("2026.12.0")
    before = current_library()
    assert current_library() is before
    assert before.limits.vitals_within_minutes.value == 15
    limits = Path(settings.IVIG_CATALOGUE_DIR) / "limits.toml"
    old = "vitals_within_minutes = { value = 15,"
    limits.write_text(limits.read_text().replace(old, "vitals_within_minutes = { value = 120,"))
    after = current_library()
    assert after.limits.vitals_within_minutes.value == 120
    assert after.version == "2026.12.0"  # the version is the site's to bump


def test_without_a_site_folder_the_packaged_library_is_in_service(settings: Any) -> None:
    settings.IVIG_CATALOGUE_DIR = None
    assert current_library() is packaged_library()


def test_a_broken_file_of_the_site_is_refused_naming_it(library: Callable[..., str]) -> None:
    window = "late_window_minutes = { value = 15"
    library("2026.12.0", files={"monitoring.toml": {window: "late_window_minutes = { value = 0"}})
    with pytest.raises(CatalogueError, match=r"monitoring\.toml \[checkpoints\]: 'late_window"):
        current_library()


def _orders(course: Any) -> list[Order]:
    return list(Order.objects.filter(course=course).order_by("sequence"))


def _numbers(order: Order) -> tuple[Any, ...]:
    return (order.dose_g, order.vials, order.volume_ml, order.steps, order.catalogue_version)


def test_a_library_change_never_alters_an_existing_order(
    users: dict[str, Any], patient: Any, library: Callable[..., str]
) -> None:
    """Requirement 46: orders keep the numbers and version they were planned with; only a new
    plan uses the new library."""
    course = courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    before = [_numbers(o) for o in _orders(course)]
    assert {o.catalogue_version for o in _orders(course)} == {PACKAGED}
    assert max(s["rate_ml_per_h"] for s in _orders(course)[0].steps) == 408  # 8 mg/kg/min

    library("2026.12.0", SLOWER)
    assert [_numbers(o) for o in _orders(course)] == before
    course.refresh_from_db()
    assert course.catalogue_version == PACKAGED
    # a plan made now uses the library in service
    plan = courses.plan_for(patient, INDUCTION, exclude_course=course.pk)
    assert plan.catalogue_version == "2026.12.0"
    assert max(s.rate_ml_per_h for s in plan.doses[0].steps) == 306  # 6 mg/kg/min of 85 kg


def test_verification_refuses_an_order_of_another_library_version(
    users: dict[str, Any], patient: Any, library: Callable[..., str]
) -> None:
    """Requirements 46, 56: an order planned with another library version is not verified
    until it is re-planned; nothing changes."""
    order = _orders(courses.prescribe(users["prescriber"], patient.pk, INDUCTION))[0]
    library("2026.12.0", SLOWER)
    audit_rows = AuditEvent.objects.count()
    with pytest.raises(Conflict, match="re-plan needed") as caught:
        orders.verify(users["pharmacist"], order.pk, order.version)
    assert caught.value.field == "catalogue_version"
    assert PACKAGED in caught.value.message
    assert "2026.12.0" in caught.value.message
    assert Order.objects.get(pk=order.pk).status == "planned"
    assert AuditEvent.objects.count() == audit_rows


def test_a_version_bump_alone_also_needs_a_re_plan(
    users: dict[str, Any], patient: Any, library: Callable[..., str]
) -> None:
    """Requirement 46: the version is compared, even when the numbers would be the same."""
    order = _orders(courses.prescribe(users["prescriber"], patient.pk, INDUCTION))[0]
    library("2026.11.1")
    with pytest.raises(Conflict, match="re-plan needed"):
        orders.verify(users["pharmacist"], order.pk, order.version)


def test_replan_plans_open_orders_again_and_leaves_dispensed_ones_alone(
    users: dict[str, Any], patient: Any, library: Callable[..., str]
) -> None:
    """Requirement 46: an explicit, audited re-plan: planned and verified orders get the new
    numbers and version (a verified one is planned again), a dispensed one is left alone."""
    course = courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    day1, day2 = _orders(course)
    day1 = orders.verify(users["pharmacist"], day1.pk, day1.version)
    day1 = orders.dispense(users["pharmacist"], day1.pk, day1.version, LOTS)
    day2 = orders.verify(users["pharmacist"], day2.pk, day2.version)
    kept = _numbers(day1)
    library("2026.12.0", SLOWER)
    course.refresh_from_db()

    done = courses.replan(users["prescriber"], course.pk, course.version, "library 2026.12.0")

    assert [o.pk for o in done.replanned] == [day2.pk]
    assert [o.pk for o in done.kept] == [day1.pk]
    assert (done.old_version, done.new_version) == (PACKAGED, "2026.12.0")
    assert "left as they were" in done.summary
    assert "dispensed" in done.summary
    day1.refresh_from_db()
    day2.refresh_from_db()
    assert _numbers(day1) == kept
    assert day1.status == "dispensed"
    assert day2.status == "planned"
    assert day2.verified_by is None
    assert day2.verified_at is None
    assert day2.catalogue_version == "2026.12.0"
    assert max(s["rate_ml_per_h"] for s in day2.steps) == 306
    done.course.refresh_from_db()
    assert done.course.catalogue_version == "2026.12.0"
    # audited per order: before and after, the reason, the old and the new version
    event = AuditEvent.objects.get(action="replan", entity="order")
    assert event.entity_id == str(day2.pk)
    assert event.before["catalogue_version"] == PACKAGED
    assert event.after["catalogue_version"] == "2026.12.0"
    assert event.before["status"] == "verified"
    assert event.after["status"] == "planned"
    assert "library 2026.12.0" in event.reason
    assert f"{PACKAGED} -> 2026.12.0" in event.reason
    assert AuditEvent.objects.filter(action="replan", entity="course").count() == 1
    # and it can be verified again now
    again = orders.verify(users["pharmacist"], day2.pk, day2.version)
    assert again.status == "verified"


@pytest.mark.parametrize("role", ["pharmacist", "nurse", "admin"])
def test_only_a_prescriber_re_plans(
    users: dict[str, Any], patient: Any, library: Callable[..., str], role: str
) -> None:
    """Requirement 46 (and 15): the re-plan is a prescriber's, checked in the service."""
    course = courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    library("2026.12.0", SLOWER)
    with pytest.raises(Forbidden):
        courses.replan(users[role], course.pk, course.version, "new library")
    assert {o.catalogue_version for o in _orders(course)} == {PACKAGED}
    courses.replan(users["prescriber"], course.pk, course.version, "new library")
    assert {o.catalogue_version for o in _orders(course)} == {"2026.12.0"}


def test_a_re_plan_needs_a_reason_and_the_version_read(
    users: dict[str, Any], patient: Any, library: Callable[..., str]
) -> None:
    """Requirement 46: no silent re-plan; a stale course version is refused."""
    course = courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    library("2026.12.0", SLOWER)
    with pytest.raises(InvalidInput) as caught:
        courses.replan(users["prescriber"], course.pk, course.version, "   ")
    assert caught.value.field == "reason"
    with pytest.raises(StaleVersion):
        courses.replan(users["prescriber"], course.pk, course.version + 1, "new library")
    assert {o.catalogue_version for o in _orders(course)} == {PACKAGED}
    assert not AuditEvent.objects.filter(action="replan").exists()


def test_a_cancelled_course_is_not_re_planned(
    users: dict[str, Any], patient: Any, library: Callable[..., str]
) -> None:
    course = courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    course = courses.cancel_course(users["prescriber"], course.pk, course.version, "wrong")
    library("2026.12.0", SLOWER)
    with pytest.raises(Conflict, match="cancelled"):
        courses.replan(users["prescriber"], course.pk, course.version, "new library")


# --- the server recomputes on verification (requirement 56) --------------------------------------


def test_verification_recomputes_the_plan_from_the_stored_inputs(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    """Requirement 56: a new weight since prescribing changes the dose the plan gives: the
    server's recomputation refuses the verification, naming the differences."""
    order = _orders(courses.prescribe(users["prescriber"], patient.pk, INDUCTION))[0]
    heavier = add_weight(users["prescriber"], patient.pk, today, 120, today=today)
    with pytest.raises(Conflict, match="must confirm it"):  # +20 %: confirmed first (issue 14)
        orders.verify(users["pharmacist"], order.pk, order.version)
    confirm_weight(users["prescriber"], heavier.pk, "re-weighed: 120 kg", now=timezone.now())
    # issue 16 item 3: the confirmation marks the course "re-plan needed", named first
    with pytest.raises(Conflict, match="re-plan needed") as caught:
        orders.verify(users["pharmacist"], order.pk, order.version)
    assert "would be 95 g, not 85 g" in caught.value.message  # 120 kg, 190 cm: 98.4 kg
    assert "re-plan" in caught.value.message
    assert Order.objects.get(pk=order.pk).status == "planned"


def test_a_changed_stored_rate_is_caught_by_the_recomputation(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 56: a step rate changed in the database behind the service (the sums still
    add up) no longer matches the plan recomputed from the stored inputs."""
    order = _orders(courses.prescribe(users["prescriber"], patient.pk, INDUCTION))[0]
    steps = [dict(s) for s in order.steps]
    steps[-1]["rate_ml_per_h"] = 480.0  # 408 -> 480 mL/h
    Order.objects.filter(pk=order.pk).update(steps=steps)
    with pytest.raises(Conflict, match=r"rate steps 25\.5, 51, 102, 204, 408 mL/h, not .*480"):
        orders.verify(users["pharmacist"], order.pk, order.version)
    assert Order.objects.get(pk=order.pk).status == "planned"


@pytest.mark.parametrize(
    ("shown", "field"),
    [({"dose_g": 80.0, "volume_ml": 850.0}, "dose_g"),
     ({"dose_g": 85.0, "volume_ml": 800.0}, "volume_ml")],
)  # fmt: skip
def test_the_numbers_the_pharmacist_saw_must_be_the_orders(
    users: dict[str, Any], patient: Any, shown: dict[str, float], field: str
) -> None:
    """Requirement 56: a mismatch with the client's numbers rejects the verification."""
    order = _orders(courses.prescribe(users["prescriber"], patient.pk, INDUCTION))[0]
    with pytest.raises(Conflict) as caught:
        orders.verify(users["pharmacist"], order.pk, order.version, **shown)
    assert caught.value.field == field
    assert Order.objects.get(pk=order.pk).status == "planned"
    done = orders.verify(users["pharmacist"], order.pk, order.version, dose_g=85.0, volume_ml=850.0)
    assert done.status == "verified"


# --- segregation of duties (requirement 16) ------------------------------------------------------


def test_the_prescriber_cannot_verify_the_course_even_as_a_pharmacist(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 16: a user holding both roles prescribes; another pharmacist verifies."""
    both = create_user(None, "dr.both", "infusion-chair-42-Xq", ["prescriber", "pharmacist"],
                       system=True)  # fmt: skip
    order = _orders(courses.prescribe(both, patient.pk, INDUCTION))[0]
    with pytest.raises(Forbidden, match="segregation of duties") as caught:
        orders.verify(both, order.pk, order.version, dose_g=85.0, volume_ml=850.0)
    assert caught.value.http_status == 403
    assert Order.objects.get(pk=order.pk).status == "planned"
    done = orders.verify(users["pharmacist"], order.pk, order.version)
    assert done.verified_by == users["pharmacist"]


def test_a_dual_role_user_verifies_another_prescribers_course(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 16: the rule is about this course's prescriber, not the role."""
    both = create_user(None, "dr.both", "infusion-chair-42-Xq", ["prescriber", "pharmacist"],
                       system=True)  # fmt: skip
    order = _orders(courses.prescribe(users["prescriber"], patient.pk, INDUCTION))[0]
    assert orders.verify(both, order.pk, order.version).verified_by == both


def test_a_nurse_cannot_verify(users: dict[str, Any], patient: Any) -> None:
    """Requirement 16: a nurse cannot perform the pharmacist's verification."""
    order = _orders(courses.prescribe(users["prescriber"], patient.pk, INDUCTION))[0]
    with pytest.raises(Forbidden):
        orders.verify(users["nurse"], order.pk, order.version, dose_g=85.0, volume_ml=850.0)
    assert Order.objects.get(pk=order.pk).status == "planned"
