"""At the chair, the reaction state machine (issue 5; requirement 62): pause, resume at or
below the last tolerated rate, a stop for the day, a prescriber's restart order, and the
prescriber's task for protocol medicines."""

from __future__ import annotations

from typing import Any

import pytest
from at_the_chair import Chair, audit_count, hard_events

from ivig.core.monitoring import ReactionSeverity
from ivig.errors import Conflict, Forbidden, HardLimit, InvalidInput
from ivig.records.models import Order, PrescriberTask
from ivig.records.services import corrections, infusions


def test_any_reaction_pauses_the_pump(chair: Chair) -> None:
    """Requirement 62: a suspected reaction, even a mild one, pauses the infusion (a row at
    0 mL/h at the reaction's time); a rate change is then refused until it resumes. The rate
    the pump ran at is still known (pause rows are skipped)."""
    chair.up(30, 51)
    version = chair.version()
    reaction = chair.reaction(40, "headache")
    session = chair.session()
    assert (session.state, session.version) == ("paused", version + 1)
    assert chair.rows()[-1] == ("pause", 0)
    assert session.rate_changes.last().at == reaction.at
    assert reaction.recommended["last_tolerated_ml_per_h"] == 25.5
    with pytest.raises(Conflict, match="paused"):
        chair.rate(45, 25.5)
    assert infusions.current_rate(session) == 51
    assert infusions.last_tolerated_rate(session) == 25.5
    advice = infusions.reaction_advice(session, ReactionSeverity.mild)  # a second one: stop
    assert advice.action.value == "stop-no-restart"
    state = infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.now)
    assert (state.state, state.restart_max_ml_per_h) == ("paused", 25.5)


def test_a_restart_is_only_at_or_below_the_last_tolerated_rate(chair: Chair) -> None:
    """Requirement 62: after a pause, the pump restarts at or below the last tolerated rate; a
    higher restart is a hard stop (counted), and so is a later increase above it."""
    chair.up(30, 51)
    chair.reaction(40)
    with pytest.raises(HardLimit) as caught:
        chair.resume(50, 51)
    assert caught.value.rule == "above-last-tolerated"
    assert [e.rule for e in hard_events()] == ["above-last-tolerated"]
    assert chair.session().state == "paused"
    row = chair.resume(50, 25.5)
    assert (row.action, row.rate_ml_per_h, chair.session().state) == ("resume", 25.5, "running")
    chair.vitals(80)
    with pytest.raises(HardLimit, match="last tolerated"):
        chair.rate(80, 51)
    assert len(hard_events("above-last-tolerated")) == 2


def test_a_second_reaction_stops_the_day_until_a_prescriber_orders_a_restart(
    chair: Chair, users: dict[str, Any]
) -> None:
    """Requirement 62: a second reaction stops the infusion; it cannot restart the same day
    without a new prescriber order made after the stop, at or below the last tolerated rate,
    and the restart stays at or below that order's maximum."""
    chair.up(30, 51)
    chair.up(60, 102)
    chair.reaction(70)  # at 102: tolerated 51
    chair.resume(80, 51)
    second = chair.reaction(90, "nausea")  # at 51: now 25.5 is the last tolerated
    assert second.recommended["action"] == "stop-no-restart"
    assert second.recommended["last_tolerated_ml_per_h"] == 25.5
    assert chair.session().state == "stopped"
    assert chair.rows()[-1] == ("stop", 0)
    with pytest.raises(Conflict, match="new prescriber order"):
        chair.resume(100, 25.5)
    version = chair.version()
    with pytest.raises(Forbidden):
        infusions.order_restart(users["nurse"], chair.order.pk, version, "ok", 25.5, now=chair.now)
    with pytest.raises(InvalidInput):
        chair.restart_order(25.5, reason=" ")
    with pytest.raises(HardLimit) as caught:
        chair.restart_order(51)
    assert (caught.value.rule, caught.value.field) == ("above-last-tolerated", "max_rate_ml_per_h")
    session = chair.restart_order(25.5)
    assert (session.restart_order_by_id, session.restart_max_ml_per_h) == (
        users["prescriber"].pk,
        25.5,
    )
    state = infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.now)
    assert (state.state, state.restart_max_ml_per_h) == ("stopped", 25.5)
    with pytest.raises(HardLimit):
        chair.resume(100, 30)
    chair.resume(100, 25.5)
    assert chair.session().state == "running"
    chair.reaction(110)  # a third: stopped again; the earlier restart order no longer stands
    with pytest.raises(Conflict, match="new prescriber order"):
        chair.resume(120, 12)


def test_a_reaction_after_the_restart_order_voids_it(chair: Chair) -> None:
    """Requirement 62: a restart order stands only for the stop it answers: a reaction recorded
    after it (still stopped) needs a new order."""
    chair.reaction(10, "anaphylaxis")
    chair.restart_order(12)
    chair.reaction(20, "hives")
    assert chair.session().state == "stopped"
    with pytest.raises(Conflict, match="new prescriber order"):
        chair.resume(30, 12)
    chair.restart_order(12)
    assert chair.resume(30, 12).action == "resume"


def test_a_severe_reaction_stops_at_once(chair: Chair) -> None:
    """Requirement 62: a severe reaction, even the first, stops the infusion for the day."""
    reaction = chair.reaction(10, "wheeze")
    assert reaction.severity == "severe"
    assert chair.session().state == "stopped"
    assert chair.rows() == [("start", 25.5), ("stop", 0)]
    with pytest.raises(Conflict, match="new prescriber order"):
        chair.resume(20, 10)


def test_protocol_medicines_make_a_task_for_the_prescriber(
    chair: Chair, users: dict[str, Any]
) -> None:
    """Requirement 62: reaction medicines given under protocol create a task the prescriber
    must acknowledge, with a note, once; audited."""
    chair.reaction(10, "headache")
    assert not PrescriberTask.objects.exists()  # no medicines, no task
    chair.resume(20, 12)
    reaction = chair.reaction(25, "headache", medicines_given="paracetamol 1 g orally")
    [task] = infusions.open_tasks(users["prescriber"])
    assert (task.kind, task.reaction_id, task.patient_id) == (
        "reaction-medicines",
        reaction.pk,
        chair.order.patient_id,
    )
    assert "paracetamol 1 g orally" in task.message
    with pytest.raises(Forbidden):
        infusions.open_tasks(users["nurse"])
    with pytest.raises(Forbidden):
        infusions.acknowledge_task(users["nurse"], task.pk, "seen", now=chair.now)
    with pytest.raises(InvalidInput):
        infusions.acknowledge_task(users["prescriber"], task.pk, "  ", now=chair.now)
    done = infusions.acknowledge_task(
        users["prescriber"], task.pk, "seen; continue paracetamol as needed", now=chair.now
    )
    assert (done.acknowledged_by_id, done.acknowledged_at) == (users["prescriber"].pk, chair.now)
    assert audit_count("acknowledge") == 1
    with pytest.raises(Conflict):
        infusions.acknowledge_task(users["prescriber"], task.pk, "again", now=chair.now)
    assert infusions.open_tasks(users["prescriber"]) == []
    state = infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.now)
    assert [(t.id, t.acknowledged_at) for t in state.tasks] == [(task.pk, chair.now)]


def test_a_voided_reaction_does_not_count(chair: Chair) -> None:
    """Requirements 62 with 11-13: a reaction entered in error is not the day's first."""
    chair.up(30, 51)
    first = chair.reaction(40)
    corrections.void(chair.users["nurse"], "reaction", first.pk, "another patient", now=chair.now)
    session = chair.session()
    assert infusions.last_tolerated_rate(session) is None
    assert (
        infusions.reaction_advice(session, ReactionSeverity.mild).action.value != "stop-no-restart"
    )
