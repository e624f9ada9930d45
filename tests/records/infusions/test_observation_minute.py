"""The observation closes at the minute the run sheet shows (issue 16 item 18): the time is
rounded up to the whole minute, so the minute shown is never earlier than allowed and an entry
at that minute is accepted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from at_the_chair import Chair
from django.utils import timezone

from ivig.errors import Conflict
from ivig.records.models import Order
from ivig.records.services import infusions
from ivig.records.services.runsheet.sheet import sheet


def _close(chair: Chair, at: dt.datetime) -> Any:
    version = Order.objects.get(pk=chair.order.pk).version
    return infusions.finish_observation(
        chair.users["nurse"], chair.order.pk, version, at, "well; cannula out", now=chair.now
    )


def test_an_entry_at_the_minute_shown_is_accepted(chair: Chair) -> None:
    """Ended 40 seconds into a minute: the observation runs to 40 seconds into a later minute;
    the sheet and the refusal say the next whole minute, and that minute is accepted."""
    ended = chair.at(200) + dt.timedelta(seconds=40)
    session = infusions.end_infusion(
        chair.users["nurse"],
        chair.order.pk,
        ended,
        short_confirmed=True,
        short_reason="stopped early for this test",
        now=chair.now,
    )
    minutes = session.observation_minutes
    due = ended + dt.timedelta(minutes=minutes)
    shown = due.replace(second=0) + dt.timedelta(minutes=1)
    context = sheet(Order.objects.get(pk=chair.order.pk), chair.now)
    assert context["observe_until"] == shown
    with pytest.raises(Conflict) as caught:
        _close(chair, shown - dt.timedelta(seconds=30))
    assert f"it can close at {timezone.localtime(shown):%H:%M}" in caught.value.message
    assert _close(chair, shown).state == "closed"
