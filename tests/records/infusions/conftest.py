"""The ``chair`` fixture: the ``dispensed`` order started 5 hours before ``chair_now``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from at_the_chair import Chair

from ivig.records.models import Order


@pytest.fixture
def chair(
    users: dict[str, Any],
    dispensed: Order,
    start_chair: Callable[..., Any],
    chair_now: dt.datetime,
) -> Chair:
    """The ``dispensed`` order's infusion, checked and started 5 hours before ``chair_now``."""
    start = chair_now - dt.timedelta(hours=5)
    start_chair(dispensed, start)
    return Chair(users, dispensed, start, chair_now)
