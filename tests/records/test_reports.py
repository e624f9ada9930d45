"""The safety report (requirements 57 and 61): infusions within the library, overrides per 100
infusions by user and unit, hard-stop attempts by rule, late checkpoints; each figure with its
numerator and denominator. Seeded rows give exact expected figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from ivig.errors import Forbidden, InvalidInput
from ivig.records.models import Course, InfusionSession, LimitEvent, Order, Vitals
from ivig.records.services import reports

# The report's period: the 30 days up to yesterday, the suite's date (tests/conftest.py).
NOW = timezone.now()  # the suite's moment (TEST_NOW), the day after the period
END = timezone.localdate() - dt.timedelta(days=1)
START = END - dt.timedelta(days=29)


def _day(n: int) -> dt.date:
    """The period's day ``n`` (0: its first, -31: 31 days before it)."""
    return START + dt.timedelta(days=n)


# One 60-minute step, 20 minutes' observation: checkpoints at 0, 15, 60 and 80 minutes.
STEPS = [
    {"start_min": 0, "end_min": 60, "rate_ml_per_h": 100, "rate_mg_per_kg_per_min": 1,
     "volume_ml": 100, "basis": "label"},
]  # fmt: skip


def _local(day: dt.date, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _infusion(users: dict[str, Any], patient: Any, place: str, day: dt.date,
              vitals_minutes: list[int]) -> Order:  # fmt: skip
    """An order of a course given at ``place``, infused on ``day`` from 09:00 to 10:00 and
    observed 20 minutes, with vital signs at the given minutes."""
    course = Course.objects.create(
        patient=patient, indication="lems", phase="maintenance", product_id="privigen-us",
        place=place, start=day, regimen={}, catalogue_version="test",
        plan={"dosing_weight": {"kg": 85, "basis": "adjusted"}}, prescribed_by=users["prescriber"],
    )  # fmt: skip
    order = Order.objects.create(
        course=course, patient=patient, sequence=1, date=day, prescribed_g=10, dose_g=10,
        vials=[], volume_ml=100, steps=STEPS, status="completed",
    )  # fmt: skip
    started = _local(day)
    session = InfusionSession.objects.create(
        order=order, state="closed", started_at=started, started_by=users["nurse"],
        ended_at=started + dt.timedelta(minutes=60), observation_minutes=20,
        observation_ended_at=started + dt.timedelta(minutes=80),
    )  # fmt: skip
    for minute in vitals_minutes:
        Vitals.objects.create(
            session=session, at=started + dt.timedelta(minutes=minute), pulse_per_min=80,
            recorded_by=users["nurse"],
        )  # fmt: skip
    return order


def _event(users: dict[str, Any], who: str, kind: str, rule: str, order: Order | None,
           at: dt.datetime, patient: Any) -> None:  # fmt: skip
    event = LimitEvent.objects.create(
        user=users[who], kind=kind, rule=rule, message=rule, entity="rate", patient=patient,
        order=order, catalogue_version="test",
    )  # fmt: skip
    LimitEvent.objects.filter(pk=event.pk).update(at=at)  # the time it happened


@pytest.fixture
def seeded(users: dict[str, Any], patient: Any) -> dict[str, Order]:
    """Three infusions in the period (A and C in hospital, B in the infusion centre) and one
    a month before it (D); limit events on A, B, D, and two not tied to an order."""
    a = _infusion(users, patient, "hospital", _day(9), [0, 15, 60, 80])
    b = _infusion(users, patient, "infusion-centre", _day(10), [0, 40])
    c = _infusion(users, patient, "hospital", _day(11), [0, 20, 60, 80])
    d = _infusion(users, patient, "hospital", _day(-31), [])
    during = _local(_day(10), 10)  # B's day
    _event(users, "prescriber", "soft", "above-usual-dose", a, during, patient)
    _event(users, "nurse", "soft", "above-plan-ceiling", b, during, patient)
    _event(users, "prescriber", "soft", "product-switch", b, during, patient)
    _event(users, "prescriber", "soft", "above-usual-dose", None, during, patient)
    _event(users, "nurse", "hard", "label-maximum", b, during, patient)
    _event(users, "prescriber", "hard", "rolling-cap", None, during, patient)
    before = _local(_day(-31), 10)  # D's day
    _event(users, "nurse", "hard", "tenfold", d, before, patient)
    _event(users, "nurse", "soft", "above-plan-ceiling", d, before, patient)
    return {"a": a, "b": b, "c": c, "d": d}


def test_the_figures_with_their_numerators_and_denominators(
    users: dict[str, Any], seeded: dict[str, Order]
) -> None:
    """Requirement 57: every figure exact, each with numerator and denominator."""
    report = reports.safety_report(users["pharmacist"], start=START, end=END, now=NOW)
    assert report["infusions"] == 3  # A, B, C (D is before the period)
    # only C met no limit: A has an override, B an override and a hard stop
    assert report["within_library"] == {
        "numerator": 1, "denominator": 3, "value": 33.3, "scale": "%",
    }  # fmt: skip
    # four overrides in the period (one not tied to an infusion) over three infusions
    assert report["overrides"] == {
        "numerator": 4, "denominator": 3, "value": 133.3, "scale": "per 100 infusions",
    }  # fmt: skip
    assert [(u["user"], u["numerator"], u["denominator"], u["value"])
            for u in report["overrides_by_user"]] == [
        ("prescriber", 3, 3, 100.0), ("nurse", 1, 3, 33.3),
    ]  # fmt: skip
    assert [(u["unit"], u["numerator"], u["denominator"], u["value"])
            for u in report["overrides_by_unit"]] == [
        ("hospital", 1, 2, 50.0),  # A's override, over A and C
        ("infusion-centre", 2, 1, 200.0),  # B's two, over B
        (reports.NO_UNIT, 1, 0, None),  # at prescribing: no infusion, no rate
    ]  # fmt: skip
    hard = report["hard_stops"]
    assert (hard["numerator"], hard["denominator"], hard["value"]) == (2, 3, 66.7)
    assert hard["by_rule"] == [
        {"rule": "label-maximum", "count": 1}, {"rule": "rolling-cap", "count": 1},
    ]  # fmt: skip


def test_late_checkpoints_are_counted(users: dict[str, Any], seeded: dict[str, Order]) -> None:
    """Requirement 61: A's four checkpoints on time, C's at 20 minutes (5 after the 15-minute
    checkpoint, within the window), B's 15, 60 and 80-minute checkpoints never recorded (its
    40-minute recording is 25 minutes late for the 15-minute one): 3 of 12 late."""
    report = reports.safety_report(users["admin"], start=START, end=END, now=NOW)
    assert report["late_checkpoints"] == {
        "numerator": 3, "denominator": 12, "value": 25.0, "scale": "%", "window_minutes": 15,
    }  # fmt: skip


def test_checkpoints_not_yet_due_are_not_counted(
    users: dict[str, Any], seeded: dict[str, Order]
) -> None:
    """Requirement 61: at 09:50 on B's day, B's 60 and 80-minute checkpoints have not come:
    only its 0 (done) and 15 (overdue) count."""
    day = _day(10)  # B's
    report = reports.safety_report(
        users["admin"], start=day, end=day, now=_local(day) + dt.timedelta(minutes=50)
    )
    late = report["late_checkpoints"]
    assert (late["numerator"], late["denominator"]) == (1, 2)


def test_an_empty_period_has_no_made_up_figures(users: dict[str, Any], patient: Any) -> None:
    report = reports.safety_report(users["admin"], start=START, end=END, now=NOW)
    assert report["infusions"] == 0
    assert report["within_library"]["value"] is None
    assert report["overrides"] == {
        "numerator": 0, "denominator": 0, "value": None, "scale": "per 100 infusions",
    }  # fmt: skip
    assert report["late_checkpoints"]["value"] is None


def test_only_the_admin_and_the_pharmacist(users: dict[str, Any]) -> None:
    for role in ("nurse", "prescriber"):
        with pytest.raises(Forbidden):
            reports.safety_report(users[role], start=START, end=END)
    with pytest.raises(InvalidInput) as caught:
        reports.safety_report(users["admin"], start=END, end=START)
    assert caught.value.field == "end"
