"""Concurrent writers: two prescriptions that would together break the 28-day cap (exactly one
succeeds), and two pharmacists verifying the same order (exactly one succeeds). Real commits,
real connections, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from ivig.errors import CapExceeded, Conflict
from ivig.records import audit
from ivig.records.models import LimitEvent, Order
from ivig.records.services import courses, orders
from ivig.records.services.accounts import create_user
from ivig.records.services.limits import Override
from ivig.records.services.patients import PatientInput, add_weight, create_patient

TODAY = timezone.localdate()  # the suite's date (tests/conftest.py, TEST_NOW)
START = TODAY + dt.timedelta(days=5)
PASSWORD = "infusion-chair-42-Xq"
# 1.2 g/kg is not the usual 2 g/kg induction: a soft limit, overridden by the prescriber.
OVERRIDE = Override("prescriber-order", "a shorter induction for this patient", PASSWORD)


def _setup() -> tuple[dict[str, Any], Any]:
    users = {r: create_user(None, r, PASSWORD, [r], system=True)
             for r in ("prescriber", "pharmacist")}  # fmt: skip
    patient = create_patient(
        users["prescriber"],
        PatientInput(mrn="RACE1", family_name="Race", given_name="Ann",
                     date_of_birth=dt.date(1960, 1, 1), sex="female", height_cm=165),
        today=TODAY,
    )  # fmt: skip
    add_weight(users["prescriber"], patient.pk, TODAY, 70, today=TODAY)
    return users, patient


def test_two_prescriptions_cannot_together_break_the_cap(
    live_records: None, race: Callable[..., list[Any]]
) -> None:
    users, patient = _setup()
    # each course alone is 1.2 g/kg; together 2.4 g/kg in the same 28 days
    one = courses.CourseInput(indication="lems", phase="induction", product="gamunex-c",
                              place="hospital", start=START, days=2,
                              total_g_per_kg=1.2)  # fmt: skip
    two = courses.CourseInput(indication="lems", phase="induction", product="gamunex-c",
                              place="hospital", start=START + dt.timedelta(days=9), days=2,
                              total_g_per_kg=1.2)  # fmt: skip
    results = race(
        lambda: courses.prescribe(users["prescriber"], patient.pk, one, override=OVERRIDE),
        lambda: courses.prescribe(users["prescriber"], patient.pk, two, override=OVERRIDE),
    )
    made = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(made) == 1, results
    assert len(refused) == 1
    assert isinstance(refused[0], CapExceeded), refused[0]
    assert Order.objects.filter(patient=patient).count() == 2
    # the refusal is counted once (a hard stop), the saved one's override once (a soft limit)
    assert LimitEvent.objects.filter(kind="hard", rule="rolling-cap").count() == 1
    assert LimitEvent.objects.filter(kind="soft").count() == 1
    assert audit.verify_chain().ok


def test_two_verifications_of_one_order(live_records: None, race: Callable[..., list[Any]]) -> None:
    users, patient = _setup()
    other = create_user(None, "pharmacist2", "infusion-chair-42-Xq", ["pharmacist"], system=True)
    course = courses.prescribe(
        users["prescriber"], patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="gamunex-c",
                            place="hospital", start=START, days=2),
    )  # fmt: skip
    order = course.orders.order_by("sequence").first()
    assert order is not None
    results = race(
        lambda: orders.verify(users["pharmacist"], order.pk, order.version),
        lambda: orders.verify(other, order.pk, order.version),
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert any(isinstance(r, Conflict) for r in results)
    assert Order.objects.get(pk=order.pk).version == order.version + 1
    assert audit.verify_chain().ok
