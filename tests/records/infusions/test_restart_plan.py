"""After a reaction the sheet follows the pump log, not the plan (issue 16 item 5), and the
restart needs vital signs after the reaction and the symptoms resolved, or a reason (item 7).

The ``chair`` order: 850 mL at 25.5 mL/h (30 minutes), then 51 mL/h..., started at 13:00."""

from __future__ import annotations

import datetime as dt

import pytest
from at_the_chair import Chair

from ivig.errors import Conflict
from ivig.records.models import Order
from ivig.records.services import infusions
from ivig.records.services.infusions import SessionView


def _state(chair: Chair, minute: float) -> SessionView:
    return infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.at(minute))


def _reacted(chair: Chair) -> None:
    """51 mL/h from minute 30, a mild reaction at 35: paused; 25.5 mL/h the last tolerated."""
    chair.up(30, 51)
    chair.reaction(35)


def test_a_restart_needs_vitals_after_the_reaction_and_the_symptoms_resolved(
    chair: Chair,
) -> None:
    _reacted(chair)
    with pytest.raises(Conflict, match="vital signs taken after the reaction at 13:35") as e:
        chair.resume(50, 25.5, symptoms_resolved=True)  # the vitals at 30 are before it
    assert e.value.field == "vitals"
    chair.vitals(45)
    with pytest.raises(Conflict, match="symptoms have resolved") as e:
        chair.resume(50, 25.5, symptoms_resolved=False)
    assert e.value.field == "symptoms_resolved"
    assert chair.session().state == "paused"
    row = chair.resume(50, 25.5, symptoms_resolved=True)
    assert row.note == "symptoms resolved; vital signs at 13:45"
    assert chair.session().state == "running"


def test_a_reason_lets_a_restart_go_ahead_without_them(chair: Chair) -> None:
    _reacted(chair)
    row = chair.resume(50, 25.5, reason="prescriber at the chair: restart now")
    assert row.note == (
        "restarted without vital signs after the reaction and symptoms resolved: "
        "prescriber at the chair: restart now"
    )


def test_on_hold_the_sheet_has_no_end_and_no_checkpoint_after_the_reaction(
    chair: Chair,
) -> None:
    _reacted(chair)
    state = _state(chair, 40)
    assert state.pump is not None
    assert state.pump.on_hold_since == chair.at(35)
    assert state.pump.expected_end is None
    assert (state.pump.reaction_at, state.pump.reaction_severity) == (chair.at(35), "mild")
    assert state.pump.given_ml == 17.0  # 12.75 + 51 mL/h for 5 minutes
    assert max(c.minute for c in state.checkpoints) < 35


def test_after_a_restart_at_the_tolerated_rate_the_end_and_checkpoints_follow_the_pump(
    chair: Chair,
) -> None:
    """Restarted at 25.5 mL/h at minute 50 with 17 mL given: 833 mL remain, 1960 minutes at
    that rate; the expected end is the restart + 833 / 25.5 h; the checkpoints after the
    restart are the protocol's at one rate (at the restart, 15 minutes after, hourly, the end,
    the observation), none "before rate increase"."""
    _reacted(chair)
    chair.resume(50, 25.5)
    state = _state(chair, 60)
    pump = state.pump
    assert pump is not None
    assert (pump.restarted_at, pump.restarted_ml_per_h) == (chair.at(50), 25.5)
    assert pump.on_hold_since is None
    assert pump.remaining_ml == pytest.approx(850 - 17.0 - 25.5 * 10 / 60, abs=0.05)
    assert pump.expected_end == chair.at(50) + dt.timedelta(minutes=833 / 25.5 * 60)
    after = [c for c in state.checkpoints if c.minute >= 35]
    assert after[0].minute == 50
    assert after[0].reason == "baseline: restart at 25.5 mL/h after the reaction"
    assert after[0].status == "done"  # the vital signs the restart needed
    assert after[1].minute == 65
    assert "before rate increase" not in {c.reason for c in after}
    end = 50 + 833 / 25.5 * 60
    assert [c.minute for c in after if c.reason == "end of infusion"] == [round(end, 1)]
    # a lower rate later moves the end again, from the pump log
    chair.rate(70, 20.5)
    pump = _state(chair, 75).pump
    assert pump is not None
    given_at_70 = 17.0 + 25.5 * 20 / 60
    left = 850 - given_at_70
    assert pump.expected_end == chair.at(70) + dt.timedelta(minutes=left / 20.5 * 60)


def test_without_a_reaction_the_end_is_the_plans(chair: Chair) -> None:
    state = _state(chair, 10)
    assert state.pump is not None
    steps = infusions.steps_of(Order.objects.get(pk=chair.order.pk))
    assert state.pump.expected_end == chair.at(steps[-1].end_min)
    assert state.pump.reaction_at is None
