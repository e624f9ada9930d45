"""Plan once per request (issue 15): ``courses.prescribe`` saves the preview the request has just
shown (``shown``) without planning or serializing it again, but only when the inputs it reads
under the patient lock and the drug library in service are those the preview was made from;
otherwise it plans again, so the cap and the library version are checked as before."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from ivig.errors import CapExceeded
from ivig.records.models import Order
from ivig.records.services import courses
from ivig.records.services.patients import add_weight

TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
START = TODAY + dt.timedelta(days=5)
INDUCTION = courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                                place="hospital", start=START, days=2)  # fmt: skip


def _fresh(patient: Any, course: Any) -> dict[str, Any]:
    """The core's plan for the course's stored inputs now, the course itself left out."""
    plan = courses.plan_for(patient, courses.course_input(course.regimen), exclude_course=course.pk)
    return plan.as_dict()


def test_the_preview_shown_is_saved_without_planning_again(
    users: dict[str, Any], patient: Any, plan_work: dict[str, int]
) -> None:
    shown = courses.preview(patient, INDUCTION)
    assert shown.document is shown.document  # made once
    course = courses.prescribe(users["prescriber"], patient.pk, INDUCTION, shown=shown)
    assert plan_work == {"plans": 1, "documents": 1}
    assert course.plan == shown.document == _fresh(patient, course)
    orders = Order.objects.filter(course=course).order_by("sequence")
    assert [(o.date, o.dose_g, o.steps) for o in orders] == [
        (dt.date.fromisoformat(d["date"]), d["dose_g"], d["steps"]) for d in course.plan["doses"]
    ]


def test_without_a_preview_prescribing_plans_and_serializes_once(
    users: dict[str, Any], patient: Any, plan_work: dict[str, int]
) -> None:
    courses.prescribe(users["prescriber"], patient.pk, INDUCTION)
    assert plan_work == {"plans": 1, "documents": 1}


def test_a_weight_recorded_after_the_preview_is_planned_again(
    users: dict[str, Any], patient: Any, plan_work: dict[str, int]
) -> None:
    shown = courses.preview(patient, INDUCTION)
    add_weight(users["nurse"], patient.pk, TODAY, 90.0, today=TODAY)  # 86.4 kg before: 4 %
    course = courses.prescribe(users["prescriber"], patient.pk, INDUCTION, shown=shown)
    assert plan_work["plans"] == 2
    assert course.plan == _fresh(patient, course) != shown.document
    assert course.plan["dosing_weight"]["actual_kg"] == 90.0


def test_a_course_saved_after_the_preview_counts_toward_the_cap(
    users: dict[str, Any], patient: Any
) -> None:
    shown = courses.preview(patient, INDUCTION)  # 2 g/kg: under the cap on its own
    courses.prescribe(users["prescriber"], patient.pk, INDUCTION)  # another tab, meanwhile
    with pytest.raises(CapExceeded):
        courses.prescribe(users["prescriber"], patient.pk, INDUCTION, shown=shown)


def test_a_library_changed_after_the_preview_is_planned_again(
    users: dict[str, Any], patient: Any, library: Callable[..., str], plan_work: dict[str, int]
) -> None:
    shown = courses.preview(patient, INDUCTION)
    library("2027.1.0")
    course = courses.prescribe(users["prescriber"], patient.pk, INDUCTION, shown=shown)
    assert plan_work["plans"] == 2
    assert shown.plan.catalogue_version != "2027.1.0"
    assert course.catalogue_version == course.plan["catalogue_version"] == "2027.1.0"
    assert {o.catalogue_version for o in course.orders.all()} == {"2027.1.0"}
