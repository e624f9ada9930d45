"""The API's course-level verification and dispensing (issue 16 item 15), every lot problem
returned at once (item 12)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from ivig.records.models import Course, Order
from ivig.records.services import courses


@pytest.fixture
def course(users: dict[str, Any], patient: Any, today: dt.date) -> Course:
    return courses.prescribe(
        users["prescriber"],
        patient.pk,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=today + dt.timedelta(days=3), days=5),
    )  # fmt: skip


def _shown(course: Course) -> list[dict[str, Any]]:
    return [
        {"order_id": o.pk, "version": o.version, "dose_g": o.dose_g, "volume_ml": o.volume_ml}
        for o in Order.objects.filter(course=course).order_by("date")
    ]


def test_verify_and_dispense_a_course_through_the_api(
    client_for: Callable[[str | None], Client], course: Course, today: dt.date
) -> None:
    pharmacist = client_for("pharmacist")
    url = f"/api/courses/{course.pk}"
    verified = pharmacist.post(f"{url}/verify", {"orders": _shown(course)}, "application/json")
    assert verified.status_code == 200, verified.content
    assert [o["status"] for o in verified.json()] == ["verified"] * 5
    early = str(today + dt.timedelta(days=3))  # day 1: expired for days 2-5
    lots = [
        {"lot_number": "P20", "expiry": early, "vial_size_g": 20, "product_id": "privigen-us"},
        {"lot_number": "P10", "expiry": early, "vial_size_g": 10, "product_id": "octagam-5"},
        {"lot_number": "P5", "expiry": early, "vial_size_g": 5, "product_id": "privigen-us"},
    ]
    body = {"orders": _shown(course), "lots": lots}
    refused = pharmacist.post(f"{url}/dispense", body, "application/json")
    assert refused.status_code == 422
    errors = refused.json()["error"]["details"]["errors"]
    assert len(errors) >= 5 + 4 * 3  # every dose's wrong product, and days 2-5's expired lots
    assert {e["row"] for e in errors} == {1, 2, 3}
    good = str(today + dt.timedelta(days=400))
    body["lots"] = [dict(lot, expiry=good, product_id="privigen-us") for lot in lots]
    done = pharmacist.post(f"{url}/dispense", body, "application/json")
    assert done.status_code == 200, done.content
    assert [o["status"] for o in done.json()] == ["dispensed"] * 5


def test_premedication_and_the_decision_through_the_api(
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    dispensed: Order,
    start_chair: Any,
    now: dt.datetime,
) -> None:
    """Issue 16 item 6: a reaction on day 1, the decision (capped), premedication for the rest
    of the course, given; day 2 reads them all, with the cap."""
    from ivig.records.services import infusions

    start = now - dt.timedelta(hours=2)
    start_chair(dispensed, start, now=now)
    version = Order.objects.get(pk=dispensed.pk).session.version
    reaction = infusions.record_reaction(
        users["nurse"], dispensed.pk, version, start + dt.timedelta(minutes=10), ["headache"],
        "pump paused", now=now,
    )  # fmt: skip
    prescriber, nurse = client_for("prescriber"), client_for("nurse")
    decided = prescriber.post(
        f"/api/reactions/{reaction.pk}/decision", {"ramp": "capped"}, "application/json"
    )
    assert decided.status_code == 200, decided.content
    cap = decided.json()["max_ml_per_h"]
    premed = {"medicine": "cetirizine", "dose": "10 mg", "route": "oral", "timing": "1 h before"}
    ordered = prescriber.post(
        f"/api/courses/{dispensed.course_id}/premedication", premed, "application/json"
    )
    assert ordered.status_code == 200, ordered.content
    assert nurse.post(f"/api/courses/{dispensed.course_id}/premedication", premed,
                      "application/json").status_code == 403  # fmt: skip
    given = nurse.post(
        f"/api/orders/{dispensed.pk}/premedication/given",
        {"premedication_id": ordered.json()["id"], "at": start.isoformat()},
        "application/json",
    )
    assert given.status_code == 200, given.content
    day2 = dispensed.course.orders.get(sequence=2)
    read = nurse.get(f"/api/orders/{day2.pk}/premedication").json()
    assert read["cap_ml_per_h"] == cap
    assert read["last_reaction"]["reaction_id"] == reaction.pk
    assert read["last_reaction"]["decision"]["ramp"] == "capped"
    assert [p["medicine"] for p in read["ordered"]] == ["cetirizine"]
    assert read["given"] == []  # given on day 1, not day 2


def test_a_course_takes_one_size_from_two_lots_through_the_api(
    client_for: Callable[[str | None], Client], course: Course, today: dt.date
) -> None:
    """Smallfix item 4: the first 20 g lot gives 2 vials (its count), the second the rest."""
    pharmacist = client_for("pharmacist")
    url = f"/api/courses/{course.pk}"
    verified = pharmacist.post(f"{url}/verify", {"orders": _shown(course)}, "application/json")
    assert verified.status_code == 200
    good = str(today + dt.timedelta(days=400))
    typed = {"expiry": good, "product_id": "privigen-us"}
    lots = [
        {"lot_number": "A20", "vial_size_g": 20, "count": 2, **typed},
        {"lot_number": "B20", "vial_size_g": 20, **typed},
        {"lot_number": "P10", "vial_size_g": 10, **typed},
        {"lot_number": "P5", "vial_size_g": 5, **typed},
    ]
    body = {"orders": _shown(course), "lots": lots}
    without = pharmacist.post(
        f"{url}/dispense", {**body, "lots": [dict(lots[0], count=None), *lots[1:]]},
        "application/json",
    )  # fmt: skip
    assert without.status_code == 422
    assert without.json()["error"]["details"]["errors"][0]["column"] == "count"
    done = pharmacist.post(f"{url}/dispense", body, "application/json")
    assert done.status_code == 200, done.content
    twenties = [[x["lot_number"] for x in o["lots"] if x["vial_size_g"] == 20] for o in done.json()]
    assert twenties == [["A20"], ["A20"], ["B20"], ["B20"], ["B20"]]
