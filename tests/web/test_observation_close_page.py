"""The run sheet's observation (issue 16 item 18): 'it can close at' shows the minute rounded
up, and closing at that minute, as the nurse types it, is accepted."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.utils import timezone

from ivig.records.models import Order
from ivig.records.services import infusions


def test_the_observation_closes_at_the_minute_the_sheet_shows(
    chair_clock: dt.datetime,
    client_for: Callable[[str | None], Client],
    users: dict[str, Any],
    dispensed: Order,
    start_chair: Callable[..., Any],
) -> None:
    now = timezone.now()
    start_chair(dispensed, now - dt.timedelta(hours=3), now=now)
    # ended 70 minutes ago plus 40 seconds: a first infusion is observed 60 minutes, so the
    # observation runs to 40 seconds into a minute, 10 minutes ago; the sheet says the next one
    ended = (now - dt.timedelta(minutes=70)).replace(second=40, microsecond=0)
    infusions.end_infusion(
        users["nurse"],
        dispensed.pk,
        ended,
        short_confirmed=True,
        short_reason="stopped early for this test",
        now=now,
    )
    shown = (ended + dt.timedelta(minutes=61)).replace(second=0)
    nurse = client_for("nurse")
    html = nurse.get(f"/orders/{dispensed.pk}/runsheet/").content.decode()
    said = re.search(r"it can close at <strong>(\d\d:\d\d)</strong>", html)
    assert said is not None
    assert said.group(1) == f"{timezone.localtime(shown):%H:%M}"
    typed = timezone.localtime(shown).strftime("%Y-%m-%dT%H:%M")  # as the nurse types it
    version = Order.objects.get(pk=dispensed.pk).version
    page = nurse.post(
        f"/orders/{dispensed.pk}/runsheet/observation/",
        {"at": typed, "notes": "well", "version": version},
        follow=True,
    )
    assert "Observation closed" in page.content.decode()
    assert Order.objects.get(pk=dispensed.pk).status == "completed"
