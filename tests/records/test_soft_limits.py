"""Hard and soft limits at prescribing and re-planning (requirements 47, 48, 26), on the
services: a hard limit is refused for everyone and counted; a soft limit is saved only with an
override by a user allowed to, with a coded reason, a note and the password entered again, and
the override is audited with the limit, the value and the library version."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from ivig.core.library import packaged_library
from ivig.errors import CapExceeded, Forbidden, InvalidInput, OverrideRequired
from ivig.records.models import AuditEvent, Course, LimitEvent, Order
from ivig.records.services import courses
from ivig.records.services.accounts import create_user
from ivig.records.services.limits import Override
from ivig.records.services.patients import PatientInput, update_patient

PACKAGED = packaged_library().version  # the catalogue_version shipped

PASSWORD = "infusion-chair-42-Xq"  # tests/conftest.py
TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
START = TODAY + dt.timedelta(days=5)
INDUCTION = courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                                place="hospital", start=START, days=2)  # fmt: skip
# LEMS maintenance is usually 0.4-1.0 g/kg per infusion (indications.toml)
HIGH = courses.CourseInput(indication="lems", phase="maintenance", product="privigen-us",
                           place="hospital", start=START, dose_g_per_kg=1.2, every_weeks=4,
                           count=2)  # fmt: skip
SIGNED = Override("prescriber-order", "higher dose agreed at the neurology MDT", PASSWORD)


def _nothing_saved() -> None:
    assert Course.objects.count() == 0
    assert Order.objects.count() == 0


def test_a_usual_course_needs_no_override(users: dict[str, Any], patient: Any) -> None:
    """Requirement 47: inside the library's limits, nothing more is asked."""
    courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    assert not LimitEvent.objects.exists()


def test_a_dose_outside_the_usual_range_needs_an_override(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 47: refused without an override, listing the limit; nothing saved."""
    with pytest.raises(OverrideRequired) as caught:
        courses.prescribe(users["prescriber"], patient.pk, HIGH)
    assert caught.value.http_status == 422
    [limit] = caught.value.details["limits"]  # type: ignore[misc]
    assert limit["code"] == "dose-outside-usual-range"
    assert (limit["limit"], limit["value"], limit["unit"]) == (1.0, 1.2, "g/kg")
    _nothing_saved()
    assert not LimitEvent.objects.exists()


def test_a_signed_override_saves_it_and_is_audited(users: dict[str, Any], patient: Any) -> None:
    """Requirements 47, 26: saved with a coded reason, a note and the password; the override,
    the limit value and the library version are recorded with the user."""
    course = courses.prescribe(users["prescriber"], patient.pk, HIGH, override=SIGNED)
    assert course.orders.count() == 2
    event = LimitEvent.objects.get()
    assert event.kind == "soft"
    assert event.rule == "dose-outside-usual-range"
    assert (event.limit_value, event.attempted_value, event.unit) == (1.0, 1.2, "g/kg")
    assert event.catalogue_version == PACKAGED
    assert event.reason_code == "prescriber-order"
    assert event.reason_text == "higher dose agreed at the neurology MDT"
    assert event.user == users["prescriber"]
    assert event.patient_id == patient.pk
    assert event.entity == "course"
    audit_row = AuditEvent.objects.get(action="override")
    assert audit_row.entity == "limit"
    assert audit_row.entity_id == str(event.pk)
    assert audit_row.reason == "prescriber-order: higher dose agreed at the neurology MDT"
    assert audit_row.after["catalogue_version"] == PACKAGED
    assert audit_row.after["limit_value"] == 1.0
    assert PASSWORD not in str(audit_row.after)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        (Override("prescriber-order", "agreed at MDT", "not-my-password"), "password"),
        (Override("prescriber-order", "agreed at MDT", ""), "password"),
        (Override("prescriber-order", "   ", PASSWORD), "reason_text"),
        (Override("because", "agreed at MDT", PASSWORD), "reason_code"),
    ],
    ids=["wrong-password", "no-password", "no-note", "unknown-reason"],
)
def test_an_incomplete_override_is_refused_next_to_its_field(
    users: dict[str, Any], patient: Any, override: Override, field: str
) -> None:
    """Requirements 47, 26: a coded reason, a note and the right password, or nothing."""
    with pytest.raises(InvalidInput) as caught:
        courses.prescribe(users["prescriber"], patient.pk, HIGH, override=override)
    assert caught.value.field == field
    _nothing_saved()
    assert not LimitEvent.objects.exists()


def test_a_prescriber_without_the_override_permission_cannot_override(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 47: only a user holding the override permission may override."""
    permission = Permission.objects.get(codename="override_soft_limit")
    Group.objects.get(name="prescriber").permissions.remove(permission)
    junior = create_user(None, "dr.junior", PASSWORD, ["prescriber"], system=True)
    with pytest.raises(Forbidden):
        courses.prescribe(junior, patient.pk, HIGH, override=SIGNED)
    _nothing_saved()
    Group.objects.get(name="prescriber").permissions.add(permission)
    senior = create_user(None, "dr.senior", PASSWORD, ["prescriber"], system=True)
    courses.prescribe(senior, patient.pk, HIGH, override=SIGNED)


def test_a_blocking_finding_is_a_soft_limit(users: dict[str, Any], patient: Any) -> None:
    """Requirement 47: a blocking screening finding (IgA deficiency with anti-IgA) needs an
    override."""
    update_patient(
        users["prescriber"], patient.pk, patient.version,
        PatientInput(mrn=patient.mrn, family_name=patient.family_name,
                     given_name=patient.given_name, date_of_birth=patient.date_of_birth,
                     sex=patient.sex, height_cm=patient.height_cm,
                     iga_status="deficient-with-antibodies"),
        today=TODAY,
    )  # fmt: skip
    with pytest.raises(OverrideRequired) as caught:
        courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    codes = [limit["code"] for limit in caught.value.details["limits"]]  # type: ignore[attr-defined]
    assert "blocking-iga-deficiency" in codes


def test_a_product_switch_is_a_soft_limit(users: dict[str, Any], patient: Any) -> None:
    """Requirement 47: after an infusion of Privigen, a course of Gamunex-C needs an
    override."""
    first = courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    Order.objects.filter(course=first).update(status="completed")  # given (test set-up)
    switch = courses.CourseInput(
        indication="lems", phase="maintenance", product="gamunex-c", place="hospital",
        start=START + dt.timedelta(days=35), dose_g_per_kg=0.4, every_weeks=4, count=1,
    )  # fmt: skip
    with pytest.raises(OverrideRequired) as caught:
        courses.prescribe(users["prescriber"], patient.pk, switch)
    [limit] = caught.value.details["limits"]  # type: ignore[misc]
    assert limit["code"] == "product-switch"
    courses.prescribe(users["prescriber"], patient.pk, switch, override=SIGNED)
    assert LimitEvent.objects.get().rule == "product-switch"


def test_the_cap_is_a_hard_limit_no_override_passes_and_it_is_counted(
    users: dict[str, Any], patient: Any
) -> None:
    """Requirement 48: over the course or 28-day cap no one can save it, override or not;
    every attempt is counted (a LimitEvent and a hard-stop audit row with the limit, the value
    and the library version)."""
    over = courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                               place="hospital", start=START, days=2, total_g_per_kg=3)  # fmt: skip
    for override in (None, SIGNED):
        with pytest.raises(CapExceeded) as caught:
            courses.prescribe(users["prescriber"], patient.pk, over, override=override)
        assert caught.value.http_status == 422
    _nothing_saved()
    events = list(LimitEvent.objects.all())
    assert len(events) == 2
    event = events[0]
    assert event.kind == "hard"
    assert event.rule == "rolling-cap"
    assert event.entity == "course"
    assert (event.limit_value, event.attempted_value, event.unit) == (2.0, 3.0, "g/kg")
    assert event.catalogue_version == PACKAGED
    assert event.patient_id == patient.pk
    assert event.user == users["prescriber"]
    assert AuditEvent.objects.filter(action="hard-stop", entity="limit").count() == 2
    assert not AuditEvent.objects.filter(action="override").exists()


@pytest.mark.parametrize("role", ["pharmacist", "nurse", "admin"])
def test_no_other_role_prescribes_even_with_an_override(
    users: dict[str, Any], patient: Any, role: str
) -> None:
    """Requirements 47, 15: the role comes first; an override does not widen it."""
    with pytest.raises(Forbidden):
        courses.prescribe(users[role], patient.pk, HIGH, override=SIGNED)
    _nothing_saved()
    assert not LimitEvent.objects.exists()


def test_a_re_plan_holds_the_soft_limits_too(
    users: dict[str, Any], patient: Any, library: Callable[..., str]
) -> None:
    """Requirements 46, 47: a re-plan that still crosses a soft limit needs its own override."""
    course = courses.prescribe(users["prescriber"], patient.pk, HIGH, override=SIGNED)
    library("2026.12.0")
    with pytest.raises(OverrideRequired):
        courses.replan(users["prescriber"], course.pk, course.version, "new library")
    assert {o.catalogue_version for o in course.orders.all()} == {PACKAGED}
    courses.replan(users["prescriber"], course.pk, course.version, "new library", override=SIGNED)
    assert {o.catalogue_version for o in course.orders.all()} == {"2026.12.0"}
    versions = list(LimitEvent.objects.values_list("catalogue_version", flat=True))
    assert versions == [PACKAGED, "2026.12.0"]
