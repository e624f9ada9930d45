"""Shared set-up of the API access, bad-input and token tests: orders in each state of a day
at the chair, and a snapshot of every table to prove a refused request wrote nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone


@dataclass(frozen=True)
class Day:
    """A second patient's induction course (5 days from today) with its orders in the states
    the write endpoints need: ``running`` (today's, infusion started an hour ago),
    ``verified`` (day 2) and ``planned`` (day 3)."""

    patient: Any
    course: Any
    running: Any
    verified: Any
    planned: Any
    started_at: dt.datetime


def lots_for(order: Any, *, lot: str = "L1", expiry: str = "2099-12-31") -> list[dict[str, Any]]:
    """Lots holding exactly the vials of ``order``."""
    return [
        {
            "lot_number": f"{lot}-{i}",
            "expiry": expiry,
            "vial_size_g": v["size_g"],
            "count": v["count"],
            "product_id": order.course.product_id,
        }
        for i, v in enumerate(order.vials, start=1)
    ]


@pytest.fixture
def day(users: dict[str, Any], patient: Any, make_patient: Callable[..., Any]) -> Day:
    from ivig.records.services import courses, infusions, orders

    prescriber, pharmacist, nurse = users["prescriber"], users["pharmacist"], users["nurse"]
    today = timezone.localdate()
    now = timezone.now()
    second = make_patient(
        165,
        70,
        weighed=today,
        mrn="MRN0002",
        family_name="Rooke",
        given_name="Mary",
        date_of_birth=dt.date(1970, 2, 3),
        sex="female",
    )
    course = courses.prescribe(
        prescriber,
        second.pk,
        courses.CourseInput(
            indication="lems",
            phase="induction",
            product="privigen-us",
            place="hospital",
            start=today,
            days=5,
        ),
    )
    first, day2, day3 = course.orders.order_by("sequence")[:3]
    # an hour ago, but never before the order's day (local midnight: requirement 35), and
    # after the verification, the dispensing and the check (issue 14 item 7)
    midnight = dt.datetime.combine(today, dt.time(0), tzinfo=timezone.get_current_timezone())
    started = max(now - dt.timedelta(hours=1), midnight)
    prepared = started - dt.timedelta(minutes=30)
    for order in (first, day2):
        orders.verify(pharmacist, order.pk, order.version, now=prepared)
        order.refresh_from_db()
    orders.dispense(
        pharmacist,
        first.pk,
        first.version,
        [orders.LotInput(**{**lot, "expiry": dt.date(2099, 12, 31)}) for lot in lots_for(first)],
        now=prepared,
    )
    first.refresh_from_db()
    infusions.pre_check(
        nurse,
        first.pk,
        infusions.CheckAnswers(infection=False, fever=False, feeling_unwell=False, hydrated=True),
        now=started,
    )
    baseline = infusions.VitalsInput(pulse_per_min=74, systolic_mm_hg=124)
    infusions.record_vitals(nurse, first.pk, started, baseline, now=now)  # issue 16 item 7
    infusions.start_infusion(
        nurse, first.pk, first.version, started, visual_inspection_ok=True, now=now
    )
    for order in (first, day2, day3):
        order.refresh_from_db()
    assert (first.status, day2.status, day3.status) == ("in-progress", "verified", "planned")
    course.refresh_from_db()
    second.refresh_from_db()
    return Day(second, course, first, day2, day3, started)


def _tables() -> list[Any]:
    from django.contrib.auth.models import Group, User

    from ivig.records import models as m

    return [
        User,
        Group,
        m.ApiToken,
        m.AuditEvent,
        m.Patient,
        m.WeightRecord,
        m.Eligibility,
        m.Course,
        m.Order,
        m.Lot,
        m.InfusionSession,
        m.RateChange,
        m.Vitals,
        m.Reaction,
        m.Outcome,
        m.PrescriberTask,
        m.LimitEvent,
        m.Unit,  # issue 18
        m.Chair,
        m.OpeningHours,
        m.Booking,
    ]


def _state() -> dict[str, Any]:
    """Every table's row count, and each versioned row's version and status."""
    from django.contrib.auth.models import User

    from ivig.records import models as m
    from ivig.records.services.signin import ACCESS_ACTIONS

    out: dict[str, Any] = {t.__name__: t.objects.count() for t in _tables()}
    # signing in and the refusal itself are audited (issue 17 item 13); nothing else may be
    out["AuditEvent"] = m.AuditEvent.objects.exclude(action__in=ACCESS_ACTIONS).count()
    out["versions"] = {
        t.__name__: sorted(t.objects.values_list("pk", "version"))
        for t in (m.Patient, m.Eligibility, m.Course, m.Order, m.InfusionSession)
    }
    out["orders"] = sorted(m.Order.objects.values_list("pk", "status"))
    out["tokens"] = sorted(m.ApiToken.objects.values_list("pk", "revoked_at"))
    out["users"] = sorted(
        (u.pk, u.is_active, tuple(sorted(u.groups.values_list("name", flat=True))))
        for u in User.objects.all()
    )
    return out


@pytest.fixture
def db_state(db: None) -> Callable[[], dict[str, Any]]:
    """``db_state()``: a snapshot to compare before and after a refused request."""
    return _state
