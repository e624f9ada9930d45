"""At the chair, the end and the observation (issue 5; requirement 63): its length from the
history, and the day closed only once it has run and is documented."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from at_the_chair import Chair

from ivig.errors import Conflict
from ivig.records.models import Order
from ivig.records.services import courses, infusions


@pytest.mark.parametrize("state", ["running", "paused", "stopped"])
def test_the_infusion_ends_from_running_paused_or_stopped(chair: Chair, state: str) -> None:
    """Requirement 63: the pump stops at the end (a stop row when it was running) and the
    observation starts."""
    if state == "paused":
        chair.reaction(10)
    elif state == "stopped":
        chair.reaction(10, "anaphylaxis")
    before = chair.rows()
    session = chair.end(60)
    assert (session.state, session.ended_at) == ("ended", chair.at(60))
    added = chair.rows()[len(before) :]
    assert added == ([("stop", 0)] if state == "running" else [])
    with pytest.raises(Conflict):
        chair.rate(70, 25.5)


def _history(order: Order, users: dict[str, Any], *, days_ago: int, product: str) -> None:
    """A completed induction for the same patient ``days_ago`` days before the order (2 days:
    the last infusion ``days_ago - 1`` days before), given with ``product``."""
    course = courses.prescribe(
        users["prescriber"], order.patient_id,
        courses.CourseInput(indication="lems", phase="induction", product="privigen-us",
                            place="hospital", start=order.date - dt.timedelta(days=days_ago),
                            days=2),
    )  # fmt: skip
    course.orders.update(status="completed")  # the history, as given
    type(course).objects.filter(pk=course.pk).update(product_id=product)


def _close(chair: Chair, minute: float, notes: str = "") -> Any:
    version = Order.objects.get(pk=chair.order.pk).version
    return infusions.finish_observation(
        chair.users["nurse"], chair.order.pk, version, chair.at(minute), notes, now=chair.now
    )


@pytest.mark.parametrize(
    ("history", "minutes", "reason"),
    [
        (None, 60, "first infusion"),
        ((30, "gamunex-c"), 60, "product switch"),
        ((64, "privigen-us"), 60, "63 days since the last infusion"),
        ((30, "privigen-us"), 20, "after every infusion"),
    ],
    ids=["first-infusion", "product-switch", "nine-week-gap", "usual"],
)
def test_the_observation_length_comes_from_the_history(
    users: dict[str, Any],
    dispensed: Order,
    start_chair: Callable[..., Any],
    chair_now: dt.datetime,
    history: tuple[int, str] | None,
    minutes: int,
    reason: str,
) -> None:
    """Requirement 63: 60 minutes after a first infusion, a product switch or a gap of more than
    8 weeks (here 9), 20 otherwise, computed from the recorded history; the day closes only
    after the full period."""
    if history is not None:
        _history(dispensed, users, days_ago=history[0], product=history[1])
    assert reason in infusions.observation_for(Order.objects.get(pk=dispensed.pk)).reason
    start = chair_now - dt.timedelta(hours=5)
    start_chair(dispensed, start)
    chair = Chair(users, dispensed, start, chair_now)
    assert chair.end(200).observation_minutes == minutes
    with pytest.raises(Conflict, match=f"{minutes} minutes"):
        _close(chair, 200 + minutes - 1, "well")
    closed = _close(chair, 200 + minutes, "well; cannula out")
    assert closed.state == "closed"
    assert Order.objects.get(pk=dispensed.pk).status == "completed"


def test_the_observation_must_be_documented(chair: Chair) -> None:
    """Requirement 63: the day closes only once the observation is documented: a note, or vital
    signs recorded after the end (standing ones)."""
    chair.end(200)
    with pytest.raises(Conflict) as caught:
        _close(chair, 260, "  ")
    assert caught.value.field == "notes"
    chair.vitals(199)  # before the end: not the observation's
    with pytest.raises(Conflict, match="document"):
        _close(chair, 260)
    chair.vitals(255)
    assert _close(chair, 260).state == "closed"
