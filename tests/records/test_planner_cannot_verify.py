"""Whoever planned an order's numbers cannot verify it (issue 17 item 6; requirement 16,
ASVS 4.0.3 4.3.3): the course's prescriber, and the last user to re-plan it, on the service,
the API and the pages, one order at a time or the whole course."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from ivig.errors import Forbidden
from ivig.records import migrations
from ivig.records.models import Course, Order
from ivig.records.services import courses, orders
from ivig.records.services.accounts import create_user

PASSWORD = "infusion-chair-42-Xq"


def _induction() -> courses.CourseInput:
    return courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                               place="hospital", start=timezone.localdate() + dt.timedelta(days=5),
                               days=2)  # fmt: skip


@pytest.fixture
def replanned(users: dict[str, Any], patient: Any) -> tuple[Course, Any]:
    """The issue's reproduction: prescriber A prescribes, B (prescriber and pharmacist)
    re-plans A's course; the course and B."""
    both = create_user(None, "dr.both", PASSWORD, ["prescriber", "pharmacist"], system=True)
    course = courses.prescribe(users["prescriber"], patient.pk, _induction())
    courses.replan(both, course.pk, course.version, "weight checked again")
    course.refresh_from_db()
    return course, both


def _first(course: Course) -> Order:
    first = course.orders.order_by("sequence").first()
    assert first is not None
    return first


def _shown(order: Order) -> dict[str, Any]:
    return {"version": order.version, "dose_g": order.dose_g, "volume_ml": order.volume_ml}


def test_who_replanned_an_order_cannot_verify_it(
    users: dict[str, Any], replanned: tuple[Course, Any]
) -> None:
    course, both = replanned
    order = _first(course)
    with pytest.raises(Forbidden, match="you re-planned") as caught:
        orders.verify(both, order.pk, order.version, dose_g=order.dose_g,
                      volume_ml=order.volume_ml)  # fmt: skip
    assert "segregation of duties" in caught.value.message
    assert Order.objects.get(pk=order.pk).status == "planned"
    assert orders.verify(users["pharmacist"], order.pk, order.version).status == "verified"


def test_who_replanned_a_course_cannot_verify_the_course(
    users: dict[str, Any], replanned: tuple[Course, Any]
) -> None:
    course, both = replanned
    shown = [orders.Shown(o.pk, o.version, o.dose_g, o.volume_ml) for o in course.orders.all()]
    with pytest.raises(Forbidden, match="you re-planned"):
        orders.verify_course(both, course.pk, shown)
    assert set(course.orders.values_list("status", flat=True)) == {"planned"}
    done = orders.verify_course(users["pharmacist"], course.pk, shown)
    assert {o.status for o in done} == {"verified"}


def test_a_later_replan_by_someone_else_frees_the_earlier_planner(
    users: dict[str, Any], replanned: tuple[Course, Any]
) -> None:
    """The rule follows the author of the current numbers: once A re-plans again, B (who
    neither prescribed nor planned the numbers now on the order) may verify."""
    course, both = replanned
    courses.replan(users["prescriber"], course.pk, course.version, "checked again")
    order = _first(course)
    assert orders.verify(both, order.pk, order.version).verified_by == both


def test_the_api_refuses_the_replanner(
    client_for: Callable[[str | None], Client], replanned: tuple[Course, Any]
) -> None:
    course, both = replanned
    order = _first(course)
    client = Client()
    client.force_login(both)
    url = f"/api/orders/{order.pk}/verify"
    refused = client.post(url, json.dumps(_shown(order)), content_type="application/json")
    assert refused.status_code == 403
    assert "you re-planned" in refused.json()["error"]["message"]
    shown = {"orders": [{"order_id": o.pk, **_shown(o)} for o in course.orders.all()]}
    refused = client.post(f"/api/courses/{course.pk}/verify", json.dumps(shown),
                          content_type="application/json")  # fmt: skip
    assert refused.status_code == 403
    ok = client_for("pharmacist").post(url, json.dumps(_shown(order)),
                                       content_type="application/json")  # fmt: skip
    assert ok.status_code == 200, ok.content


def test_the_pages_refuse_the_replanner(
    client_for: Callable[[str | None], Client], replanned: tuple[Course, Any]
) -> None:
    course, both = replanned
    order = _first(course)
    client = Client()
    client.force_login(both)
    url = f"/pharmacy/orders/{order.pk}/verify/"
    assert "You re-planned this order" in client.get(url).content.decode()  # warned first
    course_url = f"/pharmacy/courses/{course.pk}/verify/"
    assert "You re-planned this course" in client.get(course_url).content.decode()
    refused = client.post(url, _shown(order))
    assert refused.status_code == 403
    assert "you re-planned" in refused.content.decode()
    posted: dict[str, Any] = {"order": [o.pk for o in course.orders.all()]}
    for o in course.orders.all():
        posted |= {f"version-{o.pk}": o.version, f"dose-{o.pk}": o.dose_g,
                   f"volume-{o.pk}": o.volume_ml}  # fmt: skip
    refused = client.post(course_url, posted)
    assert refused.status_code == 403
    assert "you re-planned" in refused.content.decode()
    assert Order.objects.get(pk=order.pk).status == "planned"
    assert client_for("pharmacist").post(url, _shown(order)).status_code == 302


def test_prescribing_and_replanning_store_who_planned_the_numbers(
    users: dict[str, Any], replanned: tuple[Course, Any]
) -> None:
    """``Order.planned_by``: the prescriber at prescribing, the re-planner at each re-plan;
    ``orders.planned_by`` reads it (no audit query)."""
    course, both = replanned
    assert set(course.orders.values_list("planned_by", flat=True)) == {both.pk}
    other = courses.prescribe(users["prescriber"], course.patient_id, _induction_later())
    assert set(other.orders.values_list("planned_by", flat=True)) == {users["prescriber"].pk}
    courses.replan(users["prescriber"], course.pk, course.version, "checked again")
    order = _first(course)
    assert order.planned_by == users["prescriber"]
    assert orders.planned_by(order) == users["prescriber"].pk


def test_the_migration_fills_planned_by_from_the_audit_trail(
    users: dict[str, Any], replanned: tuple[Course, Any]
) -> None:
    """0022: each order's newest ``replan`` event's actor, else the course's prescriber (as
    ``planned_by`` read the trail before the column)."""
    from django.apps import apps
    from django.db import connection

    course, both = replanned
    other = courses.prescribe(users["prescriber"], course.patient_id, _induction_later())
    Order.objects.update(planned_by=None)
    module = next(
        m.name for m in pkgutil.iter_modules(migrations.__path__) if m.name.endswith("_planned_by")
    )
    fill = importlib.import_module(f"{migrations.__name__}.{module}").from_audit
    fill(apps, SimpleNamespace(connection=connection, execute=connection.cursor().execute))
    assert set(course.orders.values_list("planned_by", flat=True)) == {both.pk}
    assert set(other.orders.values_list("planned_by", flat=True)) == {users["prescriber"].pk}


def _induction_later() -> courses.CourseInput:
    return courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                               place="hospital", start=timezone.localdate() + dt.timedelta(days=60),
                               days=2)  # fmt: skip
