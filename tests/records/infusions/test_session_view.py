"""At the chair, the typed session view the run sheet, the chairs board and the API read
(``infusions.session_state``: the state, the version and the rates allowed now)."""

from __future__ import annotations

from at_the_chair import Chair

from ivig.records.models import Order
from ivig.records.services import infusions


def test_the_session_state_says_what_is_allowed(chair: Chair) -> None:
    """The run sheet's hints: the state, the session version, the label maximum and the plan's
    ceiling, from when the rate may increase."""
    state = infusions.session_state(Order.objects.get(pk=chair.order.pk), now=chair.now)
    assert state.state == "running"
    assert state.version == chair.version()
    assert (state.label_max_ml_per_h, state.ceiling_ml_per_h) == (408, 408)
    assert state.restart_max_ml_per_h is None
    assert state.may_increase is not None
    assert state.may_increase.since == chair.at(30)  # the whole step (issue 14 item 7)
    assert state.may_increase.vitals_within_minutes == 15
