"""The plan's infusion history from the record (issue 14, items 6 and 9): whether this is a
first infusion, the product and date of the last infusion, and whether it was tolerated, read
from the infusions given before the course starts, never typed in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ivig.records.models import InfusionSession, Order, OrderStatus, Reaction
from ivig.records.services import courses

pytestmark = pytest.mark.django_db


def _course(product: str, start: dt.date) -> courses.CourseInput:
    return courses.CourseInput(
        indication="lems", phase="induction", product=product, place="hospital", start=start,
        days=2,
    )  # fmt: skip


def _given(users: dict[str, Any], patient: Any, product: str, today: dt.date) -> Order:
    """Day 1 of a course of ``product`` started today, given and completed."""
    course = courses.prescribe(users["prescriber"], patient.pk, _course(product, today))
    order = course.orders.order_by("sequence").first()
    assert order is not None
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.completed)
    return Order.objects.get(pk=order.pk)


def _react(users: dict[str, Any], order: Order) -> None:
    session = InfusionSession.objects.create(order=order, state="closed", started_at=timezone.now())
    Reaction.objects.create(
        session=session, at=timezone.now(), symptoms={"headache": "mild"}, severity="mild",
        recommended={}, action_taken="slowed", recorded_by=users["nurse"],
    )  # fmt: skip


def _first_starts(plan: Any) -> float:
    return float(plan.doses[0].steps[0].rate_mg_per_kg_per_min)


def test_no_infusion_given_is_a_first_infusion(patient: Any, today: dt.date) -> None:
    plan = courses.plan_for(patient, _course("gammaplex-10", today))
    codes = {f.code for f in plan.findings}
    assert "first-infusion" in codes
    assert "product-switch" not in codes
    assert _first_starts(plan) == 0.5


def test_a_switch_is_read_from_the_record(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    _given(users, patient, "privigen-us", today)
    plan = courses.plan_for(patient, _course("gammaplex-10", today + dt.timedelta(days=40)))
    codes = {f.code for f in plan.findings}
    assert "first-infusion" not in codes  # never "first infusion" and "switch" together
    assert "product-switch" in codes
    # Gammaplex 10% starts at its lowest rate after a switch (issue 14, item 6)
    assert _first_starts(plan) == 0.5
    why = next(f.message for f in plan.findings if f.code == "lowest-start-rate")
    assert "product switch from Privigen (US)" in why


def test_a_tolerated_infusion_of_the_same_product_allows_the_later_start(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    given = _given(users, patient, "gammaplex-10", today)
    later = _course("gammaplex-10", today + dt.timedelta(days=40))
    # gammaplex.com protocol: "patients who tolerated the first infusion ... could begin
    # subsequent infusions at 0.01 mL/kg/min" (1 mg/kg/min)
    assert _first_starts(courses.plan_for(patient, later)) == 1.0
    _react(users, given)
    plan = courses.plan_for(patient, later)
    assert _first_starts(plan) == 0.5
    why = next(f.message for f in plan.findings if f.code == "lowest-start-rate")
    assert "a reaction was recorded at the last infusion" in why


def test_only_infusions_before_the_start_are_history(
    users: dict[str, Any], patient: Any, today: dt.date
) -> None:
    _given(users, patient, "privigen-us", today)
    # A course starting before the infusion given today: that infusion is not its history
    plan = courses.plan_for(patient, _course("gammaplex-10", today - dt.timedelta(days=60)))
    codes = {f.code for f in plan.findings}
    assert "first-infusion" in codes
    assert "product-switch" not in codes
